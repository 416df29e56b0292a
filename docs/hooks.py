"""mkdocs hook: the command reference page, generated from the program (dynode.cli.reference)."""

from mkdocs.structure.files import File


def on_files(files, config):
    from dynode.cli.reference import markdown
    files.append(File.generated(config, "commands/reference.md", content=markdown()))
    return files
