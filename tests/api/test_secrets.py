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

import dataclasses
import io
import logging
import pprint
from collections.abc import Iterator
from typing import Any

import pytest
import requests.adapters
from django.test import override_settings

from django_voucherify.api import RetryPolicy, TransportError, VoucherifyClient
from django_voucherify.conf import get_settings
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.server import RunningServer, start_in_thread
from tests.support.leaks import TOKEN, assert_no_leak, capture, chain, find_token, frame_leaks
from tests.support.raw_http import RawServer, failing_dns, free_port

APP_ID = "secrets-app"
DNS_HOST = "voucherify-dns-outage.invalid"


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
    refused = capture(lambda: client_for(f"http://127.0.0.1:{free_port()}").vouchers.get("X"))
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
