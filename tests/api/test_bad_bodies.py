"""A 2xx answer that is not the JSON object expected is an error with an unknown outcome.

Proxies, CDNs and captive portals answer 200 with HTML; a connection closed early truncates a
body; a broken gateway sends an array. The client must raise its own error (never a raw
``JSONDecodeError``, never return a string or a list where shop code expects a dict), and that
error must read as "received, maybe applied" to checkout's outage policy.
"""

from __future__ import annotations

import logging

import pytest
import responses

from django_voucherify.api import (
    InvalidResponseError,
    RetryPolicy,
    ServerError,
    TransportError,
    VoucherifyClient,
    VoucherifyError,
)
from django_voucherify.checkout.validate import is_outage, redeem_may_have_happened
from tests.support.raw_http import RawServer

API = "https://api.voucherify.io"
TOKEN = "tok-bodies-Q7w3-canary"
REDEEM_URL = f"{API}/v1/redemptions"
VOUCHER_URL = f"{API}/v1/vouchers/CODE1"
REDEEM = {"redeemables": [{"object": "voucher", "id": "CODE1"}]}


@pytest.fixture
def api_client() -> VoucherifyClient:
    return VoucherifyClient(
        "app-1",
        TOKEN,
        API,
        sleep=lambda s: None,
        retry=RetryPolicy(max_retries=2, budget=60, backoff_base=0.01),
    )


BAD_BODIES = [
    pytest.param(
        {"body": "<html><h1>502 upstream gone</h1></html>", "content_type": "text/html"},
        "not JSON",
        id="html",
    ),
    pytest.param({"body": '[{"id": "r_1"}]', "content_type": "application/json"}, "JSON list", id="array"),
    pytest.param({"body": "null", "content_type": "application/json"}, "JSON NoneType", id="null"),
    pytest.param(
        {"body": '{"id": "r_1", "result": "SUCC', "content_type": "application/json"},
        "not valid JSON",
        id="truncated",
    ),
    pytest.param(
        {"body": b"\xff\xfe\x00{", "content_type": "application/json"}, "not valid JSON", id="not-utf8"
    ),
    pytest.param(
        {"body": "[" * 200_000, "content_type": "application/json"}, "not valid JSON", id="deep-nesting"
    ),
    pytest.param({"body": "", "content_type": "application/json"}, "empty body", id="empty"),
    pytest.param({"body": "OK", "content_type": "text/plain"}, "not JSON", id="plain-text"),
]


@pytest.mark.parametrize(("reply", "what"), BAD_BODIES)
@responses.activate
def test_a_bad_2xx_body_is_an_unknown_outcome_error(api_client, reply, what):
    responses.post(REDEEM_URL, status=200, headers={"X-Request-Id": "v-bad-1"}, **reply)
    with pytest.raises(InvalidResponseError) as caught:
        api_client.redemptions.redeem(REDEEM)
    exc = caught.value
    assert what in str(exc)
    assert (exc.status, exc.request_id, exc.method, exc.path) == (200, "v-bad-1", "POST", "/v1/redemptions")
    assert exc.request_sent is True  # it got there: outcome unknown
    assert isinstance(exc, TransportError) and isinstance(exc, VoucherifyError)
    assert len(exc.snippet) <= 203 and exc.snippet.isprintable()
    assert len(responses.calls) == 1  # a redeem is never sent twice
    # What checkout's outage policy makes of it: an outage whose redeem may have happened
    # (ledger row UNKNOWN, reconciled by reading redemptions back; never "not redeemed").
    assert is_outage(exc) is True
    assert redeem_may_have_happened(exc) is True


@responses.activate
def test_snippet_shows_the_start_of_the_body_and_names_the_content_type(api_client):
    responses.post(
        REDEEM_URL,
        status=201,
        body="<html>Captive portal: log in</html>",
        content_type="text/html; charset=utf-8",
    )
    with pytest.raises(InvalidResponseError) as caught:
        api_client.redemptions.redeem(REDEEM)
    assert caught.value.snippet == "<html>Captive portal: log in</html>"
    assert caught.value.content_type == "text/html; charset=utf-8"
    assert caught.value.request_id is None
    assert "201" in str(caught.value) and "Captive portal" in str(caught.value)


