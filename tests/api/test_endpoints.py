"""Every in-scope Voucherify operation, checked against the wire and against the contract.

One table row per ``operationId`` (SCOPE.md's 45 and SCOPE-2.md's 63; the offers' rows live in
``offer_cases.py``): a call of the client method with realistic arguments and what must reach
Voucherify for it: HTTP method, exact (percent-encoded) path, query string (deepObject filters,
repeated ``ids``), JSON body. Beside it: the registry ``ENDPOINTS`` must agree with the scope
files and with the published OpenAPI spec, request bodies must validate against the spec's
requestBody schemas and use only the field names they declare, and responses (the spec's own
examples among them) come back as parsed, unmodified JSON.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jsonschema
import pytest
import responses
from django.conf import settings

from django_voucherify.api import ENDPOINTS, RetryPolicy, VoucherifyClient
from django_voucherify.sandbox import openapi
from django_voucherify.sandbox.openapi import voucherify_spec
from tests.api.offer_cases import MULTIPART_OFFERS, OFFER_CASES
from tests.api.wire import (
    ANY_URL,
    API,
    CUSTOMER,
    CUSTOMER_ENC,
    DOWNLOAD,
    NO_BODY,
    ORDER,
    ORDER_ENC,
    TRANSACTIONS_EXPORT,
    WEIRD,
    WEIRD_ENC,
    Case,
    FakeSleep,
    sends,
)

spec = voucherify_spec
scope = functools.cache(openapi.scope_all)


@functools.cache
def spec_operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (HTTP method, path template, operation object)."""
    out = {}
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                out[operation["operationId"]] = (method.upper(), path, operation)
    return out


# --- the table ---------------------------------------------------------------------------------

CREATED_BEFORE = "2024-06-30T23:59:59.999Z"
CREATED_AFTER = datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
DISCOUNT = {"type": "PERCENT", "percent_off": 15, "effect": "APPLY_TO_ORDER"}
ORDER_BODY = {
    "source_id": ORDER,
    "status": "PAID",
    "amount": 24900,
    "items": [
        {"source_id": "sku-ring-42", "related_object": "sku", "quantity": 2, "price": 9950},
        {"product_id": "prod_0a41bcf6", "quantity": 1, "price": 5000},
    ],
    "customer": {"source_id": CUSTOMER, "email": "anna@example.com"},
    "metadata": {"channel": "web", "store": "Berlin"},
}
REDEEMABLES = [
    {"object": "voucher", "id": "SUMMER-15"},
    {"object": "voucher", "id": "GIFT-4F2K", "gift": {"credits": 2000}},
    {"object": "promotion_tier", "id": "promo_kQSKQy2FmsxKsw46tpaWcqwG"},
]


