"""The documentation says what the program does: the command reference covers every command and option,
a default named in the prose is the program's, and results pages and docstrings hold results, not history."""

import ast
import re
from pathlib import Path

import pytest

from dynode.cli.reference import markdown, options

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# "`--opt value` (the default", "`--opt value`, the default", "`--opt value` (default", "`--opt value` by default"
NAMED_DEFAULT = re.compile(r"`(--[a-z][\w-]*)[ =]([^`\s]+)`(?:,? \(?(?:the )?default\b| by default\b)")
HISTORY = re.compile(r"\b(sessions?|commits?|re-?runs?|these machines|before this|at the time)\b", re.I)
FIGURE = re.compile(r"\d\s?dB\b|\b\d+\.\d+x\b|\bCV \d|bench[-\w]*`*[^.]{0,80}?\d+\.\d+")


def named_defaults(text: str) -> list[tuple[str, str]]:
    """(option, value) for every default the text names in the form the docs use."""
    return [(m.group(1), m.group(2)) for m in NAMED_DEFAULT.finditer(text)]


def wrong_defaults(text: str, known: dict) -> list[str]:
    """The defaults named in ``text`` that no command taking that option has."""
    wrong = []
    for name, value in named_defaults(text):
        defaults = {str(p.default).lower() for command in known.values() for n, p in command.items() if n == name}
        if value.lower() not in defaults:
            wrong.append(f"{name} {value} (the program's: {sorted(defaults) or 'no such option'})")
    return wrong


def test_the_readmes_links_point_at_files_in_the_repository():
    missing = [link for link in re.findall(r"\]\(((?:docs/|LICENSE)[^)#]*)", (ROOT / "README.md").read_text())
               if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_command_reference_covers_every_command_and_option():
    page = markdown()
    for command, params in options().items():
        assert f"## `dynode {command}`" in page, command
        section = page.split(f"## `dynode {command}`")[1].split("\n## ")[0]
        for name in params:
            assert f"`{name}`" in section, (command, name)


def test_a_default_named_in_the_docs_is_the_programs():
    known = options()
    assert wrong_defaults("`--propagation first-frame` (the default) and `--fidelity detail` by default", known) \
        == ["--propagation first-frame (the program's: ['auto'])"]  # the check can fail
    found = {page.relative_to(ROOT): named_defaults(page.read_text()) for page in PAGES}
    assert sum(map(len, found.values())) >= 5, found  # the docs do name defaults in this form
    for page in PAGES:
        assert not wrong_defaults(page.read_text(), known), page


@pytest.mark.parametrize("page", sorted((ROOT / "docs/results").glob("*.md")), ids=lambda p: p.name)
def test_results_pages_are_results_not_history(page):
    text = page.read_text()
    assert not HISTORY.findall(text), [text[max(0, m.start() - 60):m.end() + 20] for m in HISTORY.finditer(text)]
    assert not re.search(r"\b[0-9a-f]{7,40}\b", re.sub(r"`[^`]*`", "", text)), "a commit hash"


def test_docstrings_state_behaviour_not_benchmark_figures():
    found = []
    for path in sorted((ROOT / "src/dynode").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                for rx in (FIGURE, re.compile(r"\b(commits?|re-?runs?)\b", re.I)):
                    found += [f"{path.name}:{getattr(node, 'name', '')}: {m.group(0)!r}" for m in rx.finditer(doc)]
    assert not found, found
