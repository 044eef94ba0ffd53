"""Conformance with Voucherify's OpenAPI spec.

Every response any Sandbox produces during the test run is validated by the suite-wide hook in
tests/conftest.py (spec.check_exchange). This module adds: every operation in scope is routed at the
spec's method and path, and a tour that calls all 48 operations so each one's response schema
is exercised at least once, success and error bodies alike.
"""

from __future__ import annotations

import re

from django_voucherify.sandbox import openapi
from django_voucherify.sandbox.routing import ROUTES
from tests.sandbox.tour_catalog import tour_catalog
from tests.sandbox.tours import tour_campaigns, tour_promotions
from tests.support import spec
from tests.support.sandbox import Api

#: Operations per SCOPE-2.md section served beside the first part (one line per section).
SECTION_OPERATIONS = {
    "Campaigns": 14,
    "Publications": 2,
    "Products": 14,
    "Categories": 5,
    "Events": 1,
    "Validation Rules": 9,
    "Qualifications": 1,
    "Promotions": 14,
}


def scope_operations() -> dict[str, tuple[str, str]]:
    return {operation_id: (method, path) for operation_id, method, path in openapi.sandbox_scope()}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_scope_operation_is_routed_as_the_spec_says():
    from django_voucherify.sandbox.handlers import load_all

    load_all()
    ops = scope_operations()
    assert len(ops) == 48 + sum(SECTION_OPERATIONS[s] for s in openapi.SANDBOX_SECTIONS)
    routed = {r.operation_id: r for r in ROUTES}
    for op_id, (method, path) in ops.items():
        if op_id == "download-export":  # same path as get-export, told apart by ?token=
            op_id = "get-export"
        assert op_id in routed, f"{op_id} has no sandbox route"
        r = routed[op_id]
        assert (r.method, _shape(r.template)) == (method, _shape(path)), op_id
        assert spec.operations()[op_id]["method"] == method


