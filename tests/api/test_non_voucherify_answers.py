"""The client's answers that are not Voucherify's: every one is a VoucherifyError.

Each peer below is a raw loopback socket answering one canned response; the client is the real
one over HTTP. Found by review: a 4xx error body nested deeper than the recursion limit raised
``RecursionError`` from the token-masking step, whose frames held the app token in clear; a
204 (or any empty 2xx) to a GET or POST returned ``None`` where an object was due; a 3xx with a
JSON body passed as the answer; a page whose items are not objects raised ``AttributeError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_voucherify.api import RetryPolicy, VoucherifyClient
from django_voucherify.api.errors import APIError, BadRequestError, InvalidResponseError
from tests.support import raw_http
from tests.support.leaks import TOKEN, assert_no_leak, capture
from tests.support.raw_http import RawServer

DEEP = 3000  # deeper than Python's recursion limit, shallower than the json module's


def answer(status: str, body: bytes = b"", content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@pytest.fixture
def peer(monkeypatch: Any) -> Iterator[Callable[[bytes], VoucherifyClient]]:
    servers: list[RawServer] = []

    def start(raw: bytes) -> VoucherifyClient:
        mode = f"peer-{len(servers)}"
        monkeypatch.setitem(raw_http.CANNED, mode, raw)
        server = RawServer(mode).__enter__()
        servers.append(server)
        return VoucherifyClient("app", TOKEN, server.url, retry=RetryPolicy(max_retries=0))

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_a_deeply_nested_error_body_is_an_api_error_leaking_nothing(peer):
    body = ('{"message":' * DEEP + '"x"' + "}" * DEEP).encode()
    # Python 3.12+ reads it (then only the masking step could fail); 3.11's json module raises
    # RecursionError itself. Either way the caller gets the client's own error, leaking nothing.
    client = peer(answer("400 Bad Request", body))
    for call in (lambda: client.vouchers.get("X"), lambda: client.redemptions.redeem({"order": {}})):
        exc = capture(call)
        assert isinstance(exc, BadRequestError), repr(exc)
        assert_no_leak(exc)


def test_error_fields_are_text_whatever_the_body_holds(peer):
    body = json.dumps({"key": {"a": 1}, "message": ["m"], "details": 5, "request_id": [1]}).encode()
    exc = capture(lambda: peer(answer("400 Bad Request", body)).customers.create({"source_id": "c"}))
    assert isinstance(exc, APIError)
    assert (exc.key, exc.message, exc.details) == (None, None, None) and not exc.request_id


@pytest.mark.parametrize("status", ["204 No Content", "200 OK", "201 Created"])
def test_an_empty_success_is_invalid_except_for_a_delete(peer, status):
    client = peer(answer(status))
    calls: list[Callable[[], Any]] = [
        lambda: client.vouchers.get("X"),
        lambda: client.customers.create({"source_id": "c"}),
        lambda: client.redemptions.redeem({"order": {}}),
        lambda: list(client.vouchers.iterate()),
        lambda: list(client.customers.iterate_activity("c")),
        lambda: list(client.async_actions.iterate()),
    ]
    for call in calls:
        exc = capture(call)
        assert isinstance(exc, InvalidResponseError) and exc.request_sent, repr(exc)
    assert client.customers.delete("c") is None


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "304 Not Modified"])
def test_a_redirect_is_not_an_answer_even_with_a_json_body(peer, status):
    client = peer(answer(status, b'{"id": "v_1", "code": "X"}'))
    for call in (lambda: client.vouchers.get("X"), lambda: client.exports.download("exp_1", "t")):
        exc = capture(call)
        assert isinstance(exc, InvalidResponseError), repr(exc)


@pytest.mark.parametrize("items", ['[1, "x"]', '"xy"', '{"id": 1}', "[[]]"])
def test_a_page_of_another_shape_is_invalid_in_every_walk(peer, items):
    client = peer(
        answer(
            "200 OK",
            f'{{"vouchers": {items}, "customers": {items}, "data": {items}, '
            f'"async_actions": {items}, "redemptions": {items}}}'.encode(),
        )
    )
    for walk in (
        client.vouchers.iterate,
        client.customers.iterate,
        client.redemptions.iterate,
        client.async_actions.iterate,
        lambda: client.customers.iterate_activity("c"),
        lambda: client.vouchers.iterate_transactions("X"),
    ):
        exc = capture(lambda: list(walk()))
        assert isinstance(exc, InvalidResponseError), (walk, repr(exc))


def test_masking_a_deeply_nested_value_neither_recurses_nor_leaves_the_token_in_a_frame():
    from django_voucherify.api.redaction import redact
    from django_voucherify.secret import Secret

    deep: Any = f"x{TOKEN}"
    for _ in range(DEEP):
        deep = {"message": [deep]}
    masked = redact(deep, Secret(TOKEN))
    for _ in range(DEEP):
        masked = masked["message"][0]
    assert masked == "x********"

    class Boom(str):
        def replace(self, *args: Any) -> str:
            raise MemoryError("while masking")

    exc = capture(lambda: redact({"k": [Boom(TOKEN)]}, Secret(TOKEN)))
    assert isinstance(exc, MemoryError)
    tb, frames = exc.__traceback__, 0
    while tb is not None:  # the input holds a Boom (the caller's); no plain str token anywhere
        local = tb.tb_frame.f_locals
        assert not any(type(v) is str and TOKEN in v for v in local.values()), local
        assert local.get("box", []) == [], tb.tb_frame.f_code.co_name
        frames += "box" in local
        tb = tb.tb_next
    assert frames == 2  # redact and masked both showed their (emptied) box
