"""What importing the client costs on top of Django, next to the official SDK's import.

Each variant runs in a fresh interpreter that times its own imports with ``perf_counter``
(interpreter start-up excluded); variants are interleaved, repeated, and the median is kept:

* ``django``   ``import django; django.setup()`` with minimal settings;
* ``client``   the same with ``django_voucherify`` installed, then
  ``from django_voucherify import client; client.vouchers`` (builds the lazy shared client,
  which imports requests and the service layer);
* ``sdk``      the same ``django`` baseline, then ``import voucherify`` (the official SDK).

Target: client - django < 150 ms. Usage: ``python bench/import_time.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TARGET_MS = 150.0

SETUP = """
import time
t0 = time.perf_counter()
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"{extra_app}],
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}},
    VOUCHERIFY={{"APP_ID": "bench-app-id", "SECRET_KEY": "bench-secret-key"}},
)
django.setup()
{payload}
print((time.perf_counter() - t0) * 1000)
"""

VARIANTS = {
    "django": SETUP.format(extra_app="", payload=""),
    "client": SETUP.format(
        extra_app=', "django_voucherify"', payload="from django_voucherify import client\nclient.vouchers"
    ),
    "sdk": SETUP.format(extra_app="", payload="import voucherify"),
}


def run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    variants = dict(VARIANTS)
    try:
        run(variants["sdk"])  # also the warm-up that writes .pyc files
    except subprocess.CalledProcessError as exc:
        print(f"official SDK skipped: {exc.stderr.strip().splitlines()[-1]}")
        del variants["sdk"]
    for code in variants.values():
        run(code)  # warm-up: compiled bytecode and the OS file cache, as on a running server

    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, code in variants.items():
            samples[name].append(run(code))
    median = {name: statistics.median(values) for name, values in samples.items()}

    print(
        f"import time, fresh interpreter each, median of {args.repeat} (min-max) ms; "
        f"Python {sys.version.split()[0]}"
    )
    labels = {
        "django": "django.setup()",
        "client": "+ django_voucherify app, client.vouchers",
        "sdk": "+ import voucherify (official SDK)",
    }
    for name, values in samples.items():
        print(f"  {labels[name]:<42} {median[name]:8.1f} ms  ({min(values):.1f}-{max(values):.1f})")
    added = median["client"] - median["django"]
    print(
        f"  django_voucherify client adds {added:.1f} ms on top of Django (target < {TARGET_MS:.0f} ms)"
        f"  {'OK' if added < TARGET_MS else 'MISSED'}"
    )
    if "sdk" in median:
        print(f"  official SDK adds {median['sdk'] - median['django']:.1f} ms on top of Django")
    return 0 if added < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