CASES: dict[str, Case] = {
    # Vouchers
    "create-voucher": sends(
        {
            "type": "DISCOUNT_VOUCHER",
            "category": "summer",
            "discount": DISCOUNT,
            "redemption": {"quantity": 1},
            "expiration_date": "2024-09-01T00:00:00Z",
            "metadata": {"source": "newsletter", "tier": 2},
        },
        lambda c, b: c.vouchers.create(WEIRD, b),
        "POST",
        f"/v1/vouchers/{WEIRD_ENC}",
    ),
    "generate-random-code": sends(
        {
            "type": "GIFT_VOUCHER",
            "gift": {"amount": 5000, "effect": "APPLY_TO_ORDER"},
            "code_config": {"pattern": "GIFT-####", "charset": "0123456789"},
        },
        lambda c, b: c.vouchers.generate(b),
        "POST",
        "/v1/vouchers",
    ),
    "get-voucher": Case(lambda c: c.vouchers.get(WEIRD), "GET", f"/v1/vouchers/{WEIRD_ENC}"),
    "update-voucher": sends(
        {"active": False, "metadata": {"paused": True}},
        lambda c, b: c.vouchers.update("SUMMER-15", b),
        "PUT",
        "/v1/vouchers/SUMMER-15",
    ),
    "delete-voucher": Case(
        lambda c: c.vouchers.delete(WEIRD, force=True),
        "DELETE",
        f"/v1/vouchers/{WEIRD_ENC}",
        query=[("force", "true")],
        status=204,
    ),
    "enable-voucher": Case(lambda c: c.vouchers.enable(WEIRD), "POST", f"/v1/vouchers/{WEIRD_ENC}/enable"),
    "disable-voucher": Case(lambda c: c.vouchers.disable(WEIRD), "POST", f"/v1/vouchers/{WEIRD_ENC}/disable"),
    "list-vouchers": Case(
        lambda c: c.vouchers.list(
            limit=50,
            page=3,
            category="summer",
            campaign="Summer Sale 2024",
            customer="cust_7hQ2Lm",
            created_at={"before": CREATED_BEFORE, "after": CREATED_AFTER},
            updated_at={"after": "2024-02-01T00:00:00Z"},
            order="-created_at",
            ids=["v_1aX", "v_2bY", "v_3cZ"],
            filters={
                "junction": "AND",
                "code": {"conditions": {"$in": ["SUMMER-15", "A&B=C"]}},
                "active": {"conditions": {"$is": True}},
            },
        ),
        "GET",
        "/v1/vouchers",
        query=[
            ("limit", "50"),
            ("page", "3"),
            ("category", "summer"),
            ("campaign", "Summer Sale 2024"),
            ("customer", "cust_7hQ2Lm"),
            ("created_at[before]", CREATED_BEFORE),
            ("created_at[after]", "2024-01-01T08:30:00+00:00"),
            ("updated_at[after]", "2024-02-01T00:00:00Z"),
            ("order", "-created_at"),
            ("ids", "v_1aX"),
            ("ids", "v_2bY"),
            ("ids", "v_3cZ"),
            ("filters[junction]", "AND"),
            ("filters[code][conditions][$in][0]", "SUMMER-15"),
            ("filters[code][conditions][$in][1]", "A&B=C"),
            ("filters[active][conditions][$is]", "true"),
        ],
    ),
    "update-voucher-balance": Case(
        lambda c: c.vouchers.update_balance(WEIRD, -2000, source_id="refund-881", reason="refund"),
        "POST",
        f"/v1/vouchers/{WEIRD_ENC}/balance",
        body={"amount": -2000, "source_id": "refund-881", "reason": "refund"},
    ),
    "list-voucher-transactions": Case(
        lambda c: c.vouchers.list_transactions(
            WEIRD, limit=25, order="-id", starting_after_id="vtx_0c9afe802593b34b80"
        ),
        "GET",
        f"/v1/vouchers/{WEIRD_ENC}/transactions",
        query=[("limit", "25"), ("order", "-id"), ("starting_after_id", "vtx_0c9afe802593b34b80")],
    ),
    "export-voucher-transactions": sends(
        TRANSACTIONS_EXPORT,
        lambda c, b: c.vouchers.export_transactions(WEIRD, b),
        "POST",
        f"/v1/vouchers/{WEIRD_ENC}/transactions/export",
        envelope="parameters",
    ),
    "import-vouchers": sends(
        [
            {"code": "IMP-1", "type": "DISCOUNT_VOUCHER", "discount": DISCOUNT, "metadata": {"batch": 7}},
            {"code": "IMP-2", "type": "GIFT_VOUCHER", "gift": {"amount": 1000}},
        ],
        lambda c, b: c.vouchers.import_json(b),
        "POST",
        "/v1/vouchers/import",
    ),
    "import-vouchers-using-csv": sends(
        b"Code,Value\nCSV-1,10\n",
        lambda c, b: c.vouchers.import_csv(b, filename="vouchers.csv"),
        "POST",
        "/v1/vouchers/importCSV",
    ),
    "update-vouchers-in-bulk": sends(
        [
            {"code": "SUMMER-15", "metadata": {"region": "EU"}},
            {"code": WEIRD, "metadata": {"region": "US"}},
        ],
        lambda c, b: c.vouchers.bulk_update(b),
        "POST",
        "/v1/vouchers/bulk/async",
    ),
    "update-vouchers-metadata-in-bulk": Case(
        lambda c: c.vouchers.update_metadata(["SUMMER-15", WEIRD], {"lang": "en", "vip": True}),
        "POST",
        "/v1/vouchers/metadata/async",
        body={"codes": ["SUMMER-15", WEIRD], "metadata": {"lang": "en", "vip": True}},
    ),
    "release-validation-session": Case(
        lambda c: c.vouchers.release_session(WEIRD, "ssn/yQGMTeKBSw8OOuFPwlBEjzQy"),
        "DELETE",
        f"/v1/vouchers/{WEIRD_ENC}/sessions/ssn%2FyQGMTeKBSw8OOuFPwlBEjzQy",
        status=204,
    ),
    # Redemptions
    "redeem-stacked-discounts": sends(
        {
            "redeemables": REDEEMABLES,
            "order": ORDER_BODY,
            "customer": {"source_id": CUSTOMER},
            "session": {"type": "LOCK", "key": "ssn_1"},
            "metadata": {"pos": "till-3"},
            "options": {"expand": ["order"]},
        },
        lambda c, b: c.redemptions.redeem(b),
        "POST",
        "/v1/redemptions",
    ),
    "get-redemption": Case(
        lambda c: c.redemptions.get("r_0ba186c4824e4881e1"), "GET", "/v1/redemptions/r_0ba186c4824e4881e1"
    ),
    "list-redemptions": Case(
        lambda c: c.redemptions.list(
            limit=100,
            page=99,
            result="SUCCESS",
            campaign="Summer Sale",
            customer="cust_7hQ2Lm",
            order="-created_at",
            created_at={"after": "2024-01-01T00:00:00Z"},
            filters={
                "voucher_code": {"conditions": {"$is": WEIRD}},
                "object": {"conditions": {"$in": ["redemption", "redemption_rollback"]}},
            },
        ),
        "GET",
        "/v1/redemptions",
        query=[
            ("limit", "100"),
            ("page", "99"),
            ("result", "SUCCESS"),
            ("campaign", "Summer Sale"),
            ("customer", "cust_7hQ2Lm"),
            ("order", "-created_at"),
            ("created_at[after]", "2024-01-01T00:00:00Z"),
            ("filters[voucher_code][conditions][$is]", WEIRD),
            ("filters[object][conditions][$in][0]", "redemption"),
            ("filters[object][conditions][$in][1]", "redemption_rollback"),
        ],
    ),
    "get-voucher-redemptions": Case(
        lambda c: c.redemptions.for_voucher(WEIRD), "GET", f"/v1/vouchers/{WEIRD_ENC}/redemption"
    ),
    "rollback-redemption": sends(
        {"customer": {"source_id": CUSTOMER}, "metadata": {"ticket": "Z-17"}},
        lambda c, b: c.redemptions.rollback(
            "r_0ba186c4824e4881e1",
            reason="order cancelled",
            tracking_id=CUSTOMER,
            body=b,
        ),
        "POST",
        "/v1/redemptions/r_0ba186c4824e4881e1/rollback",
        query=[("reason", "order cancelled"), ("tracking_id", CUSTOMER)],
    ),
    "rollback-stacked-redemptions": sends(
        {"order": {"source_id": ORDER}},
        lambda c, b: c.redemptions.rollback_stacked("r_0c656311b5878a2031", reason="return", body=b),
        "POST",
        "/v1/redemptions/r_0c656311b5878a2031/rollbacks",
        query=[("reason", "return")],
    ),
    # Customers
    "create-customer": sends(
        {
            "source_id": CUSTOMER,
            "name": "Anna Müller",
            "email": "anna@example.com",
            "phone": "+49 30 1234567",
            "birthdate": "1990-04-12",
            "address": {"city": "Berlin", "country": "DE", "postal_code": "10115"},
            "metadata": {"newsletter": True},
        },
        lambda c, b: c.customers.create(b),
        "POST",
        "/v1/customers",
    ),
    "get-customer": Case(lambda c: c.customers.get(CUSTOMER), "GET", f"/v1/customers/{CUSTOMER_ENC}"),
    "update-customer": sends(
        {"email": "anna.m@example.com", "metadata": {"newsletter": False}},
        lambda c, b: c.customers.update(CUSTOMER, b),
        "PUT",
        f"/v1/customers/{CUSTOMER_ENC}",
    ),
    "delete-customer": Case(
        lambda c: c.customers.delete(CUSTOMER), "DELETE", f"/v1/customers/{CUSTOMER_ENC}", status=204
    ),
    "customer-permanently-deletion": Case(
        lambda c: c.customers.delete_permanently(CUSTOMER),
        "POST",
        f"/v1/customers/{CUSTOMER_ENC}/permanent-deletion",
    ),
    "list-customers": Case(
        lambda c: c.customers.list(
            limit=100,
            page=2,
            email="anna@example.com",
            city="Berlin",
            name="Anna",
            segment_id="seg_1wc52c5z6r1kQ81brO8j9Hk2",
            created_at={"before": CREATED_BEFORE, "after": "2024-01-01T00:00:00Z"},
            updated_at={"before": "2024-07-01T00:00:00Z"},
            order="created_at",
            starting_after="2024-05-24T13:43:09.024Z",
        ),
        "GET",
        "/v1/customers",
        query=[
            ("limit", "100"),
            ("page", "2"),
            ("email", "anna@example.com"),
            ("city", "Berlin"),
            ("name", "Anna"),
            ("segment_id", "seg_1wc52c5z6r1kQ81brO8j9Hk2"),
            ("created_at[before]", CREATED_BEFORE),
            ("created_at[after]", "2024-01-01T00:00:00Z"),
            ("updated_at[before]", "2024-07-01T00:00:00Z"),
            ("order", "created_at"),
            ("starting_after", "2024-05-24T13:43:09.024Z"),
        ],
    ),
    "list-customer-activity": Case(
        lambda c: c.customers.list_activity(
            CUSTOMER,
            limit=10,
            order="-created_at",
            starting_after_id="evcus_0c150c51730c6b60b1",
            start_date="2024-01-01T00:00:00Z",
            end_date="2024-02-01T00:00:00Z",
            campaign_type="LOYALTY_PROGRAM",
            category="ACTION",
            type="customer.rewarded",
        ),
        "GET",
        f"/v1/customers/{CUSTOMER_ENC}/activity",
        query=[
            ("limit", "10"),
            ("order", "-created_at"),
            ("starting_after_id", "evcus_0c150c51730c6b60b1"),
            ("start_date", "2024-01-01T00:00:00Z"),
            ("end_date", "2024-02-01T00:00:00Z"),
            ("campaign_type", "LOYALTY_PROGRAM"),
            ("category", "ACTION"),
            ("type", "customer.rewarded"),
        ],
    ),
    "list-customer-redeemables": Case(
        lambda c: c.customers.list_redeemables(
            CUSTOMER,
            limit=100,
            order="-id",
            starting_after_id="rh_0e77502f84f0f4a6a8",
            filters={
                "redeemable_object": {"conditions": {"$in": ["voucher"]}},
                "campaign_type": {"conditions": {"$is": "GIFT_VOUCHERS"}},
            },
        ),
        "GET",
        f"/v1/customers/{CUSTOMER_ENC}/redeemables",
        query=[
            ("limit", "100"),
            ("order", "-id"),
            ("starting_after_id", "rh_0e77502f84f0f4a6a8"),
            ("filters[redeemable_object][conditions][$in][0]", "voucher"),
            ("filters[campaign_type][conditions][$is]", "GIFT_VOUCHERS"),
        ],
    ),
    "list-customer-segments": Case(
        lambda c: c.customers.list_segments(CUSTOMER), "GET", f"/v1/customers/{CUSTOMER_ENC}/segments"
    ),
    "import-customers-using-csv": Case(
        lambda c: c.customers.import_csv(io.BytesIO(b"source_id,email\nc-1,a@example.com\n")),
        "POST",
        "/v1/customers/importCSV",
        body=b"source_id,email\nc-1,a@example.com\n",
    ),
    "update-customers-in-bulk": sends(
        [
            {"source_id": CUSTOMER, "email": "anna@example.com", "metadata": {"tier": "gold"}},
            {"source_id": "cust-2", "name": "Ben", "address": {"city": "Paris", "country": "FR"}},
        ],
        lambda c, b: c.customers.bulk_update(b),
        "POST",
        "/v1/customers/bulk/async",
    ),
    "update-customers-metadata-in-bulk": Case(
        lambda c: c.customers.update_metadata([CUSTOMER, "cust-2"], {"consent": "2024-05"}),
        "POST",
        "/v1/customers/metadata/async",
        body={"source_ids": [CUSTOMER, "cust-2"], "metadata": {"consent": "2024-05"}},
    ),
    # Orders
    "create-order": sends(ORDER_BODY, lambda c, b: c.orders.create(b), "POST", "/v1/orders"),
    "get-order": Case(lambda c: c.orders.get(ORDER), "GET", f"/v1/orders/{ORDER_ENC}"),
    "update-order": sends(
        {"status": "CANCELED", "metadata": {"reason": "stock"}},
        lambda c, b: c.orders.update(ORDER, b),
        "PUT",
        f"/v1/orders/{ORDER_ENC}",
    ),
    "list-orders": Case(
        lambda c: c.orders.list(limit=100, page=100, order="-updated_at"),
        "GET",
        "/v1/orders",
        query=[("limit", "100"), ("page", "100"), ("order", "-updated_at")],
    ),
    "import-orders": sends(
        [
            {**ORDER_BODY, "status": "FULFILLED"},
            {
                "source_id": "ORD-2",
                "amount": 1000,
                "status": "FULFILLED",
                "customer": {"source_id": "cust-2"},
            },
        ],
        lambda c, b: c.orders.import_json(b),
        "POST",
        "/v1/orders/import",
    ),
    "create-order-export": sends(
        {
            "order": "-created_at",
            "fields": ["id", "source_id", "amount"],
            "filters": {"junction": "and", "status": {"conditions": {"$in": ["PAID"]}}},
        },
        lambda c, b: c.orders.export(b),
        "POST",
        "/v1/orders/export",
        envelope="parameters",
    ),
    # Async actions, validations, exports
    "get-async-action": Case(
        lambda c: c.async_actions.get("aa_0adad13d6f057f088e"),
        "GET",
        "/v1/async-actions/aa_0adad13d6f057f088e",
    ),
    "list-async-actions": Case(
        lambda c: c.async_actions.list(limit=50, end_date="2024-03-01T12:00:00Z"),
        "GET",
        "/v1/async-actions",
        query=[("limit", "50"), ("end_date", "2024-03-01T12:00:00Z")],
    ),
    "validate-stacked-discounts": sends(
        {
            "redeemables": REDEEMABLES,
            "order": ORDER_BODY,
            "customer": {"source_id": CUSTOMER},
            "session": {"type": "LOCK"},
            "options": {"expand": ["order", "redeemable"]},
        },
        lambda c, b: c.validations.validate(b),
        "POST",
        "/v1/validations",
    ),
    "create-export": Case(
        lambda c: c.exports.create(
            "voucher",
            {
                "order": "-created_at",
                "fields": ["code", "voucher_type", "value", "metadata"],
                "filters": {"junction": "and", "category": {"conditions": {"$in": ["summer"]}}},
            },
        ),
        "POST",
        "/v1/exports",
        body={
            "exported_object": "voucher",
            "parameters": {
                "order": "-created_at",
                "fields": ["code", "voucher_type", "value", "metadata"],
                "filters": {"junction": "and", "category": {"conditions": {"$in": ["summer"]}}},
            },
        },
    ),
    "list-exports": Case(
        lambda c: c.exports.list(limit=20, page=2, order="-created_at"),
        "GET",
        "/v1/exports",
        query=[("limit", "20"), ("page", "2"), ("order", "-created_at")],
    ),
    "delete-export": Case(
        lambda c: c.exports.delete("exp_ex6zq0x0EEa9S0N68QcqhxcQ"),
        "DELETE",
        "/v1/exports/exp_ex6zq0x0EEa9S0N68QcqhxcQ",
        status=204,
    ),
    "get-export": Case(
        lambda c: c.exports.get("exp_ex6zq0x0EEa9S0N68QcqhxcQ"),
        "GET",
        "/v1/exports/exp_ex6zq0x0EEa9S0N68QcqhxcQ",
    ),
    "download-export": Case(
        lambda c: c.exports.download("exp_ex6zq0x0EEa9S0N68QcqhxcQ", "tok/+=%&"),
        "GET",
        "/v1/exports/exp_ex6zq0x0EEa9S0N68QcqhxcQ",
        query=[("token", "tok/+=%&")],
        base=DOWNLOAD,
        response='id,code\nv_1,Ünïcode "CODE",x\r\n'.encode(),
        content_type="text/plain",
    ),
}

