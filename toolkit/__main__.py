"""`python -m toolkit` is the `phonehome` command."""

from toolkit.cli.main import run

run()
