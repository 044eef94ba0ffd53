"""Campaign names and ids in ``checkout.publish`` (review 20). Voucherify's ``get-campaign``
takes a name or an id (an id first, in the sandbox), and nothing stops staff from naming a
campaign like another campaign's id: the ledger and ``offered`` must not mistake one campaign
for the other."""

from __future__ import annotations

import pytest

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CustomerPublication
from tests.support.checkout import published_codes, static_campaign

pytestmark = pytest.mark.django_db


def _id_of(name: str) -> str:
    return str(django_voucherify.client.campaigns.get(name)["id"])


def _named_like(sandbox, campaign_id: str) -> str:
    """A second campaign NAMED ``campaign_id`` (another campaign's id); its own id."""
    django_voucherify.client.campaigns.create(
        {
            "name": campaign_id,
            "campaign_type": "DISCOUNT_COUPONS",
            "type": "STATIC",
            "vouchers_count": 3,
            "voucher": {"discount": {"type": "PERCENT", "percent_off": 50}, "code_config": {"length": 8}},
        }
    )
    sandbox.wait_for_jobs()
    found = [c for c in sandbox.state.extra["campaigns"].values() if c["name"] == campaign_id]
    return str(found[0]["id"])


def test_a_campaign_named_like_another_ones_id_gets_its_own_row_and_code(sandbox):
    """Ann holds a code of B. Campaign A is named like B's id. Asking A (by its id) found B's
    row by "A's name", answered B's code as A's and wrote A's name over B's row: Ann never got
    A's code, and B's row now claimed to be named like B's own id."""
    b_name = static_campaign(sandbox)
    b_id = _id_of(b_name)
    b_code = checkout.publish(b_id, "ann").code
    a_id = _named_like(sandbox, b_id)

    given = checkout.publish(a_id, "ann")
    assert given.new and given.campaign == a_id and given.campaign_name == b_id
    assert given.code != b_code and published_codes(a_id, "ann") == [given.code]
    b_row = CustomerPublication.objects.get(campaign=b_id)
    assert (b_row.code, b_row.campaign_name) == (b_code, b_name)
    assert CustomerPublication.objects.count() == 2


def test_offered_by_id_does_not_offer_a_campaign_named_like_that_id(sandbox):
    """``offered`` lists B by its id. Campaign A (not offered) is named like B's id: asked by
    A's own id, it was given, because A's name is "in the list"."""
    b_name = static_campaign(sandbox)
    b_id = _id_of(b_name)
    a_id = _named_like(sandbox, b_id)

    with pytest.raises(checkout.CampaignNotOffered):
        checkout.publish(a_id, "ann", offered=[b_id])
    assert published_codes(a_id, "ann") == [] and not CustomerPublication.objects.exists()
    # B itself, by the listed id or by its name, is still offered.
    assert checkout.publish(b_id, "ann", offered=[b_id]).campaign == b_id
    assert checkout.publish(b_name, "bob", offered=[b_id]).campaign == b_id


def test_asking_by_an_id_is_not_answered_with_the_code_of_a_campaign_named_so(sandbox):
    """Ann holds a code of A, named like B's id. Asking B by its id was answered from the
    ledger with A's code (found "by name"), with no call: Ann could never get B's."""
    b_name = static_campaign(sandbox)
    b_id = _id_of(b_name)
    a_id = _named_like(sandbox, b_id)
    a_code = checkout.publish(a_id, "ann").code

    given = checkout.publish(b_id, "ann")
    assert given.new and (given.campaign, given.campaign_name) == (b_id, b_name)
    assert given.code != a_code and published_codes(b_name, "ann") == [given.code]
