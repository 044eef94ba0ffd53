"""DRF endpoints: input validation, auth and CSRF, throttling, schema."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import REDEEM, VALIDATE, rollback_url
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"codes": [], "order": {"amount": 100}}, "codes"),
        ({"codes": [""], "order": {"amount": 100}}, "codes"),
        ({"codes": ["X" * 101], "order": {"amount": 100}}, "codes"),
        ({"codes": [f"C{i}" for i in range(31)], "order": {"amount": 100}}, "codes"),
        ({"codes": ["A", "A"], "order": {"amount": 100}}, "codes"),
        ({"codes": ["A"], "order": {"amount": -1}}, "order"),
        ({"codes": ["A"], "order": {"amount": 10.5}}, "order"),
        ({"codes": ["A"], "order": {"amount": "100"}}, "order"),
        ({"codes": ["A"], "order": {"items": [{"source_id": "S", "quantity": 1, "price": 1.5}]}}, "order"),
        ({"codes": ["A"], "order": {}}, "order"),
        # Look-alike codes: zero-width space, line break, bidi override; numbers are not codes.
        ({"codes": ["\u200bSPRING"], "order": {"amount": 100}}, "codes"),
        ({"codes": ["A\nB"], "order": {"amount": 100}}, "codes"),
        ({"codes": ["\u202eEVIL"], "order": {"amount": 100}}, "codes"),
        ({"codes": ["A\x00"], "order": {"amount": 100}}, "codes"),
        ({"codes": [123], "order": {"amount": 100}}, "codes"),
        ({"codes": "A", "order": {"amount": 100}}, "codes"),
        # Sizes: amount, unit price, quantity, number of lines, total of the lines.
        ({"codes": ["A"], "order": {"amount": 10**12 + 1}}, "order"),
        ({"codes": ["A"], "order": {"amount": 10**30}}, "order"),
        (
            {"codes": ["A"], "order": {"items": [{"source_id": "x", "quantity": 10**6 + 1, "price": 1}]}},
            "order",
        ),
        (
            {"codes": ["A"], "order": {"items": [{"source_id": "x", "quantity": 1, "price": 10**12 + 1}]}},
            "order",
        ),
        (
            {"codes": ["A"], "order": {"items": [{"source_id": "x", "quantity": 1, "price": 1}] * 501}},
            "order",
        ),
        (
            {"codes": ["A"], "order": {"items": [{"source_id": "x", "quantity": 10**6, "price": 10**7}]}},
            "order",
        ),
    ],
)
def test_validate_rejects_bad_input_clearly(sandbox, body, field):
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not sandbox.calls.calls


def test_validate_anonymous_preview(sandbox):
    make_voucher("FIVE")
    response = APIClient().post(VALIDATE, {"codes": ["NOPE"], "order": {"amount": 8000}}, format="json")
    body = response.json()
    assert response.status_code == 200 and not body["valid"]
    assert body["codes"][0]["reason_key"] == "not_found"
    assert body["codes"][0]["reason"] == "This code does not exist."
    response = APIClient().post(VALIDATE, {"codes": ["FIVE"], "order": {"amount": 8000}}, format="json")
    body = response.json()
    assert response.status_code == 200 and body["valid"] and body["total_amount"] == 7500
    assert body["codes"][0] == {
        "code": "FIVE",
        "applicable": True,
        "discount_amount": 500,
        "reason_key": None,
        "reason": "",
        "kind": "voucher",
        "card": None,
    }


def test_validate_is_throttled(sandbox):
    make_voucher("FIVE")
    client = APIClient()
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"voucherify_validate": "3/min"}}):
        codes = [
            client.post(
                VALIDATE, {"codes": [f"GUESS{i}"], "order": {"amount": 100}}, format="json"
            ).status_code
            for i in range(5)
        ]
    assert codes[3:] == [429, 429]
    assert sandbox.calls.count("POST", "/v1/validations") == 3


def test_redeem_needs_authentication(sandbox, shopper):
    response = APIClient().post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
    assert response.status_code == 403
    assert not CheckoutRedemption.objects.exists()


def test_redeem_enforces_csrf_for_session_auth(sandbox, shopper):
    user, _ = shopper
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_redeem_uses_the_stored_order_and_once_only(sandbox, shopper):
    user, _order = shopper
    make_voucher("FIVE")
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
    body = response.json()
    assert response.status_code == 201 and body["total_amount"] == 7500 and body["amount"] == 8000
    assert body["redemption"]["state"] == LedgerState.SUCCEEDED
    again = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
    assert again.status_code == 409 and again.json()["key"] == "already_redeemed"


def test_redeem_refuses_someone_elses_order(sandbox, shopper, django_user_model):
    other = django_user_model.objects.create_user("bob", "bob@example.com", "pw")
    client = APIClient()
    client.force_authenticate(other)
    response = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
    # Answered as an unknown order: a 403 would tell bob that ORD-API exists.
    assert response.status_code == 404 and not CheckoutRedemption.objects.exists()


def test_redeem_is_throttled(sandbox, shopper):
    user, _ = shopper
    client = APIClient()
    client.force_authenticate(user)
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"voucherify_redeem": "2/min"}}):
        codes = [
            client.post(REDEEM, {"codes": [f"G{i}"], "order_source_id": "ORD-API"}, format="json").status_code
            for i in range(3)
        ]
    assert codes[2] == 429


def test_rollback_is_for_staff(sandbox, shopper, admin_user):
    user, _ = shopper
    make_voucher("FIVE")
    client = APIClient()
    client.force_authenticate(user)
    pk = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json").json()[
        "redemption"
    ]["id"]
    url = rollback_url(pk)
    assert client.post(url, {"reason": "x"}, format="json").status_code == 403
    client.force_authenticate(admin_user)
    response = client.post(url, {"reason": "refund"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == LedgerState.ROLLED_BACK


def test_openapi_schema_documents_the_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    with override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}):
        schema = SchemaGenerator(urlconf="tests.checkout.urls").get_schema(request=None, public=True)
    paths = schema["paths"]
    assert set(paths) >= {VALIDATE, REDEEM, "/api/vouchers/redemptions/{id}/rollback/"}
    request = paths[VALIDATE]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert request["$ref"].endswith("ValidateRequest")
    codes = schema["components"]["schemas"]["ValidateRequest"]["properties"]["codes"]
    assert codes["maxItems"] == 30 and codes["items"]["maxLength"] == 100


def test_size_limits_say_what_the_limit_is(sandbox):
    response = APIClient().post(
        VALIDATE,
        {"codes": ["A"], "order": {"items": [{"source_id": "x", "quantity": 1, "price": 1}] * 501}},
        format="json",
    )
    assert "An order has at most 500 lines." in str(response.json()["order"]["items"])
    response = APIClient().post(VALIDATE, {"codes": ["A"], "order": {"amount": 10**13}}, format="json")
    assert response.json()["order"]["amount"] == ["At most 1000000000000."]
    response = APIClient().post(VALIDATE, {"codes": ["\u200bA"], "order": {"amount": 1}}, format="json")
    assert "invisible or control characters" in str(response.json()["codes"])


def test_codes_in_any_script_are_accepted(sandbox):
    make_voucher("ÉTÉ-ПРИВЕТ-夏")
    body = {
        "codes": ["ÉTÉ-ПРИВЕТ-夏"],
        "order": {"amount": 1000, "items": [{"source_id": "x", "quantity": 10**6, "price": 10**6}]},
    }
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code == 200 and response.json()["valid"], response.json()


def test_lock_needs_a_signed_in_user(sandbox, shopper):
    make_voucher("FIVE", quantity=1)
    body = {"codes": ["FIVE"], "order": {"amount": 8000}, "lock": True}
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code in (401, 403) and "Sign in" in response.json()["detail"]
    assert not sandbox.calls.count("POST", "/v1/validations")  # no session was opened
    client = APIClient()
    client.force_authenticate(shopper[0])
    response = client.post(VALIDATE, body, format="json")
    assert response.status_code == 200 and response.json()["session_key"]


def _guesses(client, count, **headers):
    return [
        client.post(
            VALIDATE,
            {"codes": [f"GUESS{i}"], "order": {"amount": 100}},
            format="json",
            **{key: value.format(i=i) for key, value in headers.items()},
        ).status_code
        for i in range(count)
    ]


def test_spoofed_forwarded_for_does_not_escape_the_throttle(sandbox):
    rates = {"DEFAULT_THROTTLE_RATES": {"voucherify_validate": "3/min", "voucherify_validate_failures": None}}
    with override_settings(REST_FRAMEWORK=rates):
        codes = _guesses(APIClient(), 5, HTTP_X_FORWARDED_FOR="10.0.{i}.1")
    assert codes == [200, 200, 200, 429, 429]
    assert sandbox.calls.count("POST", "/v1/validations") == 3


def test_forwarded_for_is_used_when_the_proxies_are_declared(sandbox):
    rates = {"voucherify_validate": "3/min", "voucherify_validate_failures": None}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates, "NUM_PROXIES": 1}):
        # The proxy appends the address it saw; what a client wrote before it is ignored.
        five_clients = _guesses(
            APIClient(), 5, HTTP_X_FORWARDED_FOR="1.1.1.1, 10.0.{i}.1", REMOTE_ADDR="192.0.2.10"
        )
        one_client = _guesses(
            APIClient(), 5, HTTP_X_FORWARDED_FOR="10.9.{i}.9, 203.0.113.7", REMOTE_ADDR="192.0.2.10"
        )
    assert five_clients == [200] * 5
    assert one_client == [200, 200, 200, 429, 429]


def test_unknown_codes_are_throttled_more_tightly_than_validations(sandbox):
    make_voucher("FIVE")
    rates = {"voucherify_validate": "100/min", "voucherify_validate_failures": "3/hour"}
    client = APIClient()
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        known = [
            client.post(VALIDATE, {"codes": ["FIVE"], "order": {"amount": 1000}}, format="json").status_code
            for _ in range(6)
        ]
        guesses = _guesses(client, 5)
        after = client.post(VALIDATE, {"codes": ["FIVE"], "order": {"amount": 1000}}, format="json")
    assert known == [200] * 6  # codes that exist do not count
    assert guesses == [200, 200, 200, 429, 429]
    assert after.status_code == 429  # until the window passes
    assert sandbox.calls.count("POST", "/v1/validations") == 9
