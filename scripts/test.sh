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

echo "== nbval: every notebook's committed outputs match a fresh run (notebooks/student/ excluded)"
# One torch thread per kernel: on 2 cores, two kernels with 2 threads each only fight.
OMP_NUM_THREADS=1 $BIN/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg \
    -p no:randomly -n 2 --dist loadscope notebooks/0*.ipynb
