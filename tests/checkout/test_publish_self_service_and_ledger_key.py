"""``POST publications/`` and ``checkout.publish``: only ``SELF_SERVICE_CAMPAIGNS`` are given out
at the REST door, the ledger is keyed by the campaign's id (by name then by id: one
publication), and a look-up answered in another shape is an outage (503), not a 500
(review 18)."""

from __future__ import annotations

import pytest

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CustomerPublication
from tests.support.checkout import PUBLISH, client_for, published_codes, static_campaign
from tests.support.sandbox import options

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]


def test_a_shopper_cannot_take_a_code_of_a_campaign_the_shop_never_offered(sandbox, ann):
    """review18 MAJOR (fixed): POST publications/ let any signed-in shopper take a code of ANY
    campaign by name or id (a staff-only or partner campaign too) and drain it. Now only the
    campaigns of SELF_SERVICE_CAMPAIGNS (none by default) are given out there."""
    internal = static_campaign(sandbox, codes=3)  # e.g. "Staff 50%": never meant for shoppers
    answer = client_for(ann).post(PUBLISH, {"campaign": internal}, format="json")
    assert answer.status_code == 403, (answer.status_code, answer.content)
    assert published_codes(internal, "user-ann") == []


def test_name_then_id_is_one_publication_recorded_once(sandbox):
    """review18 MINOR (fixed): the ledger keyed the campaign as given, so a call by name and a
    call by id made two rows and both answered new=True (the 'welcome mail once' contract of
    PublishedCode.new). The ledger is now keyed by the campaign's id."""
    name = static_campaign(sandbox)
    campaign_id = django_voucherify.client.campaigns.get(name)["id"]
    first = checkout.publish(name, "ann")
    second = checkout.publish(campaign_id, "ann")
    assert second.code == first.code
    assert not second.new, "the welcome mail is sent a second time"
    assert CustomerPublication.objects.count() == 1


@pytest.mark.parametrize("listed", [[], {"publications": ["pub_1"]}, {"publications": {"a": 1}}, "ok"])
def test_a_look_up_answered_in_the_wrong_shape_is_an_outage_not_a_500(sandbox, ann, monkeypatch, listed):
    """2xx with a body that is not the expected shape (REVIEW.md, failure answers): the look-up
    of a row already sent must end as 'unavailable, try again' (503 JSON), never a 500."""
    from django_voucherify.api.resources.distributions import Publications

    campaign = static_campaign(sandbox)
    sandbox.faults.add(path="/v1/publications", method="POST", drop=True, after=True, times=1)
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[campaign]):
        lost = client_for(ann).post(PUBLISH, {"campaign": campaign}, format="json")
        assert lost.status_code == 503  # the row is now sent: the next call looks it up first
        monkeypatch.setattr(Publications, "list", lambda self, **params: listed)
        answer = client_for(ann).post(PUBLISH, {"campaign": campaign}, format="json")
    assert answer.status_code == 503, (answer.status_code, answer.content)
    assert answer.json()["key"] == "unavailable"
    row = CustomerPublication.objects.get()
    assert row.lease_until is None  # the lease was given back: the next call carries on
