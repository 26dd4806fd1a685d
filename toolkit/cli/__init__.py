"""Command line interface (typer only): parse arguments, call the library, choose a reporter."""
