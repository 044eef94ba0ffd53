"""Automatic promotion tiers of one campaign stack in that campaign's hierarchy (issue 17,
review 19): qualifications list them best deal first, so a 20% tier went before the 10.00-off
tier ranked above it and 100.00 took 30.00 off instead of 28.00. One read of the campaign's
tiers when two or more qualifying tiers share it; a failed read keeps the qualifications order."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.checkout import hierarchy
from tests.support.checkout import QUALIFY_CALL, REDEEM_CALL, VALIDATE, VALIDATE_CALL, checkout_settings
from tests.support.hierarchy import AMOUNT, ORDER, PERCENT, tiered_campaign
from tests.support.vouchers import make_tier

pytestmark = pytest.mark.django_db


def tiers_read(campaign_id: str) -> tuple[str, str]:
    return ("GET", f"/v1/promotions/{campaign_id}/tiers")


def checkout_log(caplog: pytest.LogCaptureFixture, campaign_id: str) -> list[int]:
    """The levels of checkout's log records about ``campaign_id``."""
    return [
        r.levelno
        for r in caplog.records
        if r.name == "django_voucherify.checkout" and campaign_id in r.getMessage()
    ]


def tier_codes(outcome: Any) -> list[str]:
    return [c.code for c in outcome.codes if c.kind == "promotion_tier"]


def test_validate_stacks_one_campaigns_tiers_in_its_hierarchy_for_one_more_read(sandbox: Any) -> None:
    camp, (ten_off, twenty_pc) = tiered_campaign(AMOUNT, PERCENT)
    before = sandbox.calls.by_route()
    outcome = checkout.validate([], ORDER, automatic=True)
    assert outcome.valid and tier_codes(outcome) == [ten_off, twenty_pc]  # best deal: the 20% first
    assert [c.discount_amount for c in outcome.codes] == [1000, 1800]
    assert outcome.totals.discount_amount == 2800
    calls = sandbox.calls.by_route() - before
    assert calls == {QUALIFY_CALL: 1, tiers_read(camp): 1, VALIDATE_CALL: 1}


def test_one_tier_per_campaign_costs_no_read(sandbox: Any) -> None:
    small = make_tier("Three off", amount_off=300)
    big = make_tier("Ten off", amount_off=1000)
    before = sandbox.calls.by_route()
    outcome = checkout.validate([], ORDER, automatic=True)
    assert tier_codes(outcome) == [big["id"], small["id"]]  # best deal first, as before
    assert sandbox.calls.by_route() - before == {QUALIFY_CALL: 1, VALIDATE_CALL: 1}


def test_other_campaigns_tiers_keep_their_slots(sandbox: Any) -> None:
    """Best deal: the 20% (20.00), another campaign's 10.00, the 5.00 off. The campaign's two
    tiers swap within the slots they hold (first and third); the other stays second."""
    camp, (five_off, twenty_pc) = tiered_campaign({"type": "AMOUNT", "amount_off": 500}, PERCENT)
    other = make_tier("Ten off", amount_off=1000)
    before = sandbox.calls.by_route()
    outcome = checkout.validate([], ORDER, automatic=True)
    assert tier_codes(outcome) == [five_off, other["id"], twenty_pc]
    assert outcome.totals.discount_amount == 500 + 1000 + 1700  # 20% of 85.00
    assert (sandbox.calls.by_route() - before)[tiers_read(camp)] == 1


def test_a_tier_given_by_hand_keeps_its_place_and_alone_in_its_campaign_costs_no_read(sandbox: Any) -> None:
    camp, (ten_off, twenty_pc) = tiered_campaign(AMOUNT, PERCENT)
    outcome = checkout.validate([], ORDER, tiers=[twenty_pc], automatic=True)
    assert tier_codes(outcome) == [twenty_pc, ten_off]  # the shop's order: its choice
    assert sandbox.calls.count(*tiers_read(camp)) == 0


def test_redeem_records_the_tiers_in_hierarchy_order(sandbox: Any) -> None:
    camp, (ten_off, twenty_pc) = tiered_campaign(AMOUNT, PERCENT)
    before = sandbox.calls.by_route()
    outcome = checkout.redeem([], ORDER, "cust-h", automatic=True)
    assert outcome.applied and outcome.totals.discount_amount == 2800
    assert outcome.ledger.tiers == [ten_off, twenty_pc]
    assert sandbox.calls.by_route() - before == {QUALIFY_CALL: 1, tiers_read(camp): 1, REDEEM_CALL: 1}


