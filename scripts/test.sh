#!/usr/bin/env bash
# The whole test suite, as CI runs it: set up what the tests need, then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "== ruff"
ruff check toolkit tests bench
echo "== mypy"
mypy toolkit
echo "== pytest"
python3 -m pytest -q "$@"
