"""What adding django_voucherify costs a Django project at start-up (admin + DRF), and the
client's first use.

Each variant runs in a fresh interpreter that measures itself from before ``import django`` to
after its URLconf is loaded (``get_resolver().url_patterns``: what the first request triggers),
in CPU time (``time.process_time``, steadier than wall time on a shared machine; wall time is
printed too). Variants are interleaved round by round, warmed up (compiled bytecode, OS file
cache) and summarised by their medians:

* ``project``  admin, auth, contenttypes, sessions, messages and ``rest_framework`` installed,
  PostgreSQL configured, ``urlpatterns = [path("admin/", admin.site.urls)]``;
* ``app``      the same + ``django_voucherify`` installed (its ModelAdmins registered) and its DRF
  URLs included (``include("django_voucherify.rest.urls")``; they route to lazy views, so DRF's
  ``views`` module is imported by the first API request, not here);
* ``drf``      informative: ``project`` + one DRF ``APIView`` of the project's own in its URLs, i.e.
  what DRF itself costs once a project routes any API view (``rest_framework.views`` imports
  ``rest_framework.compat``, which probes requests, yaml, markdown and pygments);
* ``client``   ``app`` + the client's first use (``from django_voucherify import client;
  client.vouchers``: imports requests and the service layer);
* ``sdk``      informative: ``project`` + ``import voucherify`` (the official SDK, if installed).

Targets: app - project < 100 ms of CPU; client - project < 150 ms.
``--quick`` runs each variant once (plus the SDK's warm-up) and checks what is measured (the
app's ModelAdmins are registered, its URLs resolve, start-up imported neither the client nor
Celery nor drf-spectacular nor DRF's views); it never judges timings.

``--before DIR`` adds the ``app`` variant run on another checkout of the project (e.g.
``git worktree add /tmp/before <commit>``), interleaved with the others: before/after in one run.

Usage: ``python bench/import_time.py [--repeat 9] [--quick] [--before DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

APP_TARGET_MS = 100.0
CLIENT_TARGET_MS = 150.0
ROOT = Path(__file__).resolve().parents[1]

#: Modules the app must not import at start-up (only on first use of the client or a task).
LAZY_MODULES = ("requests", "urllib3", "celery", "kombu", "drf_spectacular")
CLIENT_MODULES = ("django_voucherify.api.client", "django_voucherify.api.transport")
#: Loaded on the first request to the app's API, not at start-up (its URLs route to lazy views).
API_MODULES = ("rest_framework.views", "django_voucherify.rest.views")

URLCONFS = {
    "bench_urls_project": """
from django.contrib import admin
from django.urls import path
urlpatterns = [path("admin/", admin.site.urls)]
""",
    "bench_urls_app": """
from django.contrib import admin
from django.urls import include, path
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/vouchers/", include("django_voucherify.rest.urls")),
]
""",
    "bench_urls_drf": """
from django.contrib import admin
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

class Ping(APIView):
    def get(self, request):
        return Response({"ok": True})