def test_tour_of_all_operations(sandbox):
    spec.SEEN_OPERATIONS.clear()
    api = Api(sandbox)
    j = lambda r: r.json()  # noqa: E731
    api.post(
        "/v1/vouchers/TOUR",
        json={
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 500},
            "redemption": {"quantity": 5},
        },
    )
    api.post("/v1/vouchers", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1000}, "code": "TGIFT"})
    api.post(
        "/v1/vouchers/TLOYAL",
        json={"type": "LOYALTY_CARD", "campaign": "Tour Loyalty", "loyalty_card": {"points": 10}},
    )
    api.get("/v1/vouchers/TOUR")
    api.put("/v1/vouchers/TOUR", json={"metadata": {"a": 1}})
    api.post("/v1/vouchers/TOUR/disable")
    api.post("/v1/vouchers/TOUR/enable")
    api.get("/v1/vouchers", params={"limit": 5})
    api.post("/v1/vouchers/TGIFT/balance", json={"amount": 100})
    api.get("/v1/vouchers/TGIFT/transactions")
    vexp = j(api.post("/v1/vouchers/TGIFT/transactions/export", json={}))
    api.post("/v1/vouchers/import", json=[{"code": "TIMP", "type": "GIFT_VOUCHER", "gift": {"amount": 1}}])
    api.post("/v1/vouchers/importCSV", files={"file": ("v.csv", b"Code,Value\nTCSV,5\n")})
    api.post("/v1/vouchers/bulk/async", json=[{"code": "TOUR", "metadata": {"b": 1}}])
    api.post("/v1/vouchers/metadata/async", json={"codes": ["TOUR"], "metadata": {"c": 1}})
    cust = j(api.post("/v1/customers", json={"source_id": "tour-c", "email": "t@x.io"}))
    api.get(f"/v1/customers/{cust['id']}")
    api.put("/v1/customers/tour-c", json={"name": "T"})
    api.get("/v1/customers")
    api.get("/v1/customers/tour-c/activity")
    api.get("/v1/customers/tour-c/segments")
    api.get("/v1/customers/tour-c/redeemables")
    api.post("/v1/customers/importCSV", files={"file": ("c.csv", b"Source_id,Name\ntour-d,D\n")})
    api.post("/v1/customers/bulk/async", json=[{"source_id": "tour-c", "phone": "1"}])
    api.post("/v1/customers/metadata/async", json={"source_ids": ["tour-c"], "metadata": {"m": 1}})
    order = j(
        api.post(
            "/v1/orders",
            json={
                "source_id": "tour-o",
                "items": [{"price": 1000, "quantity": 2}],
                "customer": {"source_id": "tour-c"},
            },
        )
    )
    api.get(f"/v1/orders/{order['id']}")
    api.put("/v1/orders/tour-o", json={"status": "PAID"})
    api.get("/v1/orders")
    api.post("/v1/orders/import", json=[{"source_id": "tour-o2", "amount": 10}])
    oexp = j(api.post("/v1/orders/export", json={"parameters": {"fields": ["id", "amount"]}}))
    # redemptions, validations, rollbacks and sessions (S2's handlers)
    api.post(
        "/v1/validations",
        json={
            "redeemables": [{"object": "voucher", "id": "TOUR"}],
            "order": {"amount": 5000},
            "session": {"type": "LOCK"},
        },
    )
    red = api.post(
        "/v1/redemptions",
        json={
            "redeemables": [
                {"object": "voucher", "id": "TOUR"},
                {"object": "voucher", "id": "TGIFT", "gift": {"credits": 100}},
            ],
            "order": {"amount": 5000},
            "customer": {"source_id": "tour-c"},
        },
    )
    body = red.json()
    api.get("/v1/redemptions", params={"limit": 5})
    api.get("/v1/vouchers/TOUR/redemption")
    if red.status_code == 200:
        parent = body.get("parent_redemption") or {}
        child = (body.get("redemptions") or [{}])[0]
        if child.get("id"):
            api.get(f"/v1/redemptions/{child['id']}")
        if parent.get("id"):
            api.post(f"/v1/redemptions/{parent['id']}/rollbacks", json={"reason": "tour"})
        single = j(
            api.post(
                "/v1/redemptions",
                json={"redeemables": [{"object": "voucher", "id": "TOUR"}], "order": {"amount": 3000}},
            )
        )
        for r in single.get("redemptions") or []:
            api.post(f"/v1/redemptions/{r['id']}/rollback", params={"reason": "tour"})
    api.delete("/v1/vouchers/TOUR/sessions/ssn_unknown")
    tour_catalog(api)
    sandbox.wait_for_jobs()
    for aa in j(api.get("/v1/async-actions", params={"limit": 100}))["async_actions"]:
        api.get(f"/v1/async-actions/{aa['id']}")
    generic = [
        j(api.post("/v1/exports", json={"exported_object": kind}))
        for kind in ("voucher", "redemption", "customer", "order", "voucher_transactions")
    ]
    sandbox.wait_for_jobs()
    for exp in (vexp, oexp, *generic):
        done = j(api.get(f"/v1/exports/{exp['id']}"))
        api.session.get(done["result"]["url"])
    api.get("/v1/exports", params={"limit": 100, "order": "status"})
    api.delete(f"/v1/exports/{generic[0]['id']}")
    api.delete(f"/v1/exports/{generic[0]['id']}")  # 404 body checked too
    # error bodies are checked against the Error schema too
    api.get("/v1/vouchers/NOPE")
    api.post("/v1/vouchers/TGIFT", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1}})
    api.post("/v1/customers/nope/permanent-deletion")
    api.post("/v1/customers/tour-c/permanent-deletion")
    api.delete("/v1/customers/tour-d")
    api.delete("/v1/vouchers/TLOYAL", params={"force": "true"})
    tour_campaigns(api, sandbox)
    _tour_validation_rules(api)
    tour_promotions(api)
    missing = set(scope_operations()) - spec.SEEN_OPERATIONS
    assert not missing, f"operations not exercised: {sorted(missing)}"


# ---- the check itself is strict ----------------------------------------------------------
def _problems(operation_id: str, status: int, body: object) -> list[str]:
    return spec.validate(operation_id, status, body, "application/json")


def _action(type_: str, result: dict) -> dict:
    return {"id": "aa_x", "type": type_, "status": "DONE", "object": "async_action", "result": result}


