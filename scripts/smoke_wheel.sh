#!/usr/bin/env bash
# Release smoke test: build the sdist and wheel, check them with twine, check the wheel's
# contents, install the wheel WITHOUT dev extras into a fresh virtualenv and, from a minimal
# project outside the repository, run `check`, `migrate`, start the sandbox from the installed
# package and redeem a voucher through it. Used by .ci/run and the GitHub workflow.
# Usage: scripts/smoke_wheel.sh [python]   (the interpreter for the fresh virtualenv)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
python_bin="${1:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-smoke.XXXXXX")"
sandbox_pid=""
cleanup() { [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== build"
builder="${BUILD_PYTHON:-${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}}"
"${builder:-python3}" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"${builder:-python3}" -m twine check --strict "$work"/dist/*
wheel="$(ls "$work"/dist/*.whl)"

echo "== wheel contents"
"${builder:-python3}" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
must = ["django_voucherify/py.typed", "django_voucherify/sandbox/data/voucherify-openapi.json",
        "django_voucherify/migrations/0001_initial.py", "django_voucherify/locale/de/LC_MESSAGES/django.mo"]
missing = [m for m in must if m not in names]
missing += [] if any(n.startswith("django_voucherify/templates/") for n in names) else ["templates"]
stray = [n for n in names if n.split("/")[0] in {"tests", "bench", "example_project", "scripts", "docs"}]
if missing or stray:
    sys.exit(f"wheel: missing {missing}, should not carry {stray[:10]}")
print(f"{len(names)} files: package, templates, migrations, translations, sandbox data, py.typed; nothing else")
PY

echo "== install the wheel (no extras) into a fresh virtualenv"
"$python_bin" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" 2> >(grep -v "is ignored: it is neither" >&2)

echo "== a minimal project outside the repository"
port="$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/site"
cat >"$work/site/settings.py" <<PY
SECRET_KEY = "smoke-test-only"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django_voucherify"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "$work/site/db.sqlite3"}}
USE_TZ = True
VOUCHERIFY = {"APP_ID": "smoke-app", "SECRET_KEY": "smoke-secret", "API_URL": "http://127.0.0.1:$port"}
CELERY_TASK_ALWAYS_EAGER = True
PY
cd "$work/site"
export PYTHONPATH="$work/site" DJANGO_SETTINGS_MODULE=settings
py="$work/venv/bin/python"
"$py" -c "import django_voucherify, sys; assert '$repo' not in django_voucherify.__file__, django_voucherify.__file__"
"$py" -m django check --fail-level WARNING
"$py" -m django migrate --noinput -v 0
"$py" -m django_voucherify.sandbox --port "$port" --app-id smoke-app --app-token smoke-secret --seed \
    2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
"$py" - <<'PY'
import django

django.setup()
from django_voucherify import checkout, client

outcome = checkout.redeem(["WELCOME10"], {"source_id": "smoke-order-1", "amount": 2500})
assert outcome.applied and outcome.totals.discount_amount == 1000, outcome
assert client.vouchers.get("WELCOME10")["redemption"]["redeemed_quantity"] == 1
print(f"redeemed WELCOME10 through the installed sandbox: {outcome.totals}")
PY
echo "== wheel smoke test passed"
