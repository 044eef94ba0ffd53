"""settings.VOUCHERIFY validation: system checks with ids and hints, and the lazy client."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

import django_voucherify
from django_voucherify import conf
from django_voucherify.api import VoucherifyClient
from django_voucherify.checks import check_voucherify_settings
from django_voucherify.conf import DEFAULT_API_URL, get_settings
from django_voucherify.secret import Secret
from tests.support.leaks import TOKEN, capture, find_token, frame_leaks, rendered_reports

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
        ({**GOOD, "CURRENCY": "euro"}, ["voucherify.E032"], "currency code"),
        ({**GOOD, "CURRENCY": "€"}, ["voucherify.E032"], "currency code"),
        ({**GOOD, "API_URL": "http://voucherify.example.com"}, ["voucherify.W001"], "https"),
        (  # the lease and the jobs' resubmit delay must outlast such a read (E012, W040)
            {**GOOD, "READ_TIMEOUT": 600, "SYNC_LEASE_SECONDS": 3200, "JOB_RESUBMIT_AFTER": 1200},
            ["voucherify.W002"],
            "under 30",
        ),
        ({**GOOD, "RETRY_BUDGET": 1, "CONNECT_TIMEOUT": 3}, ["voucherify.W003"], "RETRY_BUDGET"),
        ({**GOOD, "READ_TIMOUT": 5}, ["voucherify.W004"], "Did you mean 'READ_TIMEOUT'?"),
        ({**GOOD, "SYNC_MAX_ATTEMPTS": 0}, ["voucherify.E010"], "docs/sync.md"),
        ({**GOOD, "SYNC_LEASE_SECONDS": "300"}, ["voucherify.E010"], "default"),
        ({**GOOD, "BULK_CHUNK_BYTES": 20_000_000}, ["voucherify.E010"], "9_000_000"),
        ({**GOOD, "SYNC_ENABLED": "false"}, ["voucherify.E011"], "env.bool"),
        # A bare string would be taken letter by letter; blanks and spaced names match nothing.
        ({**GOOD, "SELF_SERVICE_CAMPAIGNS": "Welcome"}, ["voucherify.E027"], "['Welcome']"),
        ({**GOOD, "SELF_SERVICE_CAMPAIGNS": ["Welcome", ""]}, ["voucherify.E027"], "names or ids"),
        ({**GOOD, "SELF_SERVICE_CAMPAIGNS": [" Welcome"]}, ["voucherify.E027"], "names or ids"),
        ({**GOOD, "SELF_SERVICE_CAMPAIGNS": [7]}, ["voucherify.E027"], "names or ids"),
        ({**GOOD, "SELF_SERVICE_CAMPAIGNS": None}, ["voucherify.E027"], "names or ids"),
        # requests took a string or a list at the first call only (ValueError), and read any
        # VERIFY by its truth: "" or 0 switched TLS verification off.
        ({**GOOD, "PROXIES": "http://proxy:3128"}, ["voucherify.E007"], "{'https': 'http://proxy:3128'}"),
        ({**GOOD, "PROXIES": {"https": "proxy:3128"}}, ["voucherify.E007"], "None"),
        ({**GOOD, "VERIFY": ""}, ["voucherify.E007"], "CA bundle"),
        ({**GOOD, "VERIFY": 0}, ["voucherify.E007"], "CA bundle"),
        # Numbers no timedelta holds (each deadline computed from them raised OverflowError),
        # and a pool urllib3 fills with that many slots at its first request.
        ({**GOOD, "READ_TIMEOUT": float("inf")}, ["voucherify.E004"], "READ_TIMEOUT 20"),
        ({**GOOD, "SYNC_LEASE_SECONDS": 1e300}, ["voucherify.E010"], "default"),
        ({**GOOD, "JOB_MAX_AGE": 10**12}, ["voucherify.E043"], "7 days"),
        ({**GOOD, "EXPORT_RETENTION_DAYS": 10**6}, ["voucherify.E049"], "36500"),
        ({**GOOD, "POOL_SIZE": 10**6}, ["voucherify.E006"], "threads"),
        # URLs urlsplit takes (or raised ValueError on, out of the checks) and requests or
        # http.client refused at every request: a line break or space from an env file, DEL,
        # a host that is no host name, a port that is no port.
        ({**GOOD, "API_URL": "https://api.voucherify.io\n"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "https://api.voucherify.io "}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "http://127.0.0.1:8100\x7f"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "https://ex€mple.io"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "http://[::1"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "http://127.0.0.1:abc"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "http://127.0.0.1:99999"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "API_URL": "http://:8100"}, ["voucherify.E003"], "cluster"),
        ({**GOOD, "DOWNLOAD_URL": "https://.voucherify.io"}, ["voucherify.E003"], "cluster"),
    ],
)
def test_each_problem_has_an_id_and_a_hint(settings_dict, expected_ids, hint_fragment):
    with override_settings(VOUCHERIFY=settings_dict):
        messages = check_voucherify_settings()
    assert ids(messages) == expected_ids
    assert any(hint_fragment in (m.hint or "") for m in messages)


def test_a_misshapen_proxies_setting_is_reported_by_its_type_only():
    with override_settings(VOUCHERIFY={**GOOD, "PROXIES": [f"http://ops:{TOKEN}@proxy:3128"]}):
        (message,) = check_voucherify_settings()
    assert message.id == "voucherify.E007" and "(got a list, not shown)" in message.msg
    assert TOKEN not in message.msg


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8100",
        "https://[2001:db8::1]:8443",
        "https://xn--exmple-cua.io",
        "https://u:p@gw.example",
    ],
)
def test_local_http_sandbox_and_other_sendable_urls_are_fine(url):
    with override_settings(VOUCHERIFY={**GOOD, "API_URL": url}):
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


def test_every_check_id_has_one_home_and_is_documented():
    """An id is written in one module only (the table, the rules over several options, or the
    checks of what only ``manage.py check`` sees): one id never means two problems. Every id
    but those of the checks' own (not a dict, unknown key, database) is in docs/settings.md."""
    import re
    from pathlib import Path

    root = Path(django_voucherify.__file__).parent
    homes: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for check_id in set(re.findall(r'"(voucherify\.[EW]\d{3})"', path.read_text())):
            homes.setdefault(check_id, set()).add(path.relative_to(root).as_posix())
    assert {k: v for k, v in homes.items() if len(v) > 1} == {}
    documented = {f"voucherify.{c}" for option in conf.OPTIONS for c in option.checks}
    assert set(homes) - documented == {
        "voucherify.E000",
        "voucherify.E013",
        "voucherify.W004",
        "voucherify.W015",
    }


