"""Bad requests get a JSON answer with a stable shape, never a 500 or an HTML page.

Every error body is a JSON object with ``detail`` (text) and ``key``. The fuzz test posts
arbitrary JSON-ish bodies (and mutations of valid ones) to every endpoint; run many more
examples with ``HYPOTHESIS_PROFILE=thorough`` (see tests/support/properties.py).
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, Customer, LedgerState, Order
from tests.support import properties
from tests.support.checkout import PUBLISH, REDEEM, VALIDATE, assert_json_error, rollback_url
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

OFFERS = "/api/vouchers/offers/"

NO_THROTTLES = {
    "DEFAULT_THROTTLE_RATES": {
        "voucherify_validate": None,
        "voucherify_redeem": None,
        "voucherify_validate_failures": None,
    }
}


@pytest.fixture
def staff_client(django_user_model):
    """A signed-in user with every ledger permission and an order of their own."""
    user = django_user_model.objects.create_user("eve", "eve@example.com", "pw")
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_checkoutredemption"))
    customer = Customer.objects.create(source_id="user-eve", email="eve@example.com", user=user)
    Order.objects.create(source_id="ORD-FUZZ", amount=8000, customer=customer)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def post_raw(client: APIClient, url: str, raw: str | bytes, content_type: str = "application/json", **extra):
    return client.generic("POST", url, raw, content_type=content_type, **extra)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize("depth", [20, 900, 5000, 100_000])
@pytest.mark.parametrize(
    "template",
    [
        '{"codes": %s, "order": {"amount": 1}}',
        '{"codes": ["A"], "order": {"amount": 1, "x": %s}}',
        '{"codes": ["A"], "order": {"items": [{"source_id": %s}]}}',
        "%s",
    ],
)
def test_deep_nesting_is_a_400(sandbox, depth, template):
    response = post_raw(APIClient(raise_request_exception=False), VALIDATE, template % nested(depth))
    assert_json_error(response, 400, "parse_error")
    assert not sandbox.calls.calls


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (json.dumps({"codes": ["A"], "order": {"amount": 1}, "pad": "x" * 3000}), "application/json"),
        ("a=" + "x" * 3000, "application/x-www-form-urlencoded"),
        ("x" * 3000, "text/plain"),
    ],
)
def test_an_oversized_body_is_a_json_413(sandbox, staff_client, raw, content_type):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        for client, url in [(APIClient(raise_request_exception=False), VALIDATE), (staff_client, REDEEM)]:
            assert_json_error(post_raw(client, url, raw, content_type), (413, 415))
        assert_json_error(
            post_raw(staff_client, REDEEM, raw, content_type), 413 if "json" in content_type else 415
        )
    assert not sandbox.calls.calls


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "key"),
    [
        ("{bad", "application/json", 400, "parse_error"),
        ('{"codes": ["A"], "order": {"amount": NaN}}', "application/json", 400, "parse_error"),
        ('{"codes": ["A"], "order": {"amount": Infinity}}', "application/json", 400, "parse_error"),
        (b'{"codes": ["\xff"]}', "application/json", 400, "parse_error"),
        ("{}", "application/json; charset=nonsense", 400, None),
        ("", "application/json", 400, "invalid"),
        ("null", "application/json", 400, "invalid"),
        ("[]", "application/json", 400, "invalid"),
        ('"codes"', "application/json", 400, "invalid"),
        ("1e999999", "application/json", 400, "invalid"),
        ('{"codes": ["A"], "order": {"amount": ' + "9" * 5000 + "}}", "application/json", 400, "parse_error"),
        ("codes=A", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("codes=A", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
        ("codes", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_unreadable_bodies_are_json_errors(sandbox, raw, content_type, status, key):
    response = post_raw(APIClient(raise_request_exception=False), VALIDATE, raw, content_type)
    assert_json_error(response, status, key)


def test_wrong_types_are_field_errors_in_the_stable_shape(sandbox):
    body = {
        "codes": ["A"],
        "order": {"items": [{"source_id": "x", "quantity": 1, "price": 1, "related_object": "\ud800"}]},
    }
    # Sent with \\u escapes: the lone surrogate reaches the server, which echoes it in a message.
    response = post_raw(APIClient(raise_request_exception=False), VALIDATE, json.dumps(body))
    error = assert_json_error(response, 400, "invalid")
    assert "order" in error
    response = post_raw(APIClient(), VALIDATE, json.dumps({"codes": {"a": 1}, "order": []}))
    error = assert_json_error(response, 400, "invalid")
    assert {"codes", "order"} <= set(error)


def test_csrf_failure_is_json(sandbox, django_user_model):
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(REDEEM, {"codes": ["A"], "order_source_id": "X"}, format="json")
    assert "CSRF" in assert_json_error(response, 403, "permission_denied")["detail"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("url", [VALIDATE, REDEEM, "/api/vouchers/redemptions/1/rollback/"])
def test_wrong_methods_are_json(sandbox, staff_client, method, url):
    assert_json_error(staff_client.generic(method, url), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "path",
    [
        "/api/vouchers/redemptions/abc/rollback/",
        "/api/vouchers/redemptions/99999999999999999999999999/rollback/",
        "/api/vouchers/redemptions/%D9%A1%D9%A2/rollback/",  # Arabic-Indic digits
        "/api/vouchers/redemptions/-1/rollback/",
        "/api/vouchers/redemptions/123456/rollback/",
        "/api/vouchers/redemptions/%00/rollback/",
        "/api/vouchers/redemptions/",
        "/api/vouchers/redeem/%00/",
        "/api/vouchers/validate/extra/",
    ],
)
def test_odd_paths_are_json_404s(sandbox, staff_client, path):
    assert_json_error(staff_client.post(path, {}, format="json"), 404, "not_found")
    assert_json_error(APIClient().get(path), (403, 404))  # anonymous: refused before the lookup


@pytest.mark.parametrize("url", [VALIDATE, OFFERS, REDEEM, PUBLISH, rollback_url(1)])
def test_a_session_cookie_no_session_can_have_is_ignored(sandbox, url):
    """``sessionid="\\000..."`` is plain ASCII on the wire (a quoted cookie's octal escape) and a
    session key holding a NUL: the database session backend's lookup failed on it (PostgreSQL
    refuses NUL in text), a 500. The request is answered as one without a session (anonymous),
    and the cookie is deleted."""
    response = APIClient(raise_request_exception=False).generic(
        "POST",
        url,
        json.dumps({"order": {"amount": 1}}),
        content_type="application/json",
        HTTP_COOKIE='sessionid="\\000garbage-key"',
    )
    assert response.status_code in (200, 400, 403), response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.cookies["sessionid"].value == ""  # deleted


def test_a_browser_asking_for_html_gets_json(sandbox):
    response = APIClient().post(
        VALIDATE, {"codes": ["A"], "order": {"amount": 1}}, format="json", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    response = APIClient().post(VALIDATE, {}, format="json", HTTP_ACCEPT="text/html")
    assert_json_error(response, 400, "invalid")


def test_refusals_keep_the_shape(sandbox, staff_client):
    response = staff_client.post(REDEEM, {"codes": ["NOPE"], "order_source_id": "ORD-FUZZ"}, format="json")
    assert_json_error(response, 400, "not_found")
    make_voucher("FIVE")
    assert (
        staff_client.post(
            REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-FUZZ"}, format="json"
        ).status_code
        == 201
    )
    again = staff_client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-FUZZ"}, format="json")
    assert_json_error(again, 409, "already_redeemed")
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"voucherify_validate": "1/min"}}):
        APIClient().post(VALIDATE, {"codes": ["A"], "order": {"amount": 1}}, format="json")
        throttled = APIClient().post(VALIDATE, {"codes": ["A"], "order": {"amount": 1}}, format="json")
    assert_json_error(throttled, 429, "throttled")


def test_an_unexpected_error_is_a_logged_json_500(sandbox, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(checkout, "validate", boom)
    response = APIClient(raise_request_exception=False).post(
        VALIDATE, {"codes": ["A"], "order": {"amount": 1}}, format="json"
    )
    assert_json_error(response, 500, "server_error")
    assert "unexpected" not in response.content.decode()
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    with pytest.raises(RuntimeError):  # got_request_exception is sent: test clients and Sentry see it
        APIClient().post(VALIDATE, {"codes": ["A"], "order": {"amount": 1}}, format="json")


# -- Fuzz: arbitrary JSON-ish bodies on every endpoint ------------------------------------------------

EXAMPLES = properties.examples(40, 2000)

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "FIVE", "ORD-FUZZ", "sku", "product", "\x00", "\ud800", "\u202e", "A" * 300]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=20,
)
items = st.fixed_dictionaries(
    {},
    optional={
        "source_id": json_values,
        "quantity": json_values,
        "price": json_values,
        "related_object": json_values,
    },
)
orders_ = st.fixed_dictionaries(
    {},
    optional={
        "amount": json_values,
        "items": st.one_of(st.lists(items, max_size=3), json_values),
        "source_id": json_values,
    },
)
codes = st.one_of(st.lists(texts, max_size=6), json_values)
validate_bodies = st.fixed_dictionaries(
    {}, optional={"codes": codes, "order": st.one_of(orders_, json_values), "lock": json_values}
)
redeem_bodies = st.fixed_dictionaries(
    {}, optional={"codes": codes, "order_source_id": json_values, "session_key": json_values}
)
rollback_bodies = st.fixed_dictionaries({}, optional={"reason": json_values})


def _post_fuzz(client: APIClient, url: str, body) -> None:
    raw = json.dumps(body)  # \u escapes: lone surrogates and NULs reach the server
    with override_settings(REST_FRAMEWORK=NO_THROTTLES):
        response = post_raw(client, url, raw)
    assert response.status_code < 500, (url, body, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(response.content)
    if response.status_code >= 400:
        assert (
            isinstance(data, dict)
            and isinstance(data.get("detail"), str)
            and isinstance(data.get("key"), str)
        )


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(body=st.one_of(validate_bodies, json_values))
def test_fuzz_validate_anonymous(sandbox, body):
    _post_fuzz(APIClient(raise_request_exception=False), VALIDATE, body)


@FUZZ
@given(body=st.one_of(validate_bodies, json_values))
def test_fuzz_validate_signed_in(sandbox, staff_client, body):
    _post_fuzz(staff_client, VALIDATE, body)


@FUZZ
@given(body=st.one_of(redeem_bodies, json_values))
def test_fuzz_redeem(sandbox, staff_client, body):
    _post_fuzz(staff_client, REDEEM, body)


@FUZZ
@given(body=st.one_of(rollback_bodies, json_values), pk=st.sampled_from(["1", "0", "x", "1" * 30]))
def test_fuzz_rollback(sandbox, staff_client, body, pk):
    CheckoutRedemption.objects.get_or_create(
        pk=1, defaults={"order_source_id": "ORD-X", "codes": ["X"], "state": LedgerState.FAILED}
    )
    _post_fuzz(staff_client, rollback_url(pk), body)