CASES.update(OFFER_CASES)

#: Operations sent as multipart CSV uploads (their body is checked as a file part).
MULTIPART = {"import-vouchers-using-csv", "import-customers-using-csv", *MULTIPART_OFFERS}


def served_json(operation_id: str) -> dict[str, Any]:
    """A response with fields the client has never heard of: they must all come back."""
    return {
        "id": f"id_{operation_id}",
        "object": operation_id.replace("-", "_"),
        "amount": 1234,
        "total": 0,
        "has_more": False,
        "created_at": "2024-05-24T13:43:09.024Z",
        "x_future_field": {"nested": [1, 2.5, None, "ü", {"deep": True}]},
        "metadata": {"anything": ["goes", {"here": None}]},
    }


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def client() -> VoucherifyClient:
    conf = settings.VOUCHERIFY
    with VoucherifyClient(
        conf["APP_ID"],
        conf["SECRET_KEY"],
        conf["API_URL"],
        sleep=FakeSleep(),
        retry=RetryPolicy(max_retries=0, budget=0.0),
    ) as built:
        yield built


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Query pairs keyed by name, values in sending order (so repeated ``ids`` keep order)."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def sent_query(request: Any) -> dict[str, list[str]]:
    return grouped(parse_qsl(urlsplit(request.url).query, keep_blank_values=True, strict_parsing=False))