@pytest.mark.parametrize("value", [[], ["Welcome", "camp_7Xz"], ("Welcome",)])
def test_self_service_campaigns_are_read_as_a_tuple(value):
    with override_settings(VOUCHERIFY={**GOOD, "SELF_SERVICE_CAMPAIGNS": value}):
        assert check_voucherify_settings() == []
        assert conf.settings().self_service_campaigns == tuple(value)
    with override_settings(VOUCHERIFY=GOOD):
        assert conf.settings().self_service_campaigns == ()  # default: no campaign


def test_options_are_read_without_credentials():
    """Sync's signals read options on every save, also in a process that has no keys."""
    with override_settings(VOUCHERIFY={"SYNC_ENABLED": False}):
        assert conf.settings().sync_enabled is False
        assert conf.settings().app_id == "" and not conf.settings().secret_key
        with pytest.raises(ImproperlyConfigured, match="APP_ID"):
            get_settings()  # the client's builder still requires them


def test_settings_are_cached_until_voucherify_changes():
    with override_settings(VOUCHERIFY={**GOOD, "SYNC_MAX_ATTEMPTS": 2}):
        first = conf.settings()
        assert conf.settings() is first and first.sync_max_attempts == 2
        with override_settings(VOUCHERIFY={**GOOD, "SYNC_MAX_ATTEMPTS": 3}):
            assert conf.settings().sync_max_attempts == 3
        assert conf.settings().sync_max_attempts == 2


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("JOB_POLL_INTERVAL", 0),  # bounds, not only the type, are enforced at use
        ("VOUCHER_ACTION_INLINE_LIMIT", -1),
        ("CHECKOUT_OUTAGE_POLICY", "ignore"),
        ("CHECKOUT_LATE_CHECK_AFTER", 30),  # E026: not after the 60 s grace
        ("SELF_SERVICE_CAMPAIGNS", "Welcome"),  # E027: a string, not a list
    ],
)
def test_an_invalid_option_is_refused_at_use_with_the_checks_words(option, value):
    settings_dict = {**GOOD, option: value}
    with override_settings(VOUCHERIFY=settings_dict):
        (error,) = [m for m in check_voucherify_settings() if m.is_serious()]
        with pytest.raises(ImproperlyConfigured) as caught:
            conf.settings()
    assert option in str(caught.value)
    assert str(caught.value) == f"{error.msg} {error.hint}"