def test_async_action_result_is_checked_against_its_types_schema():
    nonsense = {"failed": "nonsense", "done_count": "x"}
    for type_ in ("VOUCHERS.IMPORT", "VOUCHERS.IMPORT_CSV", "CUSTOMERS.BULK_UPDATE", "ORDERS.IMPORT"):
        problems = _problems("get-async-action", 200, _action(type_, nonsense))
        assert any("result/done_count" in p for p in problems), (type_, problems)
    # keys another type documents are not accepted: each result is closed to its own schema
    bulk_shaped = {"done_count": 1, "failed_count": 0, "errors": []}
    assert _problems("get-async-action", 200, _action("CUSTOMERS.BULK_UPDATE", bulk_shaped)) == []
    problems = _problems("get-async-action", 200, _action("VOUCHERS.IMPORT", bulk_shaped))
    assert problems and "'errors' was unexpected" in problems[0] and "schema path:" in problems[0]
    import_shaped = {
        "message": "",
        "done_count": 1,
        "failed_count": 1,
        "failed": [{"code": "A", "reason": "r"}],
    }
    assert _problems("get-async-action", 200, _action("VOUCHERS.IMPORT", import_shaped)) == []
    assert _problems("get-async-action", 200, _action("VOUCHERS.BULK_UPDATE", import_shaped))
    wrong_item = {"failed": [{"code": 1, "reason": "r"}]}
    assert _problems("get-async-action", 200, _action("VOUCHERS.IMPORT", wrong_item))


def test_spec_async_action_examples_conform():
    """The spec's own get-async-action examples pass: evidence for the documented workarounds
    (``failed`` arrays of VOUCHERS.IMPORT/ORDERS.IMPORT, counters of METADATA_UPDATE)."""
    media = spec.spec()["paths"]["/v1/async-actions/{asyncActionId}"]["get"]["responses"]["200"]
    examples = media["content"]["application/json"]["examples"]
    assert len(examples) >= 20
    for name, example in examples.items():
        assert _problems("get-async-action", 200, example["value"]) == [], name


def test_one_of_picks_the_alternative_by_its_discriminator():
    rollback_status = {"object": "redemption_rollback", "status": "ROLLED_BACK"}  # a redemption status
    assert any("status" in p for p in _problems("get-redemption", 200, rollback_status))
    unknown = _problems("get-redemption", 200, {"object": "refund"})
    assert unknown and "names none of the documented alternatives" in unknown[0]
    assert _problems("get-redemption", 200, {"object": "redemption", "status": "ROLLED_BACK"}) == []
    voucher = {"code": "A", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": "10"}}
    assert any("discount/percent_off" in p for p in _problems("get-voucher", 200, voucher))
    skipped = {"status": "SKIPPED", "result": {"details": {"key": "no_effect"}}}
    body = {"valid": True, "redeemables": [skipped], "stacking_rules": {}}
    assert _problems("validate-stacked-discounts", 200, body) == []
    skipped["result"]["details"] = {"key": "nonsense"}
    problems = _problems("validate-stacked-discounts", 200, body)
    assert problems and "redeemables/0/result/details" in problems[0]


def test_error_bodies_need_code_key_message_and_request_id():
    full = {"code": 404, "key": "not_found", "message": "Not found", "request_id": "v-1"}
    assert _problems("get-voucher", 404, full) == []
    for missing in ("code", "key", "message", "request_id"):
        body = {k: v for k, v in full.items() if k != missing}
        assert any(f"'{missing}' is a required property" in p for p in _problems("get-voucher", 404, body))
    assert _problems("get-voucher", 404, {**full, "code": 400})
    assert _problems("get-voucher", 404, {**full, "request_id": None})


def test_a_non_conforming_sandbox_response_is_reported_with_operation_and_schema_path(sandbox, monkeypatch):
    import sys

    from django_voucherify.sandbox.handlers import vouchers

    suite_hook = sys.modules["tests.conftest"]
    real = vouchers.ok
    monkeypatch.setattr(
        vouchers, "ok", lambda body, status=200: real({**body, "discount": {"type": "BOGUS"}}, status)
    )
    api = Api(sandbox)
    api.post(
        "/v1/vouchers/BAD", json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    )
    problems = suite_hook._take()  # taken, so this test itself passes
    assert problems and problems[0].startswith("create-voucher 200: at discount:")
    assert "schema path:" in problems[0]


def test_every_async_action_type_with_failures_conforms(api, sandbox):
    """Each async action type the sandbox runs, with failed rows, against its type's schema."""
    api.post("/v1/vouchers/DUP", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1}})
    ids = [
        api.post(
            "/v1/vouchers/import", json=[{"code": "DUP", "type": "GIFT_VOUCHER", "gift": {"amount": 1}}]
        ),
        api.post("/v1/vouchers/importCSV", files={"file": ("v.csv", b"Code,Value\nX1,abc\n")}),
        api.post("/v1/customers/importCSV", files={"file": ("c.csv", b"Name\nno source id\n")}),
        # Rows that pass the request schema but fail on their own (unknown order ids).
        api.post("/v1/orders/import", json=[{"source_id": "o1", "id": "ord_nope"}, {"id": "ord_nope2"}]),
        api.post("/v1/vouchers/bulk/async", json=[{"code": "MISSING", "metadata": {"a": 1}}]),
        api.post("/v1/vouchers/metadata/async", json={"codes": ["MISSING"], "metadata": {"a": 1}}),
        api.post("/v1/customers/bulk/async", json=[{"name": "no source id"}]),
        api.post("/v1/customers/metadata/async", json={"source_ids": ["missing"], "metadata": {"a": 1}}),
    ]
    sandbox.wait_for_jobs()
    for response in ids:
        action = api.get(f"/v1/async-actions/{response.json()['async_action_id']}").json()
        assert action["status"] == "DONE" and action["result"]["failed_count"] >= 1, action
        assert _problems("get-async-action", 200, action) == [], action["type"]
    orders = next(a for a in sandbox.state.async_actions.values() if a["type"] == "ORDERS.IMPORT")
    assert [f["source_id"] for f in orders["result"]["failed"]] == ["o1", None]