def read_body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if hasattr(body, "read"):
        return body.read()
    return b"".join(body)


def multipart_file(request: Any) -> tuple[str, bytes]:
    """The one file part of a multipart request: (part headers, content)."""
    content_type = request.headers["Content-Type"]
    match = re.fullmatch(r"multipart/form-data; boundary=(\S+)", content_type)
    assert match, content_type
    boundary = match.group(1).encode()
    raw = read_body(request)
    assert raw.startswith(b"--" + boundary + b"\r\n")
    assert raw.endswith(b"\r\n--" + boundary + b"--\r\n")
    parts = raw.split(b"--" + boundary)
    assert len(parts) == 3, parts  # preamble, the file part, closing "--\r\n"
    head, _, content = parts[1].removeprefix(b"\r\n").partition(b"\r\n\r\n")
    return head.decode(), content.removesuffix(b"\r\n")


# --- the table against the wire ---------------------------------------------------------------


@pytest.mark.parametrize("operation_id", sorted(CASES))
def test_operation_on_the_wire(operation_id, client, mocked, monkeypatch):
    case = CASES[operation_id]
    ep = ENDPOINTS[operation_id]

    # The lambda must go through the method the registry names for this operation.
    resource_cls = type(getattr(client, ep.namespace))
    served_by: list[str] = []
    original = getattr(resource_cls, ep.method_name)

    @functools.wraps(original)
    def spy(*args: Any, **kwargs: Any) -> Any:
        served_by.append(operation_id)
        return original(*args, **kwargs)

    monkeypatch.setattr(resource_cls, ep.method_name, spy)

    if case.content_type == "application/json":
        served = served_json(operation_id) if case.status != 204 else None
        mocked.add(
            case.method,
            ANY_URL,
            status=case.status,
            body=json.dumps(served) if served is not None else b"",
            content_type="application/json",
        )
    else:
        served = case.response
        mocked.add(case.method, ANY_URL, status=case.status, body=served, content_type=case.content_type)

    result = case.call(client)

    assert served_by == [operation_id], f"{operation_id} is not served by {ep.qualified_name}"
    assert len(mocked.calls) == 1
    request = mocked.calls[0].request
    url = urlsplit(request.url)
    assert request.method == case.method
    assert f"{url.scheme}://{url.netloc}" == case.base
    assert url.path == case.path
    assert not url.fragment
    assert sent_query(request) == grouped(case.query)

    # Headers on every call.
    assert request.headers["X-App-Id"] == "test-app-id"
    assert request.headers["X-App-Token"] == "test-secret-key"
    assert request.headers["User-Agent"].startswith("django-voucherify/")

    if operation_id in MULTIPART:
        head, content = multipart_file(request)
        assert 'name="file"' in head
        assert content == case.body
    elif case.body is NO_BODY:
        assert read_body(request) == b""
    else:
        assert request.headers["Content-Type"].split(";")[0] == "application/json"
        assert json.loads(read_body(request)) == case.body

    # The parsed response comes back as served: nothing dropped, nothing added, nothing renamed.
    if case.status == 204:
        assert result is None
    else:
        assert result == served


