#!/usr/bin/env bash
# Runs every benchmark (bench/*.py not starting with "_").
#
#   bash bench/run_all.sh           full mode: the tables of bench/README.md, in a separate
#                                   virtualenv (.venv-bench: the project + bench/requirements.txt);
#                                   PYTHON=python3.12 picks its interpreter. Slow (minutes to hours).
#   bash bench/run_all.sh --quick   CI mode, in the active virtualenv (the dev extra carries the
#                                   official SDK): tiny sizes, each script checks that it still runs
#                                   and still measures what it says, never its timings.
#
# Exits 1 when any script fails (in full mode: also when one misses its target).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
if [ "${1:-}" = --quick ]; then mode=quick; fi

if [ "$mode" = full ]; then
    VENV=.venv-bench
    if [ ! -x "$VENV/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e . -r bench/requirements.txt \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    python="$VENV/bin/python"
else
    python="${PYTHON:-python}"
fi

status=0
failed=()
for path in bench/[!_]*.py; do
    script="$(basename "$path")"
    echo "== bench/$script ($mode)"
    start=$SECONDS
    if [ "$mode" = quick ]; then
        "$python" "$path" --quick || { status=1; failed+=("$script"); }
    else
        "$python" "$path" || { status=1; failed+=("$script"); }
    fi
    echo "   ($((SECONDS - start)) s)"
done
if [ "$status" != 0 ]; then
    echo "failed: ${failed[*]}" >&2
fi
exit $status
