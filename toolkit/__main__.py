"""`python -m toolkit` is the `phonehome` command."""

from toolkit.cli import run

run()
