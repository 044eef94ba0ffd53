"""Transport behaviour: error mapping, retries and their safety, timeouts, secret redaction."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from django_voucherify.api import (
    APIError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    TransportError,
    UnauthorizedError,
    VoucherifyClient,
)
from tests.api.wire import FakeSleep

API = "https://api.voucherify.io"
TOKEN = "sk-very-secret-token-value"
VOUCHER_URL = f"{API}/v1/vouchers/CODE1"


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_client(sleep):
    def build(**options):
        options.setdefault("retry", RetryPolicy(max_retries=3, budget=60, backoff_base=0.1))
        return VoucherifyClient("app-1", TOKEN, API, sleep=sleep, **options)

    return build


@pytest.fixture
def api_client(make_client):
    return make_client()


def error_body(status: int, key: str, **extra):
    body = {
        "code": status,
        "key": key,
        "message": f"message for {key}",
        "details": f"details for {key}",
        "request_id": "v-0a885062c80375740f",
        "resource_id": "CODE1",
        "resource_type": "voucher",
    }
    body.update(extra)
    return body


def connect_refused() -> requests.ConnectionError:
    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.ConnectionError(cause)


@pytest.mark.parametrize(
    ("status", "key", "cls"),
    [
        (400, "invalid_payload", BadRequestError),
        (400, "voucher_disabled", BadRequestError),
        (401, "unauthorized", UnauthorizedError),
        (403, "forbidden", ForbiddenError),
        (404, "not_found", NotFoundError),
        (409, "duplicate_found", ConflictError),
        (413, "payload_too_large", PayloadTooLargeError),
        (422, "unprocessable", APIError),
        (500, "internal_error", ServerError),
    ],
)
@responses.activate
def test_error_statuses_map_to_typed_errors_with_every_field(api_client, status, key, cls):
    responses.post(
        f"{API}/v1/vouchers/CODE1/enable",
        status=status,
        json=error_body(status, key, error={"message": "Only for VIPs"}),
    )
    with pytest.raises(cls) as caught:
        api_client.vouchers.enable("CODE1")
    err = caught.value
    assert type(err) is cls
    assert isinstance(err, APIError)
    assert (err.status, err.code, err.key) == (status, status, key)
    assert err.message == f"message for {key}"
    assert err.details == f"details for {key}"
    assert err.request_id == "v-0a885062c80375740f"
    assert (err.resource_id, err.resource_type) == ("CODE1", "voucher")
    assert err.error_message == "Only for VIPs"
    assert err.body["key"] == key
    assert key in str(err) and "v-0a885062c80375740f" in str(err)
    assert len(responses.calls) == 1  # POST: never retried on an HTTP error


@responses.activate
def test_rate_limited_error_carries_retry_delay(make_client, sleep):
    client = make_client(retry=RetryPolicy(max_retries=0))
    responses.get(
        VOUCHER_URL, status=429, json=error_body(429, "too_many_requests"), headers={"Retry-After": "7"}
    )
    with pytest.raises(RateLimitedError) as caught:
        client.vouchers.get("CODE1")
    assert caught.value.retry_after == 7.0
    assert sleep.calls == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("inf", 86400.0),
        ("1e12", 86400.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 86400.0),
        ("nan", None),
        ("soon, maybe", None),
    ],
)
@responses.activate
def test_retry_after_is_at_most_a_day_and_garbage_is_ignored(make_client, sleep, header, expected):
    # An infinite or enormous Retry-After (a gateway's mistake) overflowed every schedule built
    # from it (now + timedelta: OverflowError in the outbox's and the rollbacks' retries, the
    # rows left in progress, the failure unrecorded); a comma without a date raised ValueError
    # out of the client instead of RateLimitedError.
    client = make_client(retry=RetryPolicy(max_retries=0))
    responses.get(
        VOUCHER_URL, status=429, json=error_body(429, "too_many_requests"), headers={"Retry-After": header}
    )
    with pytest.raises(RateLimitedError) as caught:
        client.vouchers.get("CODE1")
    assert caught.value.retry_after == expected


@responses.activate
def test_x_rate_limit_retry_header_is_honoured(api_client, sleep):
    responses.get(
        VOUCHER_URL,
        status=429,
        json=error_body(429, "too_many_requests"),
        headers={"X-Rate-Limit-Retry": "2"},
    )
    responses.get(VOUCHER_URL, json={"code": "CODE1"})
    assert api_client.vouchers.get("CODE1") == {"code": "CODE1"}
    assert sleep.calls == [2.0]


@responses.activate
def test_non_json_error_body_still_gives_typed_error(api_client):
    responses.get(VOUCHER_URL, status=502, body="<html>Bad gateway</html>")
    with pytest.raises(ServerError) as caught:
        api_client.vouchers.get("CODE1")
    assert caught.value.status == 502
    assert "Bad gateway" in (caught.value.message or "")
    assert len(responses.calls) == 4  # first try + 3 retries


@pytest.mark.parametrize("status", [429, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@responses.activate
def test_idempotent_methods_are_retried_on_gateway_errors(api_client, sleep, status, method):
    url = VOUCHER_URL
    responses.add(method, url, status=status, json=error_body(status, "x"))
    responses.add(
        method,
        url,
        status=200 if method != "DELETE" else 204,
        json={"code": "CODE1"} if method != "DELETE" else None,
    )
    call = {
        "GET": lambda: api_client.vouchers.get("CODE1"),
        "PUT": lambda: api_client.vouchers.update("CODE1", {"category": "x"}),
        "DELETE": lambda: api_client.vouchers.delete("CODE1"),
    }[method]
    call()
    assert len(responses.calls) == 2
    assert len(sleep.calls) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@responses.activate
def test_post_is_not_retried_after_reaching_the_server(api_client, sleep, status):
    responses.post(f"{API}/v1/customers", status=status, json=error_body(status, "x"))
    with pytest.raises(APIError):
        api_client.customers.create({"source_id": "c1"})
    assert len(responses.calls) == 1
    assert sleep.calls == []


@responses.activate
def test_500_is_not_retried_even_for_get(api_client):
    responses.get(VOUCHER_URL, status=500, json=error_body(500, "error"))
    with pytest.raises(ServerError):
        api_client.vouchers.get("CODE1")
    assert len(responses.calls) == 1


@responses.activate
def test_post_is_retried_when_the_connection_never_opened(api_client, sleep):
    responses.post(f"{API}/v1/customers", body=connect_refused())
    responses.post(f"{API}/v1/customers", json={"id": "cust_1"})
    assert api_client.customers.create({"source_id": "c1"}) == {"id": "cust_1"}
    assert len(responses.calls) == 2


@responses.activate
def test_post_is_not_retried_after_a_read_timeout(api_client, sleep):
    responses.post(f"{API}/v1/customers", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(RequestTimeout) as caught:
        api_client.customers.create({"source_id": "c1"})
    assert caught.value.request_sent is True
    assert len(responses.calls) == 1


@responses.activate
def test_post_is_not_retried_after_connection_reset_mid_request(api_client, sleep):
    responses.post(f"{API}/v1/customers", body=requests.ConnectionError("Connection reset by peer"))
    with pytest.raises(TransportError) as caught:
        api_client.customers.create({"source_id": "c1"})
    assert caught.value.request_sent is True
    assert len(responses.calls) == 1


@responses.activate
def test_redeem_is_never_retried_even_on_connect_failure(api_client, sleep):
    responses.post(f"{API}/v1/redemptions", body=connect_refused())
    with pytest.raises(TransportError) as caught:
        api_client.redemptions.redeem({"redeemables": [{"object": "voucher", "id": "A"}]})
    assert caught.value.request_sent is False
    assert len(responses.calls) == 1
    assert sleep.calls == []


@responses.activate
def test_get_read_timeout_is_retried_then_raised_as_timeout(api_client, sleep):
    for _ in range(4):
        responses.get(VOUCHER_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(RequestTimeout):
        api_client.vouchers.get("CODE1")
    assert len(responses.calls) == 4
    assert len(sleep.calls) == 3


@responses.activate
def test_connect_timeout_is_a_transport_error_not_sent(api_client, sleep):
    for _ in range(4):
        responses.get(VOUCHER_URL, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(RequestTimeout) as caught:
        api_client.vouchers.get("CODE1")
    assert isinstance(caught.value, TransportError)
    assert caught.value.request_sent is False


@responses.activate
def test_backoff_grows_and_is_capped(make_client, sleep, monkeypatch):
    monkeypatch.setattr("random.uniform", lambda low, high: high)  # take the ceiling
    client = make_client(retry=RetryPolicy(max_retries=5, budget=100, backoff_base=1, backoff_max=4))
    for _ in range(6):
        responses.get(VOUCHER_URL, status=503, json=error_body(503, "x"))
    with pytest.raises(ServerError):
        client.vouchers.get("CODE1")
    assert sleep.calls == [1, 2, 4, 4, 4]


@responses.activate
def test_retries_stop_when_the_time_budget_would_be_exceeded(make_client, sleep):
    client = make_client(retry=RetryPolicy(max_retries=10, budget=5, backoff_base=1, backoff_max=1))
    responses.get(VOUCHER_URL, status=429, json=error_body(429, "x"), headers={"Retry-After": "30"})
    with pytest.raises(RateLimitedError):
        client.vouchers.get("CODE1")
    assert len(responses.calls) == 1  # waiting 30 s would blow a 5 s budget
    assert sleep.calls == []


@responses.activate
def test_timeouts_are_passed_on_every_call(make_client):
    client = make_client(connect_timeout=1.5, read_timeout=4)
    seen = {}

    def adapter_send(request, **kwargs):
        seen["timeout"] = kwargs.get("timeout")
        raise requests.ConnectionError("stop")

    client.transport.session.get_adapter(API).send = adapter_send  # type: ignore[method-assign]
    with pytest.raises(TransportError):
        client.transport.request("POST", "/v1/x")
    assert seen["timeout"] == (1.5, 4)


@responses.activate
def test_secret_never_in_errors_reprs_or_logs(api_client, caplog):
    caplog.set_level(logging.DEBUG, logger="django_voucherify")
    responses.get(VOUCHER_URL, status=404, json=error_body(404, "not_found"))
    with pytest.raises(NotFoundError) as caught:
        api_client.vouchers.get("CODE1")
    responses.post(f"{API}/v1/customers", body=requests.ConnectionError(f"boom {API}"))
    with pytest.raises(TransportError) as caught_transport:
        api_client.customers.create({"source_id": "x"})
    texts = [
        str(caught.value),
        repr(caught.value),
        str(caught_transport.value),
        repr(caught_transport.value),
        repr(api_client),
        repr(api_client.transport),
        caplog.text,
        str(vars(caught.value)),
    ]
    for text in texts:
        assert TOKEN not in text
    assert responses.calls[0].request.headers["X-App-Token"] == TOKEN  # it is sent, though


@responses.activate
def test_log_line_has_method_path_status_duration_request_id(api_client, caplog):
    caplog.set_level(logging.DEBUG, logger="django_voucherify")
    responses.get(VOUCHER_URL, json={"code": "CODE1"}, headers={"X-Request-Id": "v-123"})
    api_client.vouchers.get("CODE1")
    record = next(r for r in caplog.records if r.name == "django_voucherify")
    assert record.method == "GET"
    assert record.path == "/v1/vouchers/CODE1"
    assert record.status == 200
    assert record.request_id == "v-123"
    assert record.duration_ms >= 0
    assert "CODE1" in record.getMessage()


@responses.activate
def test_bodies_are_logged_only_when_switched_on(make_client, caplog):
    caplog.set_level(logging.DEBUG, logger="django_voucherify")
    responses.post(f"{API}/v1/customers", json={"id": "cust_1", "email": "a@example.com"})
    make_client().customers.create({"source_id": "c1", "email": "a@example.com"})
    assert "a@example.com" not in caplog.text
    caplog.clear()
    make_client(log_bodies=True).customers.create({"source_id": "c1", "email": "a@example.com"})
    assert "a@example.com" in caplog.text
    assert TOKEN not in caplog.text


@responses.activate
def test_empty_and_204_bodies_return_none(api_client):
    responses.delete(VOUCHER_URL, status=204)
    assert api_client.vouchers.delete("CODE1") is None


def test_session_is_pooled_with_our_retries_only(api_client):
    session = api_client.transport.session
    assert session.trust_env is False
    adapter = session.get_adapter(API)
    assert adapter.max_retries.total == 0


@responses.activate
def test_trust_env_path_goes_through_requests_session_and_still_works(make_client, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")
    client = make_client(trust_env=True)
    responses.get(f"{VOUCHER_URL}?x=1", json={"code": "CODE1"})
    assert client.transport.request("GET", "/v1/vouchers/CODE1", params={"x": 1}) == {"code": "CODE1"}
    assert responses.calls[0].request.headers["X-App-Token"] == TOKEN


@responses.activate
def test_fast_path_sends_what_requests_would(api_client):
    """Prepared by hand, the request must be byte-identical to Session.request's."""
    responses.post(f"{API}/v1/vouchers/A%2FB", json={})
    api_client.transport.request(
        "POST", "/v1/vouchers/A%2FB", params={"q": "ü &", "ids": ["a", "b"]}, json={"metadata": {"k": "ü"}}
    )
    sent = responses.calls[0].request
    expected = requests.Request(
        "POST",
        f"{API}/v1/vouchers/A%2FB",
        params=[("q", "ü &"), ("ids", "a"), ("ids", "b")],
        json={"metadata": {"k": "ü"}},
    ).prepare()
    assert sent.url == expected.url
    assert sent.body == expected.body
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Content-Length"] == str(len(expected.body))
    assert sent.headers["Accept-Encoding"]  # session defaults kept


@responses.activate
def test_chained_cause_does_not_carry_the_token(api_client):
    def reset(request):  # as HTTPAdapter.send does: the exception carries the request
        raise requests.ConnectionError("reset", request=request)

    responses.add_callback("GET", VOUCHER_URL, callback=reset)
    with pytest.raises(TransportError) as caught:
        api_client.vouchers.get("CODE1")
    # No chain at all: the requests/urllib3 frames under the transport (their locals hold the
    # request and its headers) are unreachable from what the caller gets (tests/api/test_secrets.py).
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert caught.value.__suppress_context__ is False  # not "from None": there is nothing to hide
