"""Requests are checked against the spec's request schemas (sandbox/request_schema.py)."""

from __future__ import annotations

import copy

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import request_schema, spec_patches
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.errors import SandboxError
from django_voucherify.sandbox.openapi import sandbox_scope, voucherify_spec
from tests.support import fuzz
from tests.support.sandbox import Api, redeem

CUSTOMER = {"source_id": "c1", "name": "Ann", "address": {"city": "Berlin", "line_1": "Main 1"}}


def _request_examples() -> list[tuple[str, object]]:
    """The request examples of the operations the sandbox serves (the first part of the scope:
    the vendored spec also holds SCOPE-2.md's offers, for the client, whose examples the sandbox
    has no patches for yet: import-vouchers-to-campaign's omit the discount its schema requires,
    export-campaign-transactions' gives ``$after`` as a list)."""
    served = {operation_id for operation_id, _, _ in sandbox_scope()}
    examples = []
    for item in voucherify_spec()["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            if operation["operationId"] not in served:
                continue
            media = operation["requestBody"].get("content", {}).get("application/json")
            if media is None:
                continue
            values = [media["example"]] if "example" in media else []
            values += [e["value"] for e in media.get("examples", {}).values()]
            examples += [(operation["operationId"], value) for value in values]
    return examples


EXAMPLES = _request_examples()
CACHES = (spec_patches.patched_schemas, request_schema._document, request_schema._body_validator)


def test_the_spec_has_request_examples_to_check():
    assert len(EXAMPLES) >= 30
    assert {"create-order", "redeem-stacked-discounts", "create-customer"} <= {op for op, _ in EXAMPLES}


@pytest.mark.parametrize(("operation_id", "body"), EXAMPLES, ids=[op for op, _ in EXAMPLES])
def test_every_request_example_of_the_spec_passes(operation_id, body):
    request_schema.check_request(operation_id, {}, copy.deepcopy(body))


def test_order_items_without_object_pass_only_thanks_to_the_patch(monkeypatch):
    """Guards the OrderItem patch: unpatched, the spec's own create-order example is refused."""
    example = next(body for op, body in EXAMPLES if op == "create-order")
    unpatched = tuple(p for p in spec_patches.PATCHES if p is not spec_patches._order_items_need_no_object)
    monkeypatch.setattr(spec_patches, "PATCHES", unpatched)
    for cached in CACHES:
        cached.cache_clear()
    try:
        with pytest.raises(SandboxError) as refused:
            request_schema.check_request("create-order", {}, example)
        assert "'object' is a required property" in str(refused.value.details)
    finally:
        monkeypatch.undo()
        for cached in CACHES:
            cached.cache_clear()
    request_schema.check_request("create-order", {}, example)


def test_validators_are_compiled_once_per_operation():
    assert request_schema._body_validator("create-customer") is request_schema._body_validator(
        "create-customer"
    )


# ---- bodies -----------------------------------------------------------------------------


def test_a_number_in_a_customers_address_is_refused_not_stored(api: Api):
    body = {**CUSTOMER, "address": {"city": 5}}
    r = api.post("/v1/customers", json=body)
    assert r.status_code == 400
    assert r.json()["key"] == "invalid_payload"
    assert r.json()["details"].startswith("address.city: 5 is not of type")
    assert api.get("/v1/customers/c1").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/orders", {"source_id": "o1", "customer": [1]}, "customer"),  # a list for an object
        ("/v1/orders", {"source_id": "o1", "amount": "10"}, "amount"),  # a string for an integer
        ("/v1/vouchers/V1", {"type": "BOGUS"}, "type"),  # an unknown enum value
        ("/v1/orders", {"status": "SHIPPED"}, "status"),
        ("/v1/customers/bulk/async", {"source_id": "x"}, "body"),  # an object for an array
        ("/v1/redemptions", {"redeemables": [{"object": "coupon", "id": "X"}]}, "redeemables[0]"),
    ],
)
def test_schema_invalid_bodies_are_refused_with_the_place_named(api: Api, path, body, where):
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["key"] == "invalid_payload"
    assert r.json()["details"].startswith(where)


def test_an_unknown_enum_value_names_the_values_all_alternatives_allow(api: Api):
    details = api.post("/v1/vouchers/V1", json={"type": "BOGUS"}).json()["details"]
    assert details.startswith("type: 'BOGUS' is not one of")
    for kind in ("DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"):
        assert kind in details


