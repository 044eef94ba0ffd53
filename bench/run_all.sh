#!/usr/bin/env bash
# Runs every benchmark in a separate virtualenv (.venv-bench: the project + bench/requirements.txt,
# i.e. the official voucherify SDK, which the project itself never depends on).
# Usage: bash bench/run_all.sh   (PYTHON=python3.12 to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e . -r bench/requirements.txt \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

status=0
for script in client_overhead import_time keepalive; do
    echo "== bench/$script.py"
    "$VENV/bin/python" "bench/$script.py" || status=1
    echo
done
exit $status
