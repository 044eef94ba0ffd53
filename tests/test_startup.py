"""Start-up stays light: installing the app, autodiscovering its admin and loading its URLs imports
neither the client (and with it requests/urllib3) nor Celery nor drf-spectacular, nor DRF's
views (the checkout URLs route to :class:`~django_voucherify.rest.lazy.LazyView` callbacks).

Each case runs a fresh interpreter (an import made by another test would hide one made at
start-up). A finder on ``sys.meta_path`` records, for each watched module, which module's code
imported it first: DRF itself probes requests (``rest_framework.compat``: ``try: import
requests``), which is DRF's cost in any project that routes a DRF view, so what must not happen
is one of the app's own modules being that importer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("requests", "urllib3", "celery", "kombu", "drf_spectacular")
CLIENT_MODULES = (
    "django_voucherify.api.client",
    "django_voucherify.api.transport",
    "django_voucherify.api.resources",
    "django_voucherify.api.redaction",
    "django_voucherify.api.pooling",
    "django_voucherify.admin.voucher_tasks",
)
#: Imported on the first request to the checkout API (or by a schema generator), not at start-up:
#: DRF's views pull in its schemas (admindocs, docutils) and compat (requests, yaml, markdown...).
API_MODULES = ("django_voucherify.rest.views", "django_voucherify.rest.errors", "rest_framework.views")
#: Services the admin imports inside its actions only.
SERVICE_MODULES = (
    "django_voucherify.webhooks.events",
    "django_voucherify.checkout",
    "django_voucherify.vouchers",
)

SCRIPT = """
import json, sys

WATCHED = {watched!r}
importers = {{}}


class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED and name not in importers:
            frame = sys._getframe(1)
            while frame and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
                frame = frame.f_back
            importers[name] = frame.f_globals.get("__name__", "?") if frame else "?"
        return None


sys.meta_path.insert(0, Watch())
import django
from django.conf import settings

settings.configure(
    SECRET_KEY="startup-test",
    INSTALLED_APPS=[
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "rest_framework", "django_voucherify",
    ],
    ROOT_URLCONF="startup_urls",
    DATABASES={{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "startup"}}}},
    TEMPLATES=[{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}}],
    VOUCHERIFY={{"APP_ID": "startup-app-id", "SECRET_KEY": "startup-secret-key"}},
)
django.setup()
from django.contrib import admin
from django.urls import get_resolver

get_resolver().url_patterns  # what the first request triggers
{after}
print(json.dumps({{
    "importers": importers,
    "extra": globals().get("extra"),
    "modules": sorted(m for m in sys.modules if m.startswith(("django_voucherify", "rest_framework"))),
    "watched": sorted(m for m in sys.modules if m.split(".")[0] in WATCHED),
    "registered": sorted(m._meta.label for m in admin.site._registry),
}}))
"""

URLS = {
    "admin": """
from django.contrib import admin
from django.urls import path
urlpatterns = [path("admin/", admin.site.urls)]
""",
    "admin_and_api": """
from django.contrib import admin
from django.urls import include, path
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/vouchers/", include("django_voucherify.rest.urls")),
]
""",
}


def start(tmp_path: Path, urls: str, after: str = "") -> dict:
    (tmp_path / "startup_urls.py").write_text(URLS[urls])
    code = SCRIPT.format(watched=WATCHED, after=textwrap.dedent(after))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_admin_start_up_imports_no_client_no_requests_no_celery(tmp_path: Path) -> None:
    seen = start(tmp_path, "admin")
    assert "django_voucherify.Voucher" in seen["registered"]  # the admin was really loaded
    assert "django_voucherify.WebhookEvent" in seen["registered"]
    assert seen["watched"] == [], seen["importers"]
    assert not set(CLIENT_MODULES) & set(seen["modules"])
    assert not set(SERVICE_MODULES) & set(seen["modules"])


def test_start_up_with_the_api_urls_imports_neither_drf_views_nor_requests(tmp_path: Path) -> None:
    seen = start(tmp_path, "admin_and_api")
    assert "django_voucherify.rest.urls" in seen["modules"]  # the app's API URLs were loaded
    assert not set(API_MODULES) & set(seen["modules"])
    assert seen["watched"] == [], seen["importers"]  # not even DRF's compat probing requests
    assert not set(CLIENT_MODULES) & set(seen["modules"])


def test_reversing_urls_does_not_load_the_api_views(tmp_path: Path) -> None:
    """Every admin page reverses URLs: Django's ``reverse()`` reads each pattern's
    ``lookup_str``, which the lazy callbacks answer without importing their view."""
    after = """
    from django.urls import reverse
    extra = [reverse("voucherify_checkout:validate"), reverse("admin:index"),
             reverse("voucherify_checkout:rollback", args=[7])]
    """
    seen = start(tmp_path, "admin_and_api", after)
    assert seen["extra"] == ["/api/vouchers/validate/", "/admin/", "/api/vouchers/redemptions/7/rollback/"]
    assert not set(API_MODULES) & set(seen["modules"])


def test_a_request_to_the_api_loads_its_view(tmp_path: Path) -> None:
    after = """
    from django.test import RequestFactory
    from django.urls import resolve
    match = resolve("/api/vouchers/validate/")
    response = match.func(RequestFactory().get("/api/vouchers/validate/")).render()
    missing = resolve("/api/vouchers/validate/nothing")
    extra = [match._func_path, response.status_code, response["Content-Type"].split(";")[0]]
    extra.append(missing.func(None).status_code)
    """
    seen = start(tmp_path, "admin_and_api", after)
    assert seen["extra"] == ["django_voucherify.rest.views.ValidateView", 405, "application/json", 404]
    assert {"django_voucherify.rest.views", "rest_framework.views"} <= set(seen["modules"])


def test_schema_generation_sees_the_real_views_in_a_fresh_process(tmp_path: Path) -> None:
    """drf-spectacular enumerates the URLconf: the lazy callbacks give it the view classes."""
    after = """
    from django.test import override_settings
    from drf_spectacular.generators import SchemaGenerator
    schema_class = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    with override_settings(REST_FRAMEWORK=schema_class):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    extra = {path: sorted(item) for path, item in schema["paths"].items()}
    """
    seen = start(tmp_path, "admin_and_api", after)
    assert seen["extra"] == {
        "/api/vouchers/validate/": ["post"],
        "/api/vouchers/offers/": ["post"],
        "/api/vouchers/redeem/": ["post"],
        "/api/vouchers/redemptions/{id}/rollback/": ["post"],  # DRF names a pk "id"
        "/api/vouchers/publications/": ["post"],
    }


@pytest.mark.parametrize(
    ("after", "loaded"),
    [
        ("from django_voucherify import client\nclient.vouchers", "django_voucherify.api.client"),
        ("from django_voucherify.api import VoucherifyClient", "django_voucherify.api.client"),
        ("from django_voucherify.rest.views import ValidateView\nValidateView.schema", "drf_spectacular"),
    ],
)
def test_what_is_deferred_still_loads_on_first_use(tmp_path: Path, after: str, loaded: str) -> None:
    """The watch itself works: first use imports what start-up did not."""
    seen = start(tmp_path, "admin_and_api", after)
    assert loaded in seen["modules"] or loaded in seen["importers"]
