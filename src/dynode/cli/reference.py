"""The command reference as Markdown, generated from the command-line app itself (the documentation
site builds its "Command reference" page from it, so the page cannot drift from the program)."""

from __future__ import annotations

import typer


def command_tree():
    """The click group behind ``dynode`` (every command registered)."""
    from dynode.cli import app
    return typer.main.get_command(app)


def _argument(param) -> bool:
    return param.param_type_name == "argument"


def _default(param) -> str:
    if param.default is None:
        return ""
    if getattr(param, "is_flag", False) and param.secondary_opts:
        return f"`{param.opts[0] if param.default else param.secondary_opts[0]}`"
    if param.required:
        return "required"
    return "" if param.default in ((), []) else f"`{param.default}`"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _names(param) -> str:
    if _argument(param):
        return f"`{param.name.upper()}`"
    names = [*param.opts, *param.secondary_opts]
    return ", ".join(f"`{n}`" for n in names)


def _section(name: str, command, level: int) -> list[str]:
    lines = [f"{'#' * level} `dynode {name}`", "", _cell(command.help), ""]
    params = [p for p in command.params if p.name != "help" and not getattr(p, "hidden", False)]
    if params:
        lines += ["| option | default | what it does |", "|---|---|---|"]
        lines += [f"| {_names(p)} | {_default(p)} | {_cell(getattr(p, 'help', None))} |" for p in params]
        lines.append("")
    return lines


def markdown() -> str:
    """Every command and subcommand of ``dynode`` with its summary and a table of its arguments and options
    (name, default, help), in the order ``dynode --help`` lists them."""
    root = command_tree()
    lines = ["# Command reference", "",
             "Generated from the program when the site is built: every command, argument and option with its "
             "default, as `dynode COMMAND --help` prints them. The [video commands](video.md), "
             "[batch runs](batch.md) and [models and training](models.md) pages explain them with examples.", ""]
    ctx = typer.Context(root)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        lines += _section(name, command, 2)
        if hasattr(command, "list_commands"):
            for sub in command.list_commands(ctx):
                lines += _section(f"{name} {sub}", command.get_command(ctx, sub), 3)
    return "\n".join(lines) + "\n"


def options() -> dict[str, dict]:
    """Each command's parameters by every name they answer to ("--steps", "-s", "VIDEO"), keyed by the
    command as typed ("invert", "directions fit")."""
    root, out = command_tree(), {}
    ctx = typer.Context(root)

    def add(name: str, command) -> None:
        out[name] = {n: p for p in command.params for n in
                     ([p.name.upper()] if _argument(p) else [*p.opts, *p.secondary_opts])}
        if hasattr(command, "list_commands"):
            for sub in command.list_commands(ctx):
                add(f"{name} {sub}", command.get_command(ctx, sub))
    for name in root.list_commands(ctx):
        add(name, root.get_command(ctx, name))
    return out