urlpatterns = [path("admin/", admin.site.urls), path("api/ping/", Ping.as_view())]
""",
}

SCRIPT = """
import time
cpu0, wall0 = time.process_time(), time.perf_counter()
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="bench",
    INSTALLED_APPS=[
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "rest_framework"{extra_app}
    ],
    ROOT_URLCONF="{urlconf}",
    DATABASES={{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "bench"}}}},
    TEMPLATES=[{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}}],
    VOUCHERIFY={{"APP_ID": "bench-app-id", "SECRET_KEY": "bench-secret-key"}},
)
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
{payload}
cpu, wall = (time.process_time() - cpu0) * 1000, (time.perf_counter() - wall0) * 1000
import json, sys
from django.contrib import admin
from django.urls import reverse
resolved = not {with_app} or reverse("voucherify_checkout:validate") == "/api/vouchers/validate/"
print(json.dumps({{
    "cpu_ms": cpu, "wall_ms": wall, "resolved": resolved,
    "registered": sorted(m._meta.label for m in admin.site._registry),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in {lazy} or m in {client} or m in {api}),
}}))
"""


def variant(extra_app: bool, urlconf: str, payload: str = "") -> str:
    return SCRIPT.format(
        extra_app=', "django_voucherify"' if extra_app else "",
        with_app=extra_app,
        urlconf=urlconf,
        payload=payload,
        lazy=LAZY_MODULES,
        client=CLIENT_MODULES,
        api=API_MODULES,
    )


VARIANTS = {
    "project": variant(False, "bench_urls_project"),
    "app": variant(True, "bench_urls_app"),
    "drf": variant(False, "bench_urls_drf"),
    "client": variant(True, "bench_urls_app", "from django_voucherify import client\nclient.vouchers"),
    "sdk": variant(False, "bench_urls_project", "import voucherify"),
}
LABELS = {
    "project": "project: admin + DRF installed, admin URLs",
    "app": "+ django_voucherify (admin, its DRF URLs)",
    "drf": "project + one DRF view of its own",
    "client": "+ django_voucherify, client.vouchers",
    "sdk": "project + import voucherify (SDK)",
    "before": "+ django_voucherify, --before checkout",
}


def child_env(workdir: str, root: Path = ROOT) -> dict[str, str]:
    """The children's environment: the URLconfs and the project importable, and bytecode caching
    on (a deployed server runs compiled ``.pyc`` files; with ``PYTHONDONTWRITEBYTECODE`` set, as
    on some CI machines, every run would compile the app's modules from source)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([workdir, str(root)])
    return env


def run(code: str, workdir: str, root: Path = ROOT) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
        env=child_env(workdir, root),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def check(results: dict[str, dict]) -> list[str]:
    """What makes the measurement wrong (not slow): each variant loaded what it claims to."""
    problems = []
    project, app = results["project"], results["app"]
    ours = [label for label in app["registered"] if label.startswith("django_voucherify.")]
    if not ours:
        problems.append("the app variant registered no ModelAdmin of django_voucherify")
    if any(label.startswith("django_voucherify.") for label in project["registered"]):
        problems.append("the project variant has django_voucherify's admin")
    if not app["resolved"]:
        problems.append("the app variant's DRF URLs did not resolve")
    leaked = [
        m
        for m in app["modules"]
        if m in CLIENT_MODULES or m in API_MODULES or m.split(".")[0] in ("celery", "drf_spectacular")
    ]
    if leaked:
        problems.append(f"start-up with the app imported {leaked}")
    if "rest_framework.views" not in results["drf"]["modules"]:
        problems.append("the drf variant did not import DRF's views")
    if "django_voucherify.api.client" not in results["client"]["modules"]:
        problems.append("the client variant did not import the client")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="one run each, checks only, no targets")
    parser.add_argument("--before", type=Path, help="another checkout: its app variant joins the rounds")
    args = parser.parse_args()
    repeat = 0 if args.quick else args.repeat

    with tempfile.TemporaryDirectory() as workdir:
        for name, source in URLCONFS.items():
            Path(workdir, f"{name}.py").write_text(source)
        variants = dict(VARIANTS)
        roots = dict.fromkeys(variants, ROOT)
        if args.before:
            variants["before"], roots["before"] = VARIANTS["app"], args.before.resolve()
        try:
            run(variants["sdk"], workdir)  # also the warm-up that writes .pyc files
        except subprocess.CalledProcessError as exc:
            print(f"official SDK skipped: {exc.stderr.strip().splitlines()[-1]}")
            del variants["sdk"]
        last = {name: run(code, workdir, roots[name]) for name, code in variants.items()}  # warm-up
        problems = check(last)
        # --quick: the warm-up run is the only sample (checks, not timings, are its point).
        samples = {name: [result["cpu_ms"]] if args.quick else [] for name, result in last.items()}
        walls = {name: [result["wall_ms"]] if args.quick else [] for name, result in last.items()}
        names = list(variants)
        for round_number in range(repeat):
            shift = round_number % len(names)  # rotate who goes first
            for name in names[shift:] + names[:shift]:
                result = run(variants[name], workdir, roots[name])
                samples[name].append(result["cpu_ms"])
                walls[name].append(result["wall_ms"])

    median = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"start-up CPU (wall), fresh interpreter each, median of {max(repeat, 1)} (min-max) ms; "
        f"Python {sys.version.split()[0]}"
    )
    for name, values in samples.items():
        print(
            f"  {LABELS[name]:<44} {median[name]:7.1f} ms  ({min(values):.1f}-{max(values):.1f})"
            f"  wall {statistics.median(walls[name]):7.1f} ms"
        )
    added = median["app"] - median["project"]
    client_added = median["client"] - median["project"]
    app_ok, client_ok = added < APP_TARGET_MS, client_added < CLIENT_TARGET_MS
    print(
        f"  the app adds {added:.1f} ms of CPU to start-up (target < {APP_TARGET_MS:.0f} ms)  "
        f"{'OK' if app_ok else 'MISSED'}"
    )
    print(
        f"  (a project routing one DRF view of its own pays {median['drf'] - median['project']:.1f} ms "
        "for DRF's views, which the app's URLs no longer import at start-up)"
    )
    print(
        f"  the client's first use: {client_added:.1f} ms over the project "
        f"(target < {CLIENT_TARGET_MS:.0f} ms)  {'OK' if client_ok else 'MISSED'}"
    )
    if "before" in median:
        print(
            f"  the --before checkout's app adds {median['before'] - median['project']:.1f} ms; "
            f"app now/before = {median['app'] / median['before']:.3f} of the whole start-up"
        )
    if "sdk" in median:
        print(f"  the official SDK's import: {median['sdk'] - median['project']:.1f} ms over the project")
    loaded = sorted({module.split(".")[0] for module in last["app"]["modules"]})
    print(f"  of {', '.join(LAZY_MODULES)}, start-up with the app imported: {', '.join(loaded) or 'none'}")
    for problem in problems:
        print(f"BROKEN: {problem}")
    if problems:
        return 2
    if args.quick:
        return 0
    return 0 if app_ok and client_ok else 1


if __name__ == "__main__":
    sys.exit(main())