def test_malformed_json_is_still_invalid_payload(api: Api):
    r = api.post("/v1/customers", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload"


def test_active_null_is_accepted_as_not_given(api: Api):
    gift = {"type": "GIFT_VOUCHER", "gift": {"amount": 5}}
    created = api.post("/v1/vouchers/N1", json={**gift, "active": None})
    assert created.status_code == 200, created.text
    assert created.json()["active"] is True
    api.post("/v1/vouchers/N1/disable")
    updated = api.put("/v1/vouchers/N1", json={"active": None})
    assert updated.status_code == 200, updated.text
    assert updated.json()["active"] is False  # null leaves it as it is


@pytest.mark.parametrize("path", ["/v1/customers/bulk/async", "/v1/vouchers/bulk/async"])
def test_an_empty_bulk_update_is_an_action_with_nothing_to_do(api: Api, sandbox, path):
    r = api.post(path, json=[])
    assert r.status_code == 202, r.text
    sandbox.wait_for_jobs()
    action = api.get(f"/v1/async-actions/{r.json()['async_action_id']}").json()
    assert action["status"] == "DONE"
    assert action["result"]["done_count"] == 0 and action["result"]["failed_count"] == 0


@pytest.mark.parametrize(
    ("path", "ids_key"),
    [("/v1/vouchers/metadata/async", "codes"), ("/v1/customers/metadata/async", "source_ids")],
)
def test_metadata_updates_accept_the_nulls_the_spec_allows(api: Api, sandbox, path, ids_key):
    r = api.post(path, json={ids_key: None, "metadata": None})
    assert r.status_code == 202, r.text
    sandbox.wait_for_jobs()
    action = api.get(f"/v1/async-actions/{r.json()['async_action_id']}").json()
    assert action["status"] == "DONE"


@pytest.mark.parametrize("path", ["/v1/redemptions", "/v1/validations"])
def test_null_redeemables_pass_the_schema_but_are_refused_as_documented(api: Api, path):
    """Decision (docs/sandbox.md): nothing to validate or redeem is refused."""
    request_schema.check_request("redeem-stacked-discounts", {}, {"redeemables": None})
    r = api.post(path, json={"redeemables": None})
    assert r.status_code == 400
    assert r.json()["key"] == "invalid_payload"
    assert r.json()["details"].startswith("redeemables: required")


def test_valid_requests_still_work(api: Api):
    api.voucher("OK1")
    assert redeem(api, "OK1").status_code == 200
    assert api.post("/v1/customers", json=CUSTOMER).status_code == 200


# ---- queries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/v1/vouchers", {"limit": "abc"}, "limit"),
        ("/v1/vouchers", {"order": "bogus"}, "order"),
        ("/v1/customers", {"limit": "0"}, "limit"),
        ("/v1/vouchers/X", {"force": "maybe"}, "force"),
    ],
)
def test_schema_invalid_query_values_are_refused(api: Api, path, params, name):
    api.voucher("X")
    method = api.delete if path == "/v1/vouchers/X" else api.get
    r = method(path, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["key"] == "invalid_query_params"
    assert r.json()["details"].startswith(name)
    assert api.get("/v1/vouchers/X").status_code == 200  # the delete did not happen


def test_query_values_are_read_as_their_declared_types(api: Api):
    api.voucher("Y")
    assert api.get("/v1/vouchers", params={"limit": "5", "order": "-created_at"}).status_code == 200
    repeated = [("result", "SUCCESS"), ("result", "FAILURE")]
    assert api.get("/v1/redemptions", params=repeated).status_code == 200
    assert api.delete("/v1/vouchers/Y", params={"force": "true"}).status_code == 204


# ---- property: refused means not stored --------------------------------------------------

CUSTOMER_BODIES = fuzz.schema_values(request_schema._body_validator("create-customer").schema)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_customer_body_is_either_refused_untouched_or_stored_conforming(data):
    api = Api()
    body = data.draw(CUSTOMER_BODIES)
    if data.draw(st.booleans()):
        body = data.draw(fuzz.mutated(copy.deepcopy(body)))
    try:
        request_schema.check_request("create-customer", {}, body)
        valid = True
    except SandboxError:
        valid = False
    before = len(api.state.customers)
    r = api.post("/v1/customers", json=body)
    assert r.status_code < 500
    if not valid:
        assert r.status_code == 400 and r.json()["key"] == "invalid_payload"
        assert len(api.state.customers) == before
    # Either way every response was checked against the response schema (tests/conftest.py).


# -- the second review of issue 14: numbers and dates that were stored and broke answers ------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"source_id": "n", "metadata": {"a": NaN}}',
        b'{"source_id": "n", "metadata": {"a": Infinity}}',
        b'{"source_id": "n", "metadata": {"a": -Infinity}}',
        b'{"source_id": "n", "metadata": {"a": 1e999}}',
        b'{"source_id": "n", "metadata": {"a": ' + b"9" * 4000 + b"}}",
        b'{"source_id": "n", "metadata": {"a": 9223372036854775808}}',
    ],
    ids=["nan", "inf", "-inf", "1e999", "4000-digits", "2**63"],
)
def test_non_finite_and_out_of_range_numbers_are_refused_and_not_stored(raw: bytes) -> None:
    sandbox = Sandbox()
    session = requests.Session()
    sandbox.mount(session)
    headers = {
        "X-App-Id": sandbox.app_id,
        "X-App-Token": sandbox.app_token,
        "Content-Type": "application/json",
    }
    response = session.post(f"{sandbox.base_url}/v1/customers", data=raw, headers=headers)
    assert response.status_code == 400 and response.json()["key"] == "invalid_payload"
    assert sandbox.state.customers == {} or not any(
        c.get("source_id") == "n" for c in sandbox.state.customers.values()
    )
    assert session.get(f"{sandbox.base_url}/v1/customers", headers=headers).status_code == 200


@pytest.mark.parametrize("birthdate", ["not-a-date", "1990-02-31", "31/12/1990", "1990-1-1"])
def test_dates_the_spec_formats_as_date_are_checked(birthdate: str) -> None:
    sandbox = Sandbox()
    session = requests.Session()
    sandbox.mount(session)
    headers = {"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token}
    response = session.post(
        f"{sandbox.base_url}/v1/customers", json={"source_id": "d", "birthdate": birthdate}, headers=headers
    )
    assert response.status_code == 400 and "birthdate" in response.json()["details"]
    ok = session.post(
        f"{sandbox.base_url}/v1/customers",
        json={"source_id": "d", "birthdate": "1990-02-11"},
        headers=headers,
    )
    assert ok.status_code == 200
