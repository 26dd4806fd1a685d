"""Command line interface (typer only): parse arguments, call the library, choose a reporter."""

from __future__ import annotations

import sys


class CommandImportError(Exception):
    """A command module of this installation cannot be imported (a broken installation, exit code 2)."""


def run() -> None:
    """Console-script entry point (`phonehome`). `phonehome --version` answers before typer is even imported."""
    if sys.argv[1:] == ["--version"]:
        from toolkit import __version__

        print(f"phonehome {__version__}")
        return
    try:
        from toolkit.cli.main import run as main
    except CommandImportError as exc:  # never a command silently missing from --help
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    main()
