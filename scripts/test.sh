#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to read. Called by `make test`
# (and so by .ci/run) after .venv is set up; fails loudly on anything missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== ruff (lint + format, notebooks included)"
$BIN/ruff check .
$BIN/ruff format --check .

echo "== pytest: unit, conformance, plot, grading tests and nbval over the notebooks"
$BIN/python -m pytest -n 2 --dist loadscope "$@"