@pytest.mark.parametrize("operation_id", sorted(CASES))
def test_path_matches_registered_template(operation_id):
    """The exact path in the table is an instance of the registry's template."""
    template = ENDPOINTS[operation_id].path
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    assert re.fullmatch(pattern, CASES[operation_id].path), (template, CASES[operation_id].path)


def test_table_covers_every_registered_endpoint():
    """A new endpoint without a row here fails (and so does a row for an unknown operation)."""
    assert set(CASES) == set(ENDPOINTS)


# --- registry against SCOPE.md and openapi.json -----------------------------------------------


def test_scope_lists_108_operations():
    """SCOPE.md's 45 and SCOPE-2.md's 63 (its exports, then the offers)."""
    rows = scope()
    assert len(rows) == 108
    assert len({op for op, _, _ in rows}) == 108
    assert {op for op, _, _ in rows} >= {"create-export", "check-eligibility", "list-SKUs-in-product"}
    assert len(openapi.scope()) == 48  # the first part, which the sandbox serves too


@pytest.mark.parametrize("operation_id,method,path", scope())
def test_scope_operation_is_registered_as_in_scope_and_spec(operation_id, method, path):
    assert operation_id in ENDPOINTS, f"no client method serves {operation_id}"
    ep = ENDPOINTS[operation_id]
    assert (ep.http_method, ep.path) == (method, path)
    spec_method, spec_path, _ = spec_operations()[operation_id]
    assert (spec_method, spec_path) == (method, path)


