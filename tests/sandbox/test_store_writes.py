"""Every write path keeps the sorted indexes in step (a list by ``-updated_at`` after each kind
of update equals a full sort of the store), and a repeatedly redeemed order costs each stored
redemption a bounded view of the order, not a copy of its growing redemptions map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.sandbox import Api, redeem


def ticking(api: Api) -> None:
    moment = [datetime(2026, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        moment[0] += timedelta(milliseconds=1)
        return moment[0]

    api.state.clock = clock


def listed(api: Api, path: str, key: str, order: str) -> list[str]:
    body = api.get(path, params={"order": order, "limit": 100}).json()
    return [obj["id"] for obj in body[key]]


def full_sort(objects: Any, field: str) -> list[str]:
    """The oracle: newest ``field`` first, null last; ties newest-created first."""
    items = list(objects)[::-1]
    items.sort(key=lambda o: (o.get(field) is not None, o.get(field) or ""), reverse=True)
    return [o["id"] for o in items]


def test_voucher_updates_reorder_the_updated_at_listing(api: Api) -> None:
    ticking(api)
    for code in ("A", "B", "C", "D", "E"):
        assert api.post(f"/v1/vouchers/{code}", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}}).ok
    steps = [
        lambda: api.put("/v1/vouchers/C", json={"metadata": {"k": 1}}),
        lambda: api.post("/v1/vouchers/A/disable"),
        lambda: api.post("/v1/vouchers/D/balance", json={"amount": 5}),
        lambda: api.post("/v1/vouchers/metadata/async", json={"codes": ["B"], "metadata": {"k": 2}}),
        lambda: api.post("/v1/vouchers/A/enable"),
    ]
    for step in steps:
        assert step().status_code in (200, 202)
        api.sandbox.wait_for_jobs()
        expected = full_sort(api.state.vouchers.values(), "updated_at")
        assert listed(api, "/v1/vouchers", "vouchers", "-updated_at") == expected


def test_order_and_customer_updates_reorder_their_listings(api: Api) -> None:
    ticking(api)
    for n in range(4):
        assert api.post("/v1/orders", json={"source_id": f"o{n}", "amount": 100}).ok
        assert api.post("/v1/customers", json={"source_id": f"c{n}"}).ok
    assert api.put("/v1/orders/o1", json={"amount": 200}).ok
    api.voucher("TEN")
    r = redeem(api, "TEN", order={"source_id": "o2", "amount": 100})
    assert r.status_code == 200
    rid = r.json()["redemptions"][0]["id"]
    assert api.post(f"/v1/redemptions/{rid}/rollback").ok  # cancels (updates) order o2
    assert listed(api, "/v1/orders", "orders", "-updated_at") == full_sort(
        api.state.orders.values(), "updated_at"
    )
    assert api.put("/v1/customers/c0", json={"name": "Ann"}).ok
    assert api.post("/v1/customers", json={"source_id": "c3", "email": "c3@example.com"}).ok
    expected = full_sort(api.state.customers.values(), "updated_at")
    assert listed(api, "/v1/customers", "customers", "-updated_at") == expected


def test_redemptions_of_one_order_store_a_bounded_view_of_it(api: Api) -> None:
    """50 redemptions of one order: each stored redemption embeds the order with its own entry
    only (50 entries in all, where copying the growing map stored 1 + 2 + ... + 50 = 1,275);
    the order itself and the redeem response still list every redemption."""
    api.voucher("MANY")
    last: dict[str, Any] = {}
    for _ in range(50):
        r = redeem(api, "MANY", order={"source_id": "busy", "amount": 1000})
        assert r.status_code == 200, r.text
        last = r.json()
    stored = list(api.state.redemptions.values())
    assert sum(len(red["order"]["redemptions"]) for red in stored) == 50
    for red in stored:
        assert list(red["order"]["redemptions"]) == [red["id"]]
    assert len(api.get("/v1/orders/busy").json()["redemptions"]) == 50
    assert len(last["order"]["redemptions"]) == 50
    fetched = api.get(f"/v1/redemptions/{stored[-1]['id']}").json()
    assert fetched["order"]["redemptions"][stored[-1]["id"]]["related_object_id"] == "v_many"


def test_vouchers_created_alike_share_nothing_an_update_can_reach(api: Api) -> None:
    """Equal discounts and categories are held once for memory; updating one voucher must
    still leave its twin as it was."""
    payload = {"type": "DISCOUNT_VOUCHER", "category": "cat", "discount": {"type": "AMOUNT", "amount_off": 5}}
    for code in ("TWIN1", "TWIN2"):
        assert api.post(f"/v1/vouchers/{code}", json=payload).ok
    one, two = api.state.vouchers["TWIN1"], api.state.vouchers["TWIN2"]
    assert one["discount"] is two["discount"] and one["categories"] is two["categories"]
    changed = {"category": "other", "discount": {"type": "AMOUNT", "amount_off": 9}}
    assert api.put("/v1/vouchers/TWIN1", json=changed).ok
    twin = api.get("/v1/vouchers/TWIN2").json()
    assert twin["discount"]["amount_off"] == 5 and twin["category"] == "cat"
    assert [c["name"] for c in twin["categories"]] == ["cat"]


def test_a_filtered_listing_sees_in_place_changes(api: Api) -> None:
    """A filtered selection is kept between reads; a write (here disabling a voucher, an
    in-place change of a field no index holds) must drop it. So must a write made behind the
    handlers' back (a shop test changing the state), once a mutating request has run."""
    for code in ("ON1", "ON2", "ON3"):
        api.voucher(code)
    inactive = {"filters[active][conditions][$is]": "false"}
    assert api.get("/v1/vouchers", params=inactive).json()["total"] == 0  # selection cached
    assert api.post("/v1/vouchers/ON2/disable").ok
    body = api.get("/v1/vouchers", params=inactive).json()
    assert [v["code"] for v in body["vouchers"]] == ["ON2"]
    api.state.vouchers["ON3"]["active"] = False  # in place, no touch
    assert api.post("/v1/vouchers/NONE/disable").status_code == 404  # a refused write
    body = api.get("/v1/vouchers", params=inactive).json()
    assert sorted(v["code"] for v in body["vouchers"]) == ["ON2", "ON3"]