def test_unsupported_database_backend_is_refused(monkeypatch):
    from django.db import connections

    from django_voucherify.checks import check_database_backends

    assert check_database_backends() == []
    monkeypatch.setattr(connections["default"], "vendor", "mysql")
    (error,) = check_database_backends()
    assert error.id == "voucherify.E013" and "'mysql'" in error.msg and "default" in error.msg
    assert "PostgreSQL or SQLite" in (error.hint or "")


@pytest.mark.parametrize(
    ("level", "warned"),
    [(None, False), ("READ_COMMITTED", False), ("REPEATABLE_READ", True), ("SERIALIZABLE", False)],
)
def test_a_repeatable_read_database_is_warned_about(monkeypatch, level, warned):
    """Review of checkout (2): at REPEATABLE READ a cancellation whose transaction began before
    a redemption of its order was recorded did not see the row, and the redemption stayed live
    (reproduced against PostgreSQL and the sandbox: READ COMMITTED rolled it back)."""
    from django.db import connections
    from django.db.backends.postgresql.psycopg_any import IsolationLevel

    from django_voucherify.checks import check_isolation_levels

    options = dict(connections["default"].settings_dict.get("OPTIONS") or {})
    if level is not None:
        options["isolation_level"] = IsolationLevel[level]
    monkeypatch.setitem(connections["default"].settings_dict, "OPTIONS", options)
    assert [m.id for m in check_isolation_levels()] == (["voucherify.W015"] if warned else [])