def _tour_validation_rules(api: Api) -> None:
    """The 9 operations of "Validation Rules", their errors and an enforced refusal."""
    api.post(
        "/v1/vouchers/TRULE",
        json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
    )
    rules = {
        "1": {"name": "order.amount", "conditions": {"$more_than": [100]}, "rules": {}},
        "2": {"name": "customer.metadata", "property": "vip", "conditions": {"$is": [True]}},
        "logic": "1 or 2",
    }
    target = {"object": "product", "id": "prod_1", "effect": "APPLY_TO_EVERY"}
    rule = api.post(
        "/v1/validation-rules",
        json={
            "name": "Tour",
            "rules": rules,
            "error": {"message": "no"},
            "applicable_to": {"included": [target]},
        },
    ).json()
    api.post("/v1/validation-rules", json={"name": "Bad", "rules": {"1": {"name": "nope"}}})  # 400
    api.get(f"/v1/validation-rules/{rule['id']}")
    api.get("/v1/validation-rules/val_missing")  # 404
    api.put(f"/v1/validation-rules/{rule['id']}", json={"name": "Tour 2"})
    api.get("/v1/validation-rules", params={"order": "-name", "limit": 5})
    assignment = api.post(
        f"/v1/validation-rules/{rule['id']}/assignments",
        json={"related_object_id": "TRULE", "related_object_type": "voucher"},
    ).json()
    api.post(f"/v1/validation-rules/{rule['id']}/assignments", json={"related_object_id": "TRULE"})  # 409
    api.get(f"/v1/validation-rules/{rule['id']}/assignments")
    api.get("/v1/validation-rules-assignments", params={"related_object_id": "TRULE"})
    api.post(
        "/v1/validations",
        json={"redeemables": [{"object": "voucher", "id": "TRULE"}], "order": {"amount": 1}},
    )
    api.post(
        "/v1/validations",
        json={
            "redeemables": [{"object": "voucher", "id": "TRULE"}],
            "order": {"items": [{"product_id": "prod_1", "price": 500, "quantity": 1}]},
        },
    )
    api.post(
        "/v1/redemptions",
        json={"redeemables": [{"object": "voucher", "id": "TRULE"}], "order": {"amount": 1}},
    )
    _tour_qualifications(api)
    api.delete(f"/v1/validation-rules/{rule['id']}/assignments/{assignment['id']}")
    api.delete(f"/v1/validation-rules/{rule['id']}")


def _tour_qualifications(api: Api) -> None:
    """check-eligibility: each simulated scenario, a rule's assignment, a cursor, an error."""
    base = {
        "customer": {"source_id": "tour-c", "metadata": {"vip": True}},
        "order": {"items": [{"product_id": "prod_1", "price": 500, "quantity": 1}]},
    }
    options = {"limit": 1, "expand": ["redeemable", "validation_rules"], "sorting_rule": "BEST_DEAL"}
    first = api.post("/v1/qualifications", json={**base, "scenario": "ALL", "options": options}).json()
    after = first["redeemables"].get("more_starting_after")
    if after:
        api.post("/v1/qualifications", json={**base, "options": {**options, "starting_after": after}})
    api.post("/v1/qualifications", json={**base, "scenario": "CUSTOMER_WALLET"})
    api.post("/v1/qualifications", json={"scenario": "AUDIENCE_ONLY", "customer": base["customer"]})
    api.post("/v1/qualifications", json={"scenario": "PROMOTION_STACKS"})  # 400