@pytest.mark.parametrize("operation_id", sorted(ENDPOINTS))
def test_registered_endpoint_exists_in_spec(operation_id):
    ep = ENDPOINTS[operation_id]
    assert operation_id in spec_operations()
    spec_method, spec_path, _ = spec_operations()[operation_id]
    assert (ep.http_method, ep.path) == (spec_method, spec_path)
    # The registered function is really the method reachable under that name.
    client = VoucherifyClient("a", "b")
    bound = getattr(getattr(client, ep.namespace), ep.method_name)
    assert bound.__func__ is ep.function
    assert ep.qualified_name == f"client.{ep.namespace}.{ep.method_name}"


def test_query_parameters_used_in_table_are_declared_by_the_spec():
    """Every query name the table expects is a parameter of that operation in openapi.json
    (deepObject names checked by their root, ``created_at[before]`` -> ``created_at``)."""
    problems = []
    for operation_id, case in CASES.items():
        declared = {p["name"] for p in spec_parameters(operation_id) if p["in"] == "query"}
        for name, _ in case.query:
            root = name.split("[", 1)[0]
            if name not in declared and root not in declared:
                problems.append((operation_id, name))
    assert problems == []


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def spec_parameters(operation_id: str) -> list[dict[str, Any]]:
    _, path, operation = spec_operations()[operation_id]
    item = spec()["paths"][path]
    return [resolve(p) for p in item.get("parameters", []) + operation.get("parameters", [])]