@pytest.mark.urls("tests.checkout.urls")
def test_rest_validate_stacks_in_hierarchy_order(sandbox: Any) -> None:
    _camp, (ten_off, twenty_pc) = tiered_campaign(AMOUNT, PERCENT)
    response = APIClient().post(VALIDATE, {"automatic": True, "order": {"amount": 10_000}}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert [c["code"] for c in data["codes"]] == [ten_off, twenty_pc] and data["discount_amount"] == 2800


# ---- a read that fails: the qualifications order, a warning, checkout goes on ---------------------


@pytest.mark.parametrize(
    ("fault", "level"),
    [
        ({"status": 503}, logging.WARNING),
        ({"drop": True}, logging.WARNING),
        ({"status": 404}, logging.WARNING),
        ({"status": 403}, logging.ERROR),  # the keys lack a permission: staff must fix them
    ],
)
@pytest.mark.parametrize("policy", ["refuse", "proceed_without_discount"])
def test_a_failed_read_keeps_the_qualifications_order(
    sandbox: Any, caplog: pytest.LogCaptureFixture, fault: dict[str, Any], level: int, policy: str
) -> None:
    camp, (ten_off, twenty_pc) = tiered_campaign(AMOUNT, PERCENT)
    sandbox.faults.add(path=f"/v1/promotions/{camp}/tiers", method="GET", **fault)
    with (
        checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY=policy),
        caplog.at_level(logging.WARNING, logger="django_voucherify.checkout"),
    ):
        outcome = checkout.validate([], ORDER, automatic=True)
    assert outcome.valid and not outcome.unavailable and not outcome.automatic_unavailable
    assert tier_codes(outcome) == [twenty_pc, ten_off] and outcome.totals.discount_amount == 3000
    assert checkout_log(caplog, camp) == [level]


def _listing(hierarchies: list[Any]) -> Any:
    """A listing of the campaign's tiers (hierarchy order) with these ``hierarchy`` values."""
    return lambda ids: {"tiers": [{"id": i, "hierarchy": h} for i, h in zip(ids, hierarchies, strict=True)]}


@pytest.mark.parametrize(
    "answer",
    [
        lambda ids: {"tiers": None},
        lambda ids: {"tiers": "tiers"},
        lambda ids: {"data": [{"id": i, "hierarchy": n} for n, i in enumerate(ids)]},
        lambda ids: [{"id": i, "hierarchy": n} for n, i in enumerate(ids)],
        lambda ids: {"tiers": [{"id": i} for i in ids]},  # no hierarchy
        _listing(["1", "2"]),
        _listing([None, None]),
        _listing([True, False]),
        lambda ids: {"tiers": [{"id": ids[0], "hierarchy": 1}]},  # a qualifying tier missing
    ],
    ids=["null", "string", "no-tiers", "list", "no-hierarchy", "text", "null-hierarchy", "bool", "missing"],
)
def test_a_read_of_another_shape_keeps_the_qualifications_order(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, answer: Any
) -> None:
    from django_voucherify.api.resources.promotions import Promotions

    camp, ids = tiered_campaign(AMOUNT, PERCENT)
    monkeypatch.setattr(Promotions, "list_campaign_tiers", lambda self, campaign_id: answer(ids))
    with caplog.at_level(logging.WARNING, logger="django_voucherify.checkout"):
        outcome = checkout.validate([], ORDER, automatic=True)
    assert tier_codes(outcome) == ids[::-1] and outcome.valid  # best deal first
    assert checkout_log(caplog, camp) == [logging.WARNING]


def test_ties_in_the_hierarchy_keep_the_qualifications_order(sandbox: Any) -> None:
    from django_voucherify import client

    _camp, (ten_off, twenty_pc) = tiered_campaign(AMOUNT, PERCENT)
    client.promotions.update_tier(ten_off, {"hierarchy": 2})
    outcome = checkout.validate([], ORDER, automatic=True)
    assert tier_codes(outcome) == [twenty_pc, ten_off]


def test_no_read_starts_once_the_checkout_timeout_has_passed(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two campaigns of two tiers each: the first read takes longer than CHECKOUT_TIMEOUT (a
    clock that jumps), so the second campaign keeps the qualifications order, unread."""
    first, (first_ten, first_pc) = tiered_campaign(AMOUNT, PERCENT, name="First")
    second, (second_ten, second_pc) = tiered_campaign(AMOUNT, PERCENT, name="Second")
    ticks = iter([0.0, 1000.0])
    monkeypatch.setattr(hierarchy, "clock", lambda: next(ticks))
    with caplog.at_level(logging.WARNING, logger="django_voucherify.checkout"):
        outcome = checkout.validate([], ORDER, automatic=True)
    read = [(first, (first_ten, first_pc)), (second, (second_ten, second_pc))]
    codes = tier_codes(outcome)
    assert sandbox.calls.count(*tiers_read(first)) + sandbox.calls.count(*tiers_read(second)) == 1
    done, skipped = read if sandbox.calls.count(*tiers_read(first)) else read[::-1]
    assert codes.index(done[1][0]) < codes.index(done[1][1])  # in its hierarchy
    assert codes.index(skipped[1][1]) < codes.index(skipped[1][0])  # best deal first, unread
    assert checkout_log(caplog, skipped[0]) == [logging.WARNING]