def test_get_settings_names_a_non_numeric_option():
    with (
        override_settings(VOUCHERIFY={**GOOD, "JOB_POLL_INTERVAL": "abc"}),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        get_settings()
    assert "JOB_POLL_INTERVAL" in str(caught.value)


@pytest.mark.parametrize(
    ("configured", "shown"),
    [(TOKEN, "str"), ({"main": TOKEN}, "dict"), ([[TOKEN]], "tuple"), ([{"main": TOKEN}], "tuple")],
)
@pytest.mark.parametrize("read", ["settings", "option"])
def test_misshapen_webhook_secrets_are_refused_without_a_frame_holding_them(configured, shown, read):
    # WEBHOOK_SECRETS as one string (env(...) without the list) is an easy slip. The message
    # never quoted it, but the ImproperlyConfigured left the secret in the reading frame's
    # locals (`values`, `value`): Django's 500 page and AdminEmailHandler's HTML mail (DEBUG
    # off too) render them, from every view that reads the settings.
    call = conf.settings if read == "settings" else lambda: conf.option("WEBHOOK_SECRETS")
    with override_settings(VOUCHERIFY={**GOOD, "WEBHOOK_SECRETS": configured}):
        exc = capture(call)
    assert isinstance(exc, ImproperlyConfigured)
    assert f"(got a {shown}, not shown)" in str(exc)
    assert frame_leaks(exc) == []
    assert [name for name, text in rendered_reports(exc).items() if TOKEN in text] == []


@pytest.mark.parametrize(
    ("key", "configured", "check_id"),
    [
        ("SECRET_KEY", TOKEN + "\udc80", "voucherify.E002"),
        ("WEBHOOK_SECRETS", [TOKEN + "\udc80"], "voucherify.E045"),
        ("WEBHOOK_SECRETS", TOKEN + "\udc80", "voucherify.E045"),
    ],
)
def test_a_secret_that_is_no_utf8_text_is_refused_not_a_crash(key, configured, check_id):
    # os.environ gives bytes that are not UTF-8 as lone surrogates: wrapping such a secret raised
    # UnicodeEncodeError from raw_settings(), so the checks answered E000 ("not a dict") with a
    # codec's message and settings() raised it, the secret in the raising frame's locals.
    with override_settings(VOUCHERIFY={**GOOD, key: configured}):
        (message,) = check_voucherify_settings()
        exc = capture(conf.get_settings)
    assert message.id == check_id and TOKEN not in message.msg
    assert isinstance(exc, ImproperlyConfigured) and key in str(exc)
    assert frame_leaks(exc) == []


@pytest.mark.parametrize(
    ("key", "configured", "found"),
    [
        ("SECRET_KEY", TOKEN + "\n", "a line break"),  # the end of a file or a secret manager's value
        ("SECRET_KEY", TOKEN + "\r\nX-Injected: 1", "a line break"),
        ("SECRET_KEY", TOKEN + "\x00", "a control character"),
        ("SECRET_KEY", TOKEN + "\x7f", "a control character"),
        ("SECRET_KEY", TOKEN + "€", "a character outside Latin-1"),
        ("SECRET_KEY", Secret(TOKEN + "\n"), "a line break"),
        ("APP_ID", "app-1\n", "a line break"),
        ("APP_ID", "app\x1f1", "a control character"),
        ("APP_ID", "app-€", "a character outside Latin-1"),
        ("APP_ID", "app-\ud800", "a character outside Latin-1"),
    ],
)
def test_a_credential_no_header_can_carry_is_refused_by_its_check(key, configured, found):
    # Both credentials are headers of every request: such a value passed the checks, then
    # http.client refused every request (ValueError, UnicodeEncodeError) or the server did.
    with override_settings(VOUCHERIFY={**GOOD, key: configured}):
        (message,) = check_voucherify_settings()
        exc = capture(conf.get_settings)
        assert conf.settings().api_url == DEFAULT_API_URL  # the other options still read
    assert message.id == ("voucherify.E002" if key == "SECRET_KEY" else "voucherify.E001")
    assert "HTTP header can carry" in message.msg and f"it holds {found}" in message.msg
    assert "line break" in message.hint
    # Review l2: a key read from a file was told to be "copied as shown": the hint says how
    # to drop the line break the file ends with.
    assert ".strip()" in message.hint
    assert isinstance(exc, ImproperlyConfigured) and found in str(exc)
    for text in (message.msg, message.hint, str(exc)):
        assert TOKEN not in text and "app-" not in text
    assert frame_leaks(exc) == []


@pytest.mark.parametrize(
    ("key", "configured", "sent"),
    [
        ("SECRET_KEY", TOKEN + " ", TOKEN),  # an env file's "KEY=... "
        ("SECRET_KEY", "\t" + TOKEN + "  ", TOKEN),
        ("SECRET_KEY", Secret(" " + TOKEN), TOKEN),
        ("APP_ID", " app-1 ", "app-1"),  # requests refused it at the start (InvalidHeader)
        ("APP_ID", "app-1\t", "app-1"),
    ],
)
def test_spaces_around_a_credential_are_dropped_not_refused(key, configured, sent):
    """Review l2: spaces or tabs at either end of a key were made E001/E002, errors that stop
    ``migrate`` and ``runserver``. A server drops them from a header value (RFC 9110), so a
    secret key with a trailing space worked before the upgrade, and then refused to start.
    They are dropped: what is sent is the key without them."""
    with override_settings(VOUCHERIFY={**GOOD, key: configured}):
        assert check_voucherify_settings() == []
        conf_ = get_settings()
        client = VoucherifyClient.from_settings()
    assert (conf_.secret_key if key == "SECRET_KEY" else conf_.app_id) == sent
    header = "X-App-Token" if key == "SECRET_KEY" else "X-App-Id"
    assert client.transport._headers[header] == sent


def test_a_secret_key_of_spaces_only_is_missing():
    with override_settings(VOUCHERIFY={**GOOD, "SECRET_KEY": Secret(" \t ")}):
        (message,) = check_voucherify_settings()
        exc = capture(conf.get_settings)
    assert message.id == "voucherify.E002" and "is missing or empty" in message.msg
    assert isinstance(exc, ImproperlyConfigured)


def test_an_unrelated_option_read_alone_is_not_touched_by_the_webhook_secrets_guard():
    with override_settings(VOUCHERIFY={**GOOD, "WEBHOOK_SECRETS": TOKEN}):
        assert conf.option("CURRENCY") == conf.DEFAULTS["CURRENCY"]


def _fails_holding(conf_snapshot):
    raise RuntimeError("a bug in a view that read the settings")


def test_proxy_credentials_are_not_in_the_settings_repr_nor_in_error_pages():
    # A corporate proxy's URL carries its password (http://user:password@proxy:3128). The
    # snapshot's repr showed it, and every view or task holding the snapshot in a local
    # (``conf = settings()``) gave it to whatever renders frame locals when it failed (Sentry,
    # Django's 500 page and error mails). The reports are rendered here outside the override:
    # their settings section, Django's own, shows VOUCHERIFY['PROXIES'] (docs/production.md).
    proxies = {"https": f"http://ops:{TOKEN}@proxy.internal:3128"}
    with override_settings(VOUCHERIFY={**GOOD, "PROXIES": proxies}):
        snapshot = conf.settings()
    assert snapshot.proxies == proxies  # still handed to requests as given
    assert TOKEN not in repr(snapshot)
    exc = capture(lambda: _fails_holding(snapshot))
    assert [name for name, text in rendered_reports(exc).items() if TOKEN in text] == []


def test_credentials_given_as_secrets_work_and_diffsettings_shows_only_masks():
    # ``manage.py diffsettings`` prints settings as written (Django hides nothing there): a
    # shop that wraps its credentials in Secret sees masks; the app reads both forms alike.
    from django_voucherify.secret import Secret

    values = {"APP_ID": "id", "SECRET_KEY": Secret(TOKEN), "WEBHOOK_SECRETS": [Secret(TOKEN + "-hook")]}
    out = io.StringIO()
    with override_settings(VOUCHERIFY=values):
        call_command("diffsettings", stdout=out)
        snapshot = get_settings()
    assert TOKEN not in out.getvalue() and "Secret('********')" in out.getvalue()
    assert snapshot.secret_key == TOKEN and snapshot.webhook_secrets == (TOKEN + "-hook",)


def test_the_raw_settings_hold_the_credentials_masked_for_the_frames_that_read_them():
    # The system checks hold the raw dict in their frames: a check failing on something else
    # (here a CACHES whose lookup breaks) gave the API token to whatever renders locals
    # (Sentry's excepthook at startup, an error page when checks run in a request).
    configured = {**GOOD, "SECRET_KEY": TOKEN, "WEBHOOK_SECRETS": [TOKEN + "-hook"]}
    configured["SYNC_DRAIN_CACHE"] = "default"
    with override_settings(VOUCHERIFY=configured, CACHES=_BrokenCaches(default={})):
        assert find_token(conf.raw_settings()) is None
        exc = capture(check_voucherify_settings)
        assert conf.settings().secret_key == TOKEN  # what the client sends is unchanged
    assert isinstance(exc, LookupError)
    assert frame_leaks(exc) == []


class _BrokenCaches(dict):
    """A CACHES whose entries cannot be read: a check failing on something unforeseen."""

    def __getitem__(self, key):
        raise LookupError("a CACHES that breaks on lookup")


def test_a_password_in_the_api_url_is_masked_in_reprs_and_check_messages():
    # A gateway in front of Voucherify may take basic auth in the URL (https://user:pw@host).
    # The settings' and the transport's reprs, and the messages quoting the URL (W001 for plain
    # http, an invalid DOWNLOAD_URL), showed the password.
    url = f"http://ops:{TOKEN}@gateway.example"
    with override_settings(VOUCHERIFY={**GOOD, "API_URL": url, "DOWNLOAD_URL": url + "/x"}):
        messages = check_voucherify_settings()
    with override_settings(VOUCHERIFY={**GOOD, "API_URL": url}):
        snapshot = conf.settings()
        client = get_settings() and VoucherifyClient("id", "key", snapshot.api_url)
        messages += check_voucherify_settings()
    assert snapshot.api_url == url  # requests still gets it whole
    assert sorted(m.id for m in messages) == ["voucherify.E003", "voucherify.W001"]
    for text in [*(m.msg for m in messages), repr(snapshot), repr(client), repr(client.transport)]:
        assert TOKEN not in text and "gateway.example" in text, text


@pytest.mark.parametrize(
    "proxies",
    [
        {"https": "http://proxy:3128", "no_proxy": "localhost,.internal"},
        {"all://": "socks5h://proxy:1080"},
        {"https://api.voucherify.io": "http://ops:pw@proxy:3128"},
    ],
)
def test_proxies_requests_documents_pass_the_check(proxies):
    """Review s1: requests reads a ``no_proxy`` key of its proxies (hosts, not a URL); the new
    PROXIES check refused it as a proxy URL without a scheme (E007), so a shop whose settings
    carried it could not start after the upgrade."""
    with override_settings(VOUCHERIFY={**GOOD, "PROXIES": proxies}):
        assert check_voucherify_settings() == []


def test_verify_as_a_path_object_is_the_ca_bundle_given(tmp_path):
    """Review s1: Django settings write paths as ``BASE_DIR / "ca.pem"``. The new VERIFY check
    (E007) refused a path object as not "the path of a CA bundle", so such settings no longer
    started; and requests used a path object as no CA bundle at all (it takes a str). It is
    accepted and handed to requests as a str."""
    from pathlib import Path

    from django_voucherify.conf import settings as voucherify_settings

    bundle = Path(tmp_path) / "ca.pem"
    with override_settings(VOUCHERIFY={**GOOD, "VERIFY": bundle}):
        assert check_voucherify_settings() == []
        assert voucherify_settings().verify == str(bundle)