# --- request bodies against the spec's schemas ------------------------------------------------


def openapi30_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` is JSON Schema's ``type: [..., "null"]``."""
    if isinstance(node, list):
        return [openapi30_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi30_to_jsonschema(v) for k, v in node.items()}
    if "oneOf" in out:
        # The spec's oneOf alternatives overlap (it relies on discriminators, e.g. ``object``):
        # JSON Schema's "exactly one" would reject valid bodies, so read it as "at least one".
        out["anyOf"] = out.pop("oneOf")
    if isinstance(out.get("required"), list) and isinstance(out.get("properties"), dict):
        # Spec artefact: OrderItem "requires" ``object``, which it does not even declare (it is
        # set in responses only). A requirement on an undeclared field is not a request contract.
        out["required"] = [name for name in out["required"] if name in out["properties"]]
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        elif "type" not in out:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@functools.cache
def json_schema_components() -> dict[str, Any]:
    return openapi30_to_jsonschema(copy.deepcopy(spec()["components"]))


def request_schema(operation_id: str, content_type: str = "application/json") -> dict[str, Any]:
    _, _, operation = spec_operations()[operation_id]
    return operation["requestBody"]["content"][content_type]["schema"]


def declared_properties(schema: Any) -> set[str] | None:
    """Names of the properties an object schema declares (through $ref/allOf/anyOf/oneOf);
    None when it declares none (free-form object)."""
    schema = resolve(schema)
    names = set(schema.get("properties", {}))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            names |= declared_properties(sub) or set()
    return names or None


JSON_BODY_OPERATIONS = sorted(
    op for op, case in CASES.items() if case.body is not NO_BODY and op not in MULTIPART
)


@pytest.mark.parametrize("operation_id", JSON_BODY_OPERATIONS)
def test_body_validates_against_spec_request_schema(operation_id, client, mocked):
    """The body the client actually sent validates against the operation's requestBody schema,
    and uses only field names the schema declares (top level, and per item for arrays)."""
    case = CASES[operation_id]
    mocked.add(case.method, ANY_URL, json=served_json(operation_id))
    case.call(client)
    sent = json.loads(read_body(mocked.calls[0].request))

    schema = request_schema(operation_id)
    root = {"components": json_schema_components(), "allOf": [openapi30_to_jsonschema(schema)]}
    validator = jsonschema.Draft7Validator(root)
    errors = sorted(validator.iter_errors(sent), key=lambda e: list(e.absolute_path))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]

    resolved = resolve(schema)
    if resolved.get("type") == "array":
        assert isinstance(sent, list)
        allowed = declared_properties(resolved["items"])
        items = sent
    else:
        allowed = declared_properties(resolved)
        items = [sent]
    if allowed is not None:
        for item in items:
            assert set(item) <= allowed, f"undeclared fields {set(item) - allowed}"


def test_body_schema_check_can_fail():
    """The validator above is not vacuous: a wrongly named or typed field is caught."""
    schema = request_schema("update-voucher-balance")
    root = {"components": json_schema_components(), "allOf": [openapi30_to_jsonschema(schema)]}
    validator = jsonschema.Draft7Validator(root)
    assert not validator.is_valid({"amount": "12.50"})
    assert validator.is_valid({"amount": None, "reason": None})  # nullable honoured
    assert declared_properties(schema) == {"amount", "source_id", "reason"}
    assert "balance" not in declared_properties(schema)


@pytest.mark.parametrize("operation_id", sorted(MULTIPART))
def test_csv_upload_field_is_the_spec_file_field(operation_id):
    assert declared_properties(request_schema(operation_id, "multipart/form-data")) >= {"file"}


# --- percent-encoding of path parameters ------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "A/B?C#D%E ü",
        "50%OFF",
        "a+b=c&d",
        "...",
        "%2F",
        "~tilde_under-dash.",
        "émoji-🎉",
        "semi;colon,comma:colon@at",
    ],
)
def test_code_round_trips_as_one_path_segment(code, client, mocked):
    mocked.add("GET", ANY_URL, json={"code": code})
    mocked.add("DELETE", ANY_URL, status=204)
    mocked.add("GET", ANY_URL, json={"code": code, "total": 0})

    assert client.vouchers.get(code) == {"code": code}
    client.vouchers.release_session(code, code)
    client.redemptions.for_voucher(code)

    segment = quote(code, safe="")
    expected = [
        f"/v1/vouchers/{segment}",
        f"/v1/vouchers/{segment}/sessions/{segment}",
        f"/v1/vouchers/{segment}/redemption",
    ]
    for call, path in zip(mocked.calls, expected, strict=True):
        url = urlsplit(call.request.url)
        assert url.path == path
        assert url.query == "" and url.fragment == ""
        # Decoding the one segment gives the code back: nothing was split or normalised away.
        parts = url.path.split("/")
        assert parts[3] == segment
        assert unquote(parts[3]) == code


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_path_parameter_that_cannot_be_one_segment_is_refused(bad, client, mocked):
    """``""``, ``"."`` and ``".."`` cannot travel as one path segment: requests/urllib3 remove
    dot segments (and ``%2E`` is unquoted back to ``.``), so they would silently address another
    resource. ``release_session("SUMMER-15", "..")`` would become
    ``DELETE /v1/vouchers/SUMMER-15`` (deleting the voucher), ``vouchers.create("", ...)``
    would become ``POST /v1/vouchers/`` (a random code), ``vouchers.get("..")`` ``GET /v1/``.
    The client must refuse them before anything is sent."""
    mocked.assert_all_requests_are_fired = False
    mocked.add("GET", ANY_URL, json={})
    mocked.add("POST", ANY_URL, json={})
    mocked.add("PUT", ANY_URL, json={})
    mocked.add("DELETE", ANY_URL, status=204)
    calls = [
        lambda: client.vouchers.get(bad),
        lambda: client.vouchers.create(bad, {"type": "DISCOUNT_VOUCHER", "discount": DISCOUNT}),
        lambda: client.vouchers.delete(bad),
        lambda: client.vouchers.release_session("SUMMER-15", bad),
        lambda: client.customers.delete(bad),
        lambda: client.orders.update(bad, {"status": "PAID"}),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert [c.request.url for c in mocked.calls] == []


def test_weird_code_url_is_exact(client, mocked):
    mocked.add("GET", ANY_URL, json={})
    client.vouchers.get(WEIRD)
    assert mocked.calls[0].request.url == f"{API}/v1/vouchers/{WEIRD_ENC}"


# --- auth headers and User-Agent --------------------------------------------------------------


def test_client_from_settings_sends_settings_credentials(mocked):
    client = VoucherifyClient.from_settings(sleep=FakeSleep())
    mocked.add("GET", ANY_URL, json={"id": "v_1"})
    mocked.add("POST", ANY_URL, json={"id": "cust_1"})
    client.vouchers.get("X")
    client.customers.create({"source_id": "c"})
    for call in mocked.calls:
        assert call.request.url.startswith(settings.VOUCHERIFY["API_URL"] + "/v1/")
        assert call.request.headers["X-App-Id"] == "test-app-id"
        assert call.request.headers["X-App-Token"] == "test-secret-key"
        assert re.match(r"django-voucherify/\d+\.\d+", call.request.headers["User-Agent"])
    client.close()


def test_download_into_file_streams_content(client, mocked):
    content = b"id,code\n" + b"".join(b"v_%06d,CODE%06d\n" % (i, i) for i in range(50_000))
    mocked.add("GET", ANY_URL, body=content, content_type="text/plain")
    sink = io.BytesIO()
    written = client.exports.download("exp_1", "tok", into=sink)
    assert written == len(content)
    assert sink.getvalue() == content
    request = mocked.calls[0].request
    assert request.url.startswith(f"{DOWNLOAD}/v1/exports/exp_1?")
    assert request.headers["X-App-Token"] == "test-secret-key"
