#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to read. Called by `make test`
# (and so by .ci/run) after .venv is set up; fails loudly on anything missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== chromium (Debian's) for the browser tests in tests/e2e"
if ! command -v chromium >/dev/null; then
    SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
    $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
    command -v chromium >/dev/null || { echo "chromium could not be installed: the browser tests need it" >&2; exit 1; }
fi

echo "== ruff (lint + format, notebooks included)"
$BIN/ruff check .
$BIN/ruff format --check .

echo "== pytest: unit, conformance, plot and grading tests (tests/e2e runs last, on its own)"
$BIN/python -m pytest -n 2 --dist loadgroup --ignore=tests/e2e "$@"

# One torch thread per kernel: on 2 cores, two kernels with 2 threads each only fight.
# Every notebook runs twice, each time in its own kernel: on this CPU's kernels (or the
# ATEN_CPU_CAPABILITY the caller set) and on PyTorch's default kernels, which compute like
# another CPU. Both must pass. One session for both: the two workers stay busy.
echo "== notebooks: nbval re-runs notebooks/[0-9][0-9]_*.ipynb on two CPU settings; cells tagged 'approx' within a tolerance; then each lesson's claims"
OMP_NUM_THREADS=1 $BIN/python -m pytest --nbval-approx --nbval-cpus inherited,default --nbval-current-env \
    --nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:randomly -n 2 --dist loadscope notebooks/[0-9][0-9]_*.ipynb

echo "== browser: every notebook run through JupyterLab's UI in headless Chromium (tests/e2e)"
OMP_NUM_THREADS=1 $BIN/python -m pytest -p no:randomly tests/e2e
