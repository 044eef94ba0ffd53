"""A campaign's free-code queue (campaign_store.FreeCodes): a publication takes its code in O(1)
amortised, also from an exhausted AUTO_UPDATE campaign, and the queue agrees with the vouchers
whatever door changed them (review 17: the queue was rebuilt from every voucher of the
campaign on each publication once it ran dry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import campaign_store
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.persistence import FilePersistence, load_state
from tests.support.sandbox import Api

NO_CODE = "no_voucher_suitable_for_publication"


def _campaign(api: Api, kind: str, count: int, code_config: Any = None) -> dict[str, Any]:
    r = api.post(
        "/v1/campaigns",
        json={
            "name": "Free",
            "campaign_type": "DISCOUNT_COUPONS",
            "type": kind,
            "vouchers_count": count,
            "voucher": {
                "discount": {"type": "AMOUNT", "amount_off": 100},
                "code_config": code_config or {"length": 10},
            },
        },
    )
    assert r.status_code == 200, r.text
    api.sandbox.wait_for_jobs(timeout=60)
    body: dict[str, Any] = r.json()
    return body


def _publish(api: Api, campaign_id: str, customer: str, count: int = 1) -> Any:
    return api.post(
        "/v1/publications",
        json={"campaign": {"id": campaign_id, "count": count}, "customer": {"source_id": customer}},
    )


def _codes_looked_at_per_publication(monkeypatch: pytest.MonkeyPatch, size: int) -> int:
    """Publishability checks per publication of an AUTO_UPDATE campaign whose ``size`` codes
    are all published (each publication must make a code)."""
    api = Api(Sandbox())
    camp = _campaign(api, "AUTO_UPDATE", size)
    for i in range(size):
        assert _publish(api, camp["id"], f"c{i}").status_code == 200
    looked: list[int] = []
    real = campaign_store._publishable

    def counting(voucher: Any) -> bool:
        looked.append(1)
        return real(voucher)

    monkeypatch.setattr(campaign_store, "_publishable", counting)
    burst = 20
    for i in range(burst):
        r = _publish(api, camp["id"], f"late{i}")
        assert r.status_code == 200, r.text
    assert len(campaign_store.voucher_codes(api.sandbox.state, camp["id"])) == size + burst
    return len(looked) // burst


def test_an_exhausted_auto_update_campaign_looks_at_a_few_codes_per_publication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = _codes_looked_at_per_publication(monkeypatch, 50)
    monkeypatch.undo()
    large = _codes_looked_at_per_publication(monkeypatch, 400)
    assert small == large <= 4, (small, large)


def test_a_code_config_space_filled_by_the_campaign_is_no_code_left_without_drawing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = Api(Sandbox())
    camp = _campaign(api, "AUTO_UPDATE", 2, {"charset": "AB", "length": 1})
    assert _publish(api, camp["id"], "a", count=2).status_code == 200
    from django_voucherify.sandbox.engine import codegen

    draws: list[int] = []
    real = codegen.CodeSource.draw

    def counting(self: Any) -> str:
        draws.append(1)
        return real(self)

    monkeypatch.setattr(codegen.CodeSource, "draw", counting)
    r = _publish(api, camp["id"], "b")
    assert r.status_code == 400 and r.json()["key"] == NO_CODE
    assert not draws


def test_a_failed_publication_of_several_codes_gives_its_codes_back() -> None:
    api = Api(Sandbox())
    camp = _campaign(api, "STATIC", 3)
    r = _publish(api, camp["id"], "greedy", count=4)
    assert r.status_code == 400 and r.json()["key"] == NO_CODE
    r = _publish(api, camp["id"], "fair", count=3)
    assert r.status_code == 200, r.text
    assert len(set(r.json()["vouchers"])) == 3


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(1, 3)),
        st.tuples(st.sampled_from(["disable", "enable", "delete"]), st.integers(0, 30)),
        st.tuples(st.just("create"), st.just(0)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, kind=st.sampled_from(["STATIC", "AUTO_UPDATE"]))
def test_publications_hand_out_exactly_the_publishable_codes(
    ops: list[tuple[str, int]], kind: str, tmp_path: Path
) -> None:
    """Model: the codes of the campaign that exist, are active and unpublished. A publication
    takes codes from it (distinct ones); a STATIC campaign without enough is a 400 that
    changes nothing; whatever door changed a voucher (enable, disable, delete, create-voucher
    with the campaign's id, a restart), the queue agrees."""
    api = Api(Sandbox())
    camp = _campaign(api, kind, 4)
    cid = camp["id"]
    all_codes: list[str] = sorted(campaign_store.voucher_codes(api.sandbox.state, cid))
    free = set(all_codes)
    published: set[str] = set()
    made = 0
    for step, (op, arg) in enumerate(ops):
        if op == "publish":
            r = _publish(api, cid, f"c{step}", count=arg)
            if kind == "STATIC" and len(free) < arg:
                assert r.status_code == 400 and r.json()["key"] == NO_CODE
                continue
            assert r.status_code == 200, r.text
            got = r.json().get("vouchers") or [r.json()["voucher"]["code"]]
            assert len(set(got)) == arg
            old = set(got) & set(all_codes)
            assert old <= free, (got, free)
            if kind == "STATIC":
                assert set(got) <= free
            new = set(got) - set(all_codes)
            all_codes += sorted(new)
            free -= set(got)
            published |= set(got)
        elif op == "create":
            made += 1
            code = f"DOOR-{made}"
            r = api.post(
                f"/v1/vouchers/{code}",
                json={
                    "type": "DISCOUNT_VOUCHER",
                    "campaign_id": cid,
                    "discount": {"type": "AMOUNT", "amount_off": 1},
                },
            )
            assert r.status_code == 200, r.text
            all_codes.append(code)
            free.add(code)
        elif op == "restart":
            path = tmp_path / "state.json"
            FilePersistence(api.sandbox.state, path, interval=3600).save()
            api = Api(Sandbox(state=load_state(path)))
        elif all_codes:
            code = all_codes[arg % len(all_codes)]
            if op == "delete":
                r = api.delete(f"/v1/vouchers/{code}", params={"force": "true"})
                if r.status_code == 204:
                    all_codes.remove(code)
                    free.discard(code)
                continue
            r = api.post(f"/v1/vouchers/{code}/{op}")
            assert r.status_code == 200, r.text
            if op == "disable":
                free.discard(code)
            elif code not in published:
                free.add(code)
    # Drain: every free code comes out exactly once, then a STATIC campaign has none left.
    out: set[str] = set()
    for i in range(len(free)):
        r = _publish(api, cid, f"drain{i}")
        assert r.status_code == 200, r.text
        out.add(r.json()["voucher"]["code"])
    assert out == free
    if kind == "STATIC":
        assert _publish(api, cid, "none").json()["key"] == NO_CODE


@given(
    stored=st.lists(st.text("abcdef", min_size=1, max_size=4), min_size=0, max_size=120, unique=True),
    batch=st.lists(st.text("abcdef", min_size=1, max_size=4), min_size=1, max_size=40, unique=True),
)
@settings(max_examples=60, deadline=None)
def test_put_many_keeps_the_order_and_compacts_only_for_a_bulk(stored: list[str], batch: list[str]) -> None:
    """A small batch into a large store goes one by one (no O(store) sort and compact per
    batch: generating codes by chunks, or one per publication, was quadratic); either way the
    index equals a full sort, also for a bulk batch holding keys already stored (they were
    re-indexed by bisecting rows not yet sorted: a wrong row removed, or an IndexError)."""
    from django_voucherify.sandbox import store

    coll = store.indexed({"code": store.key_of("code")}, {k: {"code": k} for k in stored})
    index = coll.indexes["code"]
    with mock.patch.object(
        store.OrderIndex, "compact", autospec=True, side_effect=store.OrderIndex.compact
    ) as seen:
        coll.put_many((k, {"code": k}) for k in batch)
    compacts = seen.call_count
    expected = sorted(set(stored) | set(batch))
    assert [row[2] for row in index.rows] == expected
    new = len(set(batch) - set(stored))
    if len(batch) * store.BULK_SHARE < len(stored):
        assert not compacts
    elif new:
        assert compacts


def test_a_campaign_of_one_code_whose_space_is_used_up_is_a_400_and_not_created() -> None:
    """vouchers_count 1 is generated synchronously: its exhaustion was ignored (a campaign
    created DONE with no code)."""
    api = Api(Sandbox())
    assert (
        api.post("/v1/vouchers/ONLY", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}}).status_code
        == 200
    )
    r = api.post(
        "/v1/campaigns",
        json={
            "name": "One",
            "campaign_type": "DISCOUNT_COUPONS",
            "vouchers_count": 1,
            "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1}, "code_config": {"pattern": "ONLY"}},
        },
    )
    assert r.status_code == 400, r.text
    assert "cannot produce" in r.json()["details"]
    assert api.get("/v1/campaigns/One").status_code == 404
    assert api.get("/v1/campaigns").json()["total"] == 0


def test_a_campaign_shows_the_validation_rules_assigned_to_it() -> None:
    api = Api(Sandbox())
    camp = _campaign(api, "STATIC", 0)
    rule = api.post(
        "/v1/validation-rules",
        json={
            "name": "R",
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]}, "rules": {}}},
        },
    ).json()
    r = api.post(
        f"/v1/validation-rules/{rule['id']}/assignments",
        json={"related_object_id": camp["id"], "related_object_type": "campaign"},
    )
    assert r.status_code == 200, r.text
    assignment = r.json()
    for got in (
        api.get(f"/v1/campaigns/{camp['id']}").json(),
        api.get("/v1/campaigns").json()["campaigns"][0],
    ):
        listed = got["validation_rules_assignments"]
        assert listed["total"] == 1 and [a["id"] for a in listed["data"]] == [assignment["id"]]
        assert listed["data"][0]["rule_id"] == rule["id"]
    api.delete(f"/v1/validation-rules/{rule['id']}/assignments/{assignment['id']}")
    assert api.get(f"/v1/campaigns/{camp['id']}").json()["validation_rules_assignments"]["total"] == 0
