"""`phonehome doctor`: what this machine has, for the core and for optional features."""

from __future__ import annotations

import typer

from toolkit.cli.output import EXIT_CLEAN, EXIT_ERROR


def doctor() -> None:
    """Show versions, the rule data and which optional tools are present. Exit 0 when the core works, else 2."""
    from rich.console import Console
    from rich.table import Table

    from toolkit.doctor import run_checks

    checks = run_checks()
    table = Table(title="phonehome doctor")
    for column in ("check", "status", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        status = "ok" if check.ok else ("MISSING" if check.required else "optional, missing")
        table.add_row(check.name, status, check.detail)
    Console().print(table)
    raise typer.Exit(EXIT_CLEAN if all(c.ok for c in checks if c.required) else EXIT_ERROR)
