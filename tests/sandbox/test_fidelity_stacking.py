"""Validation and redemption bodies shaped as Voucherify's (issue 14, sandbox fidelity).

Each test cites the place in Voucherify's OpenAPI spec (the vendored subset in
``django_voucherify/sandbox/data``) that documents the behaviour it asserts.
"""

from __future__ import annotations

from django_voucherify.sandbox.openapi import voucherify_spec
from tests.support.sandbox import Api, redeem

EMPTY_LIST = {"data": [], "total": 0, "data_ref": "data", "object": "list"}


def _validate(api: Api, *codes: str, **body: object) -> dict:  # type: ignore[type-arg]
    reds = [{"object": "voucher", "id": c} for c in codes]
    r = api.call("POST", "/v1/validations", json={"redeemables": reds, **body})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _validation_examples() -> dict[str, dict]:  # type: ignore[type-arg]
    op = voucherify_spec()["paths"]["/v1/validations"]["post"]
    examples = op["responses"]["200"]["content"]["application/json"]["examples"]
    return {name: example["value"] for name, example in examples.items()}


def test_spec_examples_show_the_lists_this_module_relies_on() -> None:
    """validate-stacked-discounts' 200 examples: every APPLICABLE redeemable carries
    ``applicable_to`` and ``inapplicable_to`` (``{"data": [], "total": 0, ...}`` when empty), and
    a valid body has no empty ``skipped_redeemables``/``inapplicable_redeemables``."""
    examples = _validation_examples()
    listed = [r for ex in examples.values() for r in ex.get("redeemables", [])]
    applicable = [r for r in listed if r["status"] == "APPLICABLE"]
    assert applicable and all("applicable_to" in r and "inapplicable_to" in r for r in applicable)
    assert EMPTY_LIST in [r["inapplicable_to"] for r in applicable]
    for ex in examples.values():
        assert ex.get("skipped_redeemables", None) != [] and ex.get("inapplicable_redeemables", None) != []


def test_applicable_redeemable_carries_target_lists(api: Api) -> None:
    api.voucher("PLAIN", discount={"type": "AMOUNT", "amount_off": 100})
    api.voucher("SHOES", discount={"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"})
    target = {"object": "product", "id": "prod_shoe", "source_id": "shoe", "effect": "APPLY_TO_EVERY"}
    api.state.vouchers["SHOES"]["applicable_to"] = {"data": [target], "total": 1}
    body = _validate(
        api, "PLAIN", "SHOES", order={"items": [{"product_id": "prod_shoe", "price": 1000, "quantity": 1}]}
    )
    assert body["valid"] is True
    plain, shoes = body["redeemables"]
    assert plain["applicable_to"] == EMPTY_LIST and plain["inapplicable_to"] == EMPTY_LIST
    assert shoes["applicable_to"] == {"data": [target], "total": 1, "data_ref": "data", "object": "list"}
    assert shoes["inapplicable_to"] == EMPTY_LIST


def test_valid_validation_leaves_empty_lists_out(api: Api) -> None:
    api.voucher("OK", discount={"type": "AMOUNT", "amount_off": 100})
    body = _validate(api, "OK", order={"amount": 1000})
    assert body["valid"] is True
    assert "skipped_redeemables" not in body and "inapplicable_redeemables" not in body


def test_invalid_validation_lists_only_nonempty_groups(api: Api) -> None:
    api.voucher("OFF", active=False)
    body = _validate(api, "OFF", order={"amount": 1000})
    assert body["valid"] is False
    assert [r["status"] for r in body["inapplicable_redeemables"]] == ["INAPPLICABLE"]
    assert "skipped_redeemables" not in body  # nothing was skipped: no empty list
    # A non-applicable redeemable carries no target lists (ValidationsRedeemableInapplicable
    # and ...Skipped declare none).
    assert "applicable_to" not in body["redeemables"][0]


def test_invalid_validation_with_a_skipped_redeemable_lists_both(api: Api) -> None:
    api.voucher("OK", discount={"type": "AMOUNT", "amount_off": 100})
    api.voucher("OFF", active=False)
    body = _validate(api, "OK", "OFF", order={"amount": 1000})
    assert [r["id"] for r in body["skipped_redeemables"]] == ["OK"]
    assert [r["id"] for r in body["inapplicable_redeemables"]] == ["OFF"]


def test_successful_redemption_leaves_empty_lists_out(api: Api) -> None:
    """redeem-stacked-discounts (RedemptionsRedeemResponseBody): both lists are optional and a
    successful redemption has nothing to put in them, so they are left out as in validations."""
    api.voucher("A", discount={"type": "AMOUNT", "amount_off": 100})
    api.voucher("B", discount={"type": "AMOUNT", "amount_off": 100})
    for codes in (("A",), ("A", "B")):
        r = redeem(api, *codes, order={"amount": 1000})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "inapplicable_redeemables" not in body and "skipped_redeemables" not in body
