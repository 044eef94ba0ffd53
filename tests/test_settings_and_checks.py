"""settings.VOUCHERIFY validation: system checks with ids and hints, and the lazy client."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

import django_voucherify
from django_voucherify.api import VoucherifyClient
from django_voucherify.checks import check_voucherify_settings
from django_voucherify.conf import DEFAULT_API_URL, get_settings

GOOD = {"APP_ID": "id", "SECRET_KEY": "key"}


def ids(messages):
    return sorted(m.id for m in messages)


def test_valid_settings_have_no_problems():
    with override_settings(VOUCHERIFY=GOOD):
        assert check_voucherify_settings() == []
        conf = get_settings()
    assert conf.api_url == DEFAULT_API_URL
    assert "key" not in repr(conf)


@pytest.mark.parametrize(
    ("settings_dict", "expected_ids", "hint_fragment"),
    [
        ({}, ["voucherify.E001", "voucherify.E002"], "VOUCHERIFY_APP_ID"),
        ({"APP_ID": "  ", "SECRET_KEY": "k"}, ["voucherify.E001"], "Application Keys"),
        ({**GOOD, "API_URL": "api.voucherify.io"}, ["voucherify.E003"], "us1.api"),
        ({**GOOD, "API_URL": "https://api.voucherify.io/v1"}, ["voucherify.E003"], "https://"),
        ({**GOOD, "API_URL": "https://x?y=1"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "DOWNLOAD_URL": "ftp://x"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "READ_TIMEOUT": 0}, ["voucherify.E004"], "READ_TIMEOUT 20"),
        ({**GOOD, "CONNECT_TIMEOUT": "3"}, ["voucherify.E004"], "CONNECT_TIMEOUT"),
        ({**GOOD, "READ_TIMEOUT": True}, ["voucherify.E004"], "READ_TIMEOUT"),
        ({**GOOD, "MAX_RETRIES": -1}, ["voucherify.E005"], "switch retries off"),
        ({**GOOD, "RETRY_BUDGET": -2}, ["voucherify.E005"], "default"),
        ({**GOOD, "POOL_SIZE": 0}, ["voucherify.E006"], "threads"),
        ({**GOOD, "API_URL": "http://voucherify.example.com"}, ["voucherify.W001"], "https"),
        ({**GOOD, "READ_TIMEOUT": 600, "SYNC_LEASE_SECONDS": 1500}, ["voucherify.W002"], "under 30"),
        ({**GOOD, "RETRY_BUDGET": 1, "CONNECT_TIMEOUT": 3}, ["voucherify.W003"], "RETRY_BUDGET"),
        ({**GOOD, "READ_TIMOUT": 5}, ["voucherify.W004"], "Did you mean 'READ_TIMEOUT'?"),
        ({**GOOD, "SYNC_MAX_ATTEMPTS": 0}, ["voucherify.E010"], "docs/sync.md"),
        ({**GOOD, "SYNC_LEASE_SECONDS": "300"}, ["voucherify.E010"], "default"),
        ({**GOOD, "BULK_CHUNK_BYTES": 20_000_000}, ["voucherify.E010"], "9_000_000"),
        ({**GOOD, "SYNC_ENABLED": "false"}, ["voucherify.E011"], "env.bool"),
    ],
)
def test_each_problem_has_an_id_and_a_hint(settings_dict, expected_ids, hint_fragment):
    with override_settings(VOUCHERIFY=settings_dict):
        messages = check_voucherify_settings()
    assert ids(messages) == expected_ids
    assert any(hint_fragment in (m.hint or "") for m in messages)


def test_local_http_sandbox_url_is_fine():
    with override_settings(VOUCHERIFY={**GOOD, "API_URL": "http://127.0.0.1:8100"}):
        assert check_voucherify_settings() == []


def test_non_dict_setting_is_reported():
    with override_settings(VOUCHERIFY="id:key"):
        assert ids(check_voucherify_settings()) == ["voucherify.E000"]


def test_manage_py_check_fails_on_missing_credentials():
    with override_settings(VOUCHERIFY={}), pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert "voucherify.E001" in str(caught.value)


def test_get_settings_raises_with_the_option_to_fix():
    with override_settings(VOUCHERIFY={"APP_ID": "x"}), pytest.raises(ImproperlyConfigured) as caught:
        get_settings()
    assert "SECRET_KEY" in str(caught.value)


def test_lazy_client_is_built_once_from_settings_and_rebuilt_on_change():
    django_voucherify.reset_client()
    first = django_voucherify.get_client()
    assert django_voucherify.get_client() is first
    assert django_voucherify.client.transport is first.transport
    with override_settings(VOUCHERIFY={**GOOD, "API_URL": "http://127.0.0.1:8100"}):
        assert django_voucherify.client.transport.api_url == "http://127.0.0.1:8100"
        assert django_voucherify.get_client() is not first
    assert django_voucherify.client.transport.api_url == "https://api.voucherify.io"


def test_lazy_client_is_built_once_under_concurrency(monkeypatch):
    django_voucherify.reset_client()
    built = []
    original = VoucherifyClient.from_settings.__func__  # type: ignore[attr-defined]

    def counting(cls, **kw):
        built.append(1)
        return original(cls, **kw)

    monkeypatch.setattr(VoucherifyClient, "from_settings", classmethod(counting))
    barrier = threading.Barrier(16)
    seen = []

    def worker():
        barrier.wait()
        seen.append(django_voucherify.get_client())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert len({id(c) for c in seen}) == 1
    django_voucherify.reset_client()


def test_explicit_clients_for_several_projects_are_independent():
    a = VoucherifyClient("app-a", "key-a", "https://api.voucherify.io")
    b = VoucherifyClient("app-b", "key-b", "https://us1.api.voucherify.io")
    assert a.transport.session is not b.transport.session
    assert b.transport.download_url == "https://us1.download.voucherify.io"
    assert a.transport.download_url == "https://download.voucherify.io"


def test_settings_are_read_at_use_not_import():
    with override_settings(VOUCHERIFY={**GOOD, "READ_TIMEOUT": 2.5}):
        assert django_voucherify.client.transport.timeout == (3.05, 2.5)


def test_every_check_id_belongs_to_one_feature():
    """Each feature owns a range (core E00x/W00x, sync E01x, checkout E02x, voucher admin E03x,
    jobs E04x): one id never means two problems."""
    import re
    from pathlib import Path

    root = Path(django_voucherify.__file__).parent
    owners: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for check_id in re.findall(r'id="(voucherify\.[EW]\d{3})"', path.read_text()):
            owners.setdefault(check_id, set()).add(
                path.parent.name if path.name == "checks.py" else path.stem
            )
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert shared == {}


def test_get_settings_names_a_non_numeric_option():
    with (
        override_settings(VOUCHERIFY={**GOOD, "JOB_POLL_INTERVAL": "abc"}),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        get_settings()
    assert "JOB_POLL_INTERVAL" in str(caught.value)