@responses.activate
def test_a_body_quoting_the_token_is_masked_in_the_error_and_the_logs(api_client, caplog):
    caplog.set_level(logging.DEBUG, logger="django_voucherify")
    echo = f"<pre>X-App-Id: app-1\nX-App-Token: {TOKEN}</pre>"
    responses.post(REDEEM_URL, status=200, body=echo, content_type="text/html")
    responses.post(f"{API}/v1/customers", status=400, body=echo, content_type="text/html")
    with pytest.raises(InvalidResponseError) as bad_body:
        api_client.redemptions.redeem(REDEEM)
    with pytest.raises(VoucherifyError) as refused:
        api_client.customers.create({"source_id": "c1"})
    for exc in (bad_body.value, refused.value):
        assert TOKEN not in f"{exc} {exc!r} {vars(exc)}"
        assert "********" in str(exc)
    assert TOKEN not in caplog.text


@responses.activate
def test_idempotent_calls_retry_a_bad_body_then_raise_it(api_client):
    responses.get(VOUCHER_URL, status=200, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(InvalidResponseError):
        api_client.vouchers.get("CODE1")
    assert len(responses.calls) == 3  # 1 + MAX_RETRIES, as for any failure without an answer


@responses.activate
def test_a_good_body_after_a_bad_one_is_returned(api_client):
    responses.get(VOUCHER_URL, status=200, body="<html>blip</html>", content_type="text/html")
    responses.get(VOUCHER_URL, status=200, json={"code": "CODE1"})
    assert api_client.vouchers.get("CODE1") == {"code": "CODE1"}


@responses.activate
def test_bodiless_successes_stay_none(api_client):
    responses.delete(VOUCHER_URL, status=204)
    responses.delete(f"{API}/v1/vouchers/CODE2", status=200, body="")
    assert api_client.vouchers.delete("CODE1") is None
    assert api_client.vouchers.delete("CODE2") is None


@responses.activate
def test_json_without_content_type_is_accepted(api_client):
    responses.get(VOUCHER_URL, status=200, body='{"code": "CODE1"}', content_type=None)
    assert api_client.vouchers.get("CODE1") == {"code": "CODE1"}


@responses.activate
def test_unreadable_error_bodies_keep_their_status_class(api_client):
    responses.post(REDEEM_URL, status=500, body="[" * 200_000, content_type="application/json")
    with pytest.raises(ServerError) as caught:
        api_client.redemptions.redeem(REDEEM)
    assert caught.value.status == 500 and caught.value.message


@pytest.mark.parametrize("mode", ["html_200", "array_200", "truncated_200"])
def test_over_http_a_bad_body_is_an_invalid_response(mode):
    with RawServer(mode) as server:
        client = VoucherifyClient("app-1", TOKEN, server.url, retry=RetryPolicy(max_retries=0))
        with pytest.raises(InvalidResponseError) as caught:
            client.redemptions.redeem(REDEEM)
    assert caught.value.status == 200
    assert redeem_may_have_happened(caught.value)
    if mode == "html_200":
        assert caught.value.request_id == "v-proxy-1"
        assert caught.value.snippet.startswith("<html><body><h1>Welcome")


@pytest.mark.parametrize("start", [150, 190, 199, 200])
@responses.activate
def test_a_token_straddling_the_snippet_cut_is_masked_whole(api_client, start):
    body = "x" * start + TOKEN + "y" * 500
    responses.post(REDEEM_URL, status=200, body=body, content_type="text/html")
    with pytest.raises(InvalidResponseError) as caught:
        api_client.redemptions.redeem(REDEEM)
    snippet = caught.value.snippet
    assert not any(TOKEN[:n] in snippet for n in range(4, len(TOKEN) + 1) if start + n <= 200)
    assert len(snippet) <= 203
