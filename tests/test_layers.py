"""The code's shape (DESIGN.md): imports go one way, base <- io <- models <- stages <- pipelines <- front
ends, with no circles; the pipelines' records are frozen; no library call changes torch's global state;
functions stay short."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dynode"

# The layer of every top-level module or subpackage; a module may import its own layer or those below.
LAYERS = {
    "errors": 0, "config": 0, "types": 0, "times": 0, "version": 0, "seeding": 0,
    "io": 1,
    "generators": 2, "data": 2,
    # The stages, ordered among themselves: flow and rendering; what builds on flow; the measures; the
    # fitting stages that read the measures; editing, which builds on them all.
    "flow": 3.0, "render": 3.0,
    "align": 3.1, "baselines": 3.1, "detail": 3.1, "choice": 3.2,
    "metrics": 3.2,
    "inversion": 3.3, "dynamics": 3.3,
    "edit": 3.4,
    "pipelines": 4, "plots": 4,
    "cli": 5, "app": 5,
    "": 6,  # the package's own __init__: the public re-exports
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("dynode", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every dynode module ``path`` imports, at the top or inside a function (``from dynode.x import y``
    counts as importing ``dynode.x.y`` where that is a module)."""
    names, modules = set(), _modules()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dynode":
            submodules = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
            names |= submodules if len(submodules) == len(node.names) else submodules | {node.module}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "dynode"}
    return names


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    if top not in LAYERS:
        pytest.fail(f"{module}: no layer given in tests/test_layers.py; add it to LAYERS")
    return LAYERS[top]


def test_no_module_imports_a_layer_above_it():
    upward = [f"{module} ({_layer(module)}) imports {dep} ({_layer(dep)})"
              for module, path in _modules().items() for dep in sorted(_imports(path)) if _layer(dep) > _layer(module)]
    assert not upward, "\n".join(upward)


def test_there_are_no_import_circles():
    modules = _modules()
    graph = {m: {d for d in _imports(p) if d in modules and d != m} for m, p in modules.items()}
    # A package's __init__ re-exporting its own modules is not a circle with them.
    circles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                circles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"
    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "\n".join(circles)


def _functions():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(PACKAGE), node


def test_records_in_the_pipelines_are_frozen():
    loose = []
    for path in (PACKAGE / "pipelines").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            for d in getattr(node, "decorator_list", []) if isinstance(node, ast.ClassDef) else []:
                call = d if isinstance(d, ast.Call) else None
                name = (call.func if call else d)
                if getattr(name, "id", None) == "dataclass" and not any(
                        k.arg == "frozen" and getattr(k.value, "value", False) for k in (call.keywords if call else [])):
                    loose.append(f"{path.name}: {node.name}")
    assert not loose, loose


def test_no_library_call_sets_torchs_global_seed_or_threads():
    # The CLI may; dynode.seeding seeds only inside torch.random.fork_rng, which restores the caller's state.
    found = [f"{path}:{node.lineno}" for path in PACKAGE.rglob("*.py")
             if path.relative_to(PACKAGE).parts[0] not in ("cli", "seeding.py")
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr in ("manual_seed", "set_num_threads")
             and getattr(node.value, "id", None) == "torch"]
    assert not found, found


def test_no_function_is_over_80_lines():
    long = [f"{path}: {node.name} ({node.end_lineno - node.lineno + 1} lines)" for path, node in _functions()
            if node.end_lineno - node.lineno + 1 > 80]
    assert not long, "\n".join(long)
