"""The app token never leaves the process: not through any exception's frames, reprs or logs.

For every way a call can fail (HTTP 4xx/5xx, timeouts, resets, refused connections, DNS
failures, non-JSON 2xx answers, an unusable token) the exception that reaches the caller is
rendered the ways it leaves a Django process: the technical 500 page (DEBUG on), the error
report (DEBUG off) and ``AdminEmailHandler``'s mail with its HTML part (both). On top of those,
every frame local of the exception and of its whole ``__cause__``/``__context__`` chain is
searched the way locals-capturing tools (Sentry, rich) serialise them and deeper: containers
and object attributes, so a ``PreparedRequest`` whose headers hold the token counts as a leak
even though its ``repr`` does not show them.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import logging
import pprint
import types
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
import requests.adapters
from django.core import mail
from django.test import RequestFactory, override_settings
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter, technical_500_response

from django_voucherify.api import RetryPolicy, TransportError, VoucherifyClient, VoucherifyError
from django_voucherify.conf import get_settings
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.server import RunningServer, start_in_thread
from tests.support.raw_http import RawServer, closed_port, failing_dns

#: Distinctive: letters, digits and hyphens only, so HTML escaping cannot hide it.
TOKEN = "tok-Zq81-LEAKCANARY-5e0c7b2a9d"
APP_ID = "secrets-app"
DNS_HOST = "voucherify-dns-outage.invalid"
SENTINEL = object()


# -- the detector --------------------------------------------------------------------------

_OPAQUE = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    int,
    float,
    complex,
    bool,
    type(None),
)


def find_token(root: Any, *, depth: int = 8, budget: int = 50_000) -> str | None:
    """The access path to a str/bytes holding the token reachable from ``root``, or None.

    Walks containers (keys and values) and object attributes (``__dict__`` and slots), as deep
    as a serialiser or a curious reader would go. Modules, classes and functions are not
    entered: they reach the whole program (this test module's TOKEN constant included).
    """
    needle, bneedle = TOKEN, TOKEN.encode()
    stack: list[tuple[Any, int, str]] = [(root, 0, "")]
    seen: set[int] = set()
    while stack and budget:
        obj, level, path = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        budget -= 1
        if isinstance(obj, str):
            if needle in obj:
                return path or "<root>"
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            if bneedle in bytes(obj):
                return path or "<root>"
            continue
        if level >= depth or isinstance(obj, _OPAQUE):
            continue
        children: list[tuple[Any, str]] = []
        if isinstance(obj, dict | collections.abc.Mapping):
            try:
                children = [(k, f"{path}.key({k!r})") for k in obj]
                children += [(v, f"{path}[{k!r}]") for k, v in obj.items()]
            except Exception:
                children = []
        elif isinstance(obj, list | tuple | set | frozenset | collections.deque):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, BaseException):
            children += [(obj.__cause__, f"{path}.__cause__"), (obj.__context__, f"{path}.__context__")]
        attrs = getattr(obj, "__dict__", None)
        if isinstance(attrs, dict):
            children += [(v, f"{path}.{k}") for k, v in attrs.items()]
        for klass in type(obj).__mro__:
            slots = getattr(klass, "__slots__", ())
            for slot in slots if isinstance(slots, tuple | list) else ():
                value = getattr(obj, slot, SENTINEL)
                if value is not SENTINEL:
                    children.append((value, f"{path}.{slot}"))
        stack.extend((child, level + 1, child_path) for child, child_path in children)
    return None


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        yield from chain(exc.__cause__) if exc.__cause__ is not None and id(exc.__cause__) not in seen else ()
        exc = exc.__context__


def frame_leaks(exc: BaseException) -> list[str]:
    """Every frame local (of every exception in the chain) through which the token is reachable."""
    found = []
    for link in chain(exc):
        tb = link.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            for name, value in tb.tb_frame.f_locals.items():
                where = (
                    f"{type(link).__name__} frame {code.co_name} "
                    f"({code.co_filename}:{tb.tb_lineno}) local {name!r}"
                )
                if TOKEN in pprint.pformat(value) or TOKEN in repr(value):
                    found.append(f"{where}: shown by its repr")
                elif (path := find_token(value)) is not None:
                    found.append(f"{where}: reachable as {name}{path}")
            tb = tb.tb_next
    return found


def rendered_reports(exc: BaseException) -> dict[str, str]:
    """The exception as Django shows it: 500 page (DEBUG on), report and admin mail (DEBUG off)."""
    request = RequestFactory().post("/checkout/", {"code": "SPRING20"})
    exc_info = (type(exc), exc, exc.__traceback__)
    out: dict[str, str] = {}
    for debug in (True, False):
        with override_settings(
            DEBUG=debug,
            # Django 6 takes addresses; 5.2 requires (name, address) pairs.
            ADMINS=["ops@example.com"] if django.VERSION >= (6,) else [("Ops", "ops@example.com")],
            MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}},
        ):
            reporter = ExceptionReporter(request, *exc_info)
            out[f"html debug={debug}"] = reporter.get_traceback_html()
            out[f"text debug={debug}"] = reporter.get_traceback_text()
            if debug:
                out["technical_500_response"] = technical_500_response(request, *exc_info).content.decode()
            mail.outbox = []
            record = logging.LogRecord(
                "django.request",
                logging.ERROR,
                __file__,
                1,
                "Internal Server Error: %s",
                ("/checkout/",),
                exc_info,
            )
            record.request = request
            record.status_code = 500
            AdminEmailHandler(include_html=True).emit(record)
            (message,) = mail.outbox
            out[f"mail body debug={debug}"] = str(message.body)
            out[f"mail html debug={debug}"] = str(message.alternatives[0][0])  # type: ignore[attr-defined]
    return out


def assert_no_leak(exc: BaseException) -> None:
    assert isinstance(exc, VoucherifyError), f"{type(exc).__name__} escaped the client's errors"
    leaks = frame_leaks(exc)
    assert not leaks, "the token is in frame locals:\n" + "\n".join(leaks)
    for name, text in rendered_reports(exc).items():
        assert TOKEN not in text, f"the token is in Django's {name}"
    for link in chain(exc):
        for text in (str(link), repr(link), pprint.pformat(vars(link)), str(link.args)):
            assert TOKEN not in text
        assert find_token(vars(link)) is None


# -- the detector must be able to fail ---------------------------------------------------------


def test_detector_finds_a_token_held_by_a_frame_local_or_an_attribute():
    class Holder:
        def __init__(self) -> None:
            self.headers = {"X-App-Token": TOKEN}

    def leaky(holder: Holder) -> None:
        headers = {"X-App-Token": TOKEN.encode()}  # noqa: F841 - the point of the test
        raise TransportError("boom")

    def hidden(holder: Holder) -> None:
        raise TransportError("boom")

    for function, expected in ((leaky, "repr"), (hidden, "reachable as holder.headers")):
        with pytest.raises(TransportError) as caught:
            function(Holder())
        assert any(expected in leak for leak in frame_leaks(caught.value)), function
    with pytest.raises(TransportError) as plain:
        raise TransportError("boom")
    assert frame_leaks(plain.value) == []


# -- the failure modes -----------------------------------------------------------------------


@pytest.fixture
def sandbox_server() -> Iterator[RunningServer]:
    server = start_in_thread(Sandbox(app_id=APP_ID, app_token=TOKEN))
    try:
        yield server
    finally:
        server.stop()


def client_for(url: str, **options: Any) -> VoucherifyClient:
    """The shop's way: from settings.VOUCHERIFY (so the token passes through conf too)."""
    conf = {
        "APP_ID": APP_ID,
        "SECRET_KEY": TOKEN,
        "API_URL": url,
        "LOG_BODIES": True,
        "CONNECT_TIMEOUT": 1.0,
        "READ_TIMEOUT": 0.4,
        "MAX_RETRIES": 1,
        "RETRY_BUDGET": 1.0,
        "BACKOFF_BASE": 0.01,
        "BACKOFF_MAX": 0.02,
    }
    with override_settings(VOUCHERIFY=conf):
        return VoucherifyClient.from_settings(**options)


def capture(call: Callable[[], Any]) -> BaseException:
    """Run ``call``; return what it raised (its traceback starts in this frame)."""
    try:
        call()
    except BaseException as exc:  # anything escaping counts
        return exc
    raise AssertionError("the call did not fail")


REDEEM = {"redeemables": [{"object": "voucher", "id": "SPRING20"}], "order": {"amount": 1000}}


@pytest.mark.parametrize(
    ("status", "method"),
    [
        (400, "POST"),
        (401, "GET"),
        (404, "GET"),
        (429, "POST"),
        (500, "POST"),
        (503, "GET"),
    ],
)
def test_http_error_answers_leak_nothing(sandbox_server, caplog, status, method):
    caplog.set_level(logging.DEBUG)
    sandbox_server.sandbox.faults.add(path="/v1/*", method=method, status=status)
    client = client_for(sandbox_server.url)
    if method == "POST":
        exc = capture(lambda: client.redemptions.redeem(REDEEM))
    else:
        exc = capture(lambda: client.vouchers.get("SPRING20"))
    assert getattr(exc, "status", None) == status, exc
    assert_no_leak(exc)
    assert TOKEN not in caplog.text


def test_wrong_token_401_from_the_sandbox_leaks_nothing(caplog):
    caplog.set_level(logging.DEBUG)
    server = start_in_thread(Sandbox(app_id=APP_ID, app_token="some-other-token"))
    try:
        exc = capture(lambda: client_for(server.url).customers.create({"source_id": "c1"}))
    finally:
        server.stop()
    assert getattr(exc, "status", None) == 401
    assert_no_leak(exc)
    assert TOKEN not in caplog.text


def test_read_timeout_leaks_nothing(sandbox_server, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox_server.sandbox.faults.add(path="/v1/*", latency=1.0)
    client = client_for(sandbox_server.url)
    for call in (lambda: client.redemptions.redeem(REDEEM), lambda: client.vouchers.get("X")):
        exc = capture(call)
        assert isinstance(exc, TransportError) and exc.request_sent, exc
        assert_no_leak(exc)
    assert TOKEN not in caplog.text


def test_dropped_connection_leaks_nothing(sandbox_server, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox_server.sandbox.faults.add(path="/v1/*", drop=True)
    client = client_for(sandbox_server.url)
    exc = capture(lambda: client.redemptions.redeem(REDEEM))
    assert isinstance(exc, TransportError)
    assert_no_leak(exc)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "mode", ["reset", "reset_mid_body", "hang", "html_200", "array_200", "truncated_200"]
)
def test_misbehaving_peer_leaks_nothing(mode, caplog):
    caplog.set_level(logging.DEBUG)
    body = {**REDEEM, "metadata": {"pad": "x" * 8_000_000}} if mode == "reset_mid_body" else REDEEM
    with RawServer(mode, read_body=mode != "reset_mid_body") as server:
        client = client_for(server.url)
        exc = capture(lambda: client.redemptions.redeem(body))
        if mode != "reset_mid_body":  # the token was really sent: the checks below are not vacuous
            assert TOKEN.encode() in server.requests[0]
    assert isinstance(exc, TransportError) and exc.request_sent, exc
    assert_no_leak(exc)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("into", [None, "file"])
def test_a_download_cut_short_leaks_nothing(into, caplog):
    caplog.set_level(logging.DEBUG)
    with RawServer("short_download") as server:
        client = VoucherifyClient(APP_ID, TOKEN, server.url, retry=RetryPolicy(max_retries=0))
        target = io.BytesIO() if into else None
        exc = capture(lambda: client.exports.download("exp_1", "download-token", into=target))
    assert isinstance(exc, TransportError) and "download interrupted" in str(exc), exc
    assert_no_leak(exc)
    assert TOKEN not in caplog.text


def test_refused_connection_and_dns_failure_leak_nothing(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    refused = capture(lambda: client_for(f"http://127.0.0.1:{closed_port()}").vouchers.get("X"))
    with failing_dns(monkeypatch, DNS_HOST):
        unresolved = capture(lambda: client_for(f"http://{DNS_HOST}").redemptions.redeem(REDEEM))
    for exc in (refused, unresolved):
        assert isinstance(exc, TransportError) and exc.request_sent is False, exc
        assert_no_leak(exc)
    assert TOKEN not in caplog.text


def test_an_unusable_token_fails_without_showing_it(caplog):
    """A token pasted with its newline: http.client refuses the header and quotes its value."""
    caplog.set_level(logging.DEBUG)
    with RawServer("html_200") as server:
        client = VoucherifyClient(APP_ID, TOKEN + "\n", server.url, retry=RetryPolicy(max_retries=0))
        exc = capture(lambda: client.vouchers.get("X"))
    assert_no_leak(exc)
    assert TOKEN not in caplog.text


def test_explicit_client_and_trust_env_path_leak_nothing(sandbox_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")
    sandbox_server.sandbox.faults.add(path="/v1/*", status=500)
    for options in ({}, {"trust_env": True}):
        client = VoucherifyClient(
            APP_ID, TOKEN, sandbox_server.url, retry=RetryPolicy(max_retries=0), **options
        )
        exc = capture(lambda: client.redemptions.redeem(REDEEM))
        assert getattr(exc, "status", None) == 500
        assert_no_leak(exc)


def test_the_token_works_over_http_and_in_process(sandbox_server):
    """Whatever holds the token still sends it: the sandbox (which checks it) accepts the call."""
    client = client_for(sandbox_server.url)
    assert client.customers.create({"source_id": "c1"})["source_id"] == "c1"
    trusting = VoucherifyClient(APP_ID, TOKEN, sandbox_server.url, trust_env=True)
    assert trusting.customers.get("c1")["source_id"] == "c1"
    local = VoucherifyClient(APP_ID, TOKEN, "https://api.voucherify.io")
    sandbox_server.sandbox.mount(local.transport.session)
    assert local.customers.get("c1")["source_id"] == "c1"


# -- objects a shop can look at -------------------------------------------------------------


def test_settings_client_and_transport_do_not_show_the_token():
    client = client_for("https://api.voucherify.io")
    conf = {"APP_ID": APP_ID, "SECRET_KEY": TOKEN}
    with override_settings(VOUCHERIFY=conf):
        settings_obj = get_settings()
    transport = client.transport
    for obj in (settings_obj, client, transport):
        for text in (repr(obj), str(obj), pprint.pformat(vars(obj))):
            assert TOKEN not in text, type(obj).__name__
        assert find_token(vars(obj)) is None, (type(obj).__name__, find_token(vars(obj)))
    assert TOKEN not in repr(dataclasses.asdict(settings_obj))
    assert find_token(dataclasses.asdict(settings_obj)) is None


# -- what the transport does not map ----------------------------------------------------------


class _BuggyAdapter(requests.adapters.BaseAdapter):
    """An adapter that reads the token into a local, then fails in a way no HTTP layer does."""

    def __init__(self, error: type[BaseException]) -> None:
        super().__init__()
        self.error = error

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raw = request.headers["X-App-Token"].encode()  # noqa: F841 - what a socket writer holds
        try:
            raise LookupError("inner")  # chained below: its frames are the adapter's too
        except LookupError:
            raise self.error("bug")  # implicitly chained, as a bug would be

    def close(self) -> None:
        pass


def _inner_caller_frame() -> None:
    marker = "caller-local-kept"  # noqa: F841 - must survive: the caller's frames are not ours
    raise ZeroDivisionError("the caller's own")


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_unmapped_failures_propagate_unchanged_with_the_frames_below_cleared(error):
    client = VoucherifyClient(APP_ID, TOKEN, "https://api.voucherify.io", retry=RetryPolicy(max_retries=0))
    client.transport.session.mount("https://", _BuggyAdapter(error))

    def caller() -> None:
        try:
            _inner_caller_frame()
        except ZeroDivisionError:
            client.vouchers.get("X")

    exc = capture(caller)
    assert type(exc) is error and str(exc) == "bug"
    assert frame_leaks(exc) == []
    assert isinstance(exc.__context__, LookupError)  # raised under the transport: cleared too
    assert find_token(exc.__context__) is None
    caller_error = next(link for link in chain(exc) if isinstance(link, ZeroDivisionError))
    tb = caller_error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_name != "_inner_caller_frame":
        tb = tb.tb_next
    assert tb is not None and tb.tb_frame.f_locals.get("marker") == "caller-local-kept"
