"""``checkout.publish`` with ``get-campaign`` answers it cannot store (wrong-shape 2xx): an id or
a name longer than the ledger's columns, or holding a NUL (PostgreSQL refuses it) (review 20)."""

from __future__ import annotations

import pytest
from django.db import connection

from django_voucherify import checkout
from django_voucherify.api.resources.campaigns import Campaigns
from django_voucherify.models import CustomerPublication
from tests.support.checkout import published_codes, static_campaign

pytestmark = pytest.mark.django_db

PUBLICATIONS = "/v1/publications"


@pytest.mark.parametrize("bad_id", ["camp_" + "x" * 300, "camp_\x00x", "camp_\nx", " camp_x"])
def test_an_id_the_ledger_cannot_hold_is_an_outage_with_nothing_written(sandbox, monkeypatch, bad_id):
    """Such an id reached the INSERT: PostgreSQL's DataError / ValueError, a 500 at the REST door."""
    assert connection.vendor == "postgresql"
    name = static_campaign(sandbox)
    monkeypatch.setattr(Campaigns, "get", lambda self, campaign_id: {"id": bad_id, "name": name})
    with pytest.raises(checkout.CheckoutUnavailable) as caught:
        checkout.publish(name, "ann")
    assert not caught.value.outcome_unknown
    assert not CustomerPublication.objects.exists()
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0


@pytest.mark.parametrize("bad_name", ["N" * 300, "Wel\x00come"])
def test_a_name_the_ledger_cannot_hold_is_kept_blank_and_the_code_given(sandbox, monkeypatch, bad_name):
    """Voucherify's name is only what a later call by name is matched with, and no caller can
    ask by such a name: the row keeps it blank instead of failing the INSERT (a 500)."""
    name = static_campaign(sandbox)
    real = Campaigns.get

    def renamed(self, campaign_id):
        return {**real(self, campaign_id), "name": bad_name}

    monkeypatch.setattr(Campaigns, "get", renamed)
    given = checkout.publish(name, "ann")
    assert given.new and given.campaign_name == "" and published_codes(name, "ann") == [given.code]
    assert CustomerPublication.objects.get().campaign_name == ""
