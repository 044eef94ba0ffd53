"""checkout.publish() keys its ledger by the campaign's id (issue 17, review 18).

A call by name and a call by id are one row, one code, one ``new``; later calls in either form
are answered by the ledger without a call; rows written before (keyed by the campaign as their
caller gave it) keep their code; the campaign's look-up failing is an outage that writes and
sends nothing; ``offered`` limits the campaigns a caller may be given a code of, and answers an
unknown campaign exactly like one not offered.
"""

from __future__ import annotations

import pytest

import django_voucherify
from django_voucherify import checkout
from django_voucherify.api.resources.campaigns import Campaigns
from django_voucherify.models import CustomerPublication, PublicationState
from tests.support.checkout import published_codes, static_campaign

pytestmark = pytest.mark.django_db

PUBLICATIONS = "/v1/publications"


def _campaign_gets(sandbox) -> int:
    calls = sandbox.calls.calls
    return sum(1 for method, path, _ in calls if method == "GET" and path.startswith("/v1/campaigns/"))


def _id_of(name: str) -> str:
    return django_voucherify.client.campaigns.get(name)["id"]


def test_id_then_name_is_one_row_and_later_calls_ask_voucherify_nothing(sandbox):
    name = static_campaign(sandbox)
    campaign_id = _id_of(name)
    first = checkout.publish(campaign_id, "ann")
    assert first.new and (first.campaign, first.campaign_name) == (campaign_id, name)
    gets, posts = _campaign_gets(sandbox), sandbox.calls.count("POST", PUBLICATIONS)
    for asked in (name, campaign_id, name):
        again = checkout.publish(asked, "ann")
        assert (again.code, again.new, again.campaign) == (first.code, False, campaign_id)
    # Answered from the ledger by id and by name: no look-up, no publication.
    assert (_campaign_gets(sandbox), sandbox.calls.count("POST", PUBLICATIONS)) == (gets, posts)
    row = CustomerPublication.objects.get()
    assert (row.campaign, row.campaign_name) == (campaign_id, name)
    assert published_codes(name, "ann") == [first.code]


def _as_written_before(row: CustomerPublication, campaign: str) -> None:
    """Make ``row`` look like one written before the ledger was keyed by id."""
    CustomerPublication.objects.filter(pk=row.pk).update(campaign=campaign, campaign_name="")


@pytest.mark.parametrize("keyed_by", ["name", "id"])
def test_a_published_row_written_before_keeps_its_code_whatever_the_form_asked(sandbox, keyed_by):
    name = static_campaign(sandbox)
    campaign_id = _id_of(name)
    first = checkout.publish(name, "ann")
    _as_written_before(CustomerPublication.objects.get(), name if keyed_by == "name" else campaign_id)
    other = campaign_id if keyed_by == "name" else name
    again = checkout.publish(other, "ann")  # not found locally: resolved, then found by either
    assert (again.code, again.new) == (first.code, False)
    row = CustomerPublication.objects.get()
    assert row.campaign_name == name  # filled in: the next call by name needs no look-up
    gets = _campaign_gets(sandbox)
    assert checkout.publish(name, "ann").code == first.code
    assert _campaign_gets(sandbox) == gets
    assert sandbox.calls.count("POST", PUBLICATIONS) == 1 and published_codes(name, "ann") == [first.code]


def test_a_row_sent_before_with_its_answer_lost_is_looked_up_not_sent_again(sandbox):
    """An older PENDING row keyed by name, sent under its key (the answer lost), asked by id:
    the same row is used, so its key finds the publication Voucherify holds."""
    name = static_campaign(sandbox)
    sandbox.faults.add(path=PUBLICATIONS, method="POST", drop=True, after=True, times=1)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.publish(name, "ann")
    [code] = published_codes(name, "ann")
    row = CustomerPublication.objects.get()
    assert row.state == PublicationState.PENDING and row.sent_at is not None
    _as_written_before(row, name)
    given = checkout.publish(_id_of(name), "ann")
    assert (given.code, given.new) == (code, True)
    assert CustomerPublication.objects.count() == 1 and published_codes(name, "ann") == [code]


def test_rows_of_both_forms_from_before_keep_their_code_and_make_no_third(sandbox):
    """The duplicates the old key could make (one row by name, one by id; join_once gave both
    the same code): every call answers that code, and no row is added."""
    name = static_campaign(sandbox)
    campaign_id = _id_of(name)
    first = checkout.publish(name, "ann")
    _as_written_before(CustomerPublication.objects.get(), name)
    CustomerPublication.objects.create(
        campaign=campaign_id,
        customer_source_id="ann",
        state=PublicationState.PUBLISHED,
        code=first.code,
        publication_id="pub_copy",
    )
    for asked in (campaign_id, name, campaign_id):
        again = checkout.publish(asked, "ann")
        assert (again.code, again.new) == (first.code, False)
    assert CustomerPublication.objects.count() == 2
    assert sandbox.calls.count("POST", PUBLICATIONS) == 1


@pytest.mark.parametrize("fault", ["503", "dropped", "dropped_after"])
def test_a_campaign_look_up_without_an_answer_is_an_outage_that_writes_nothing(sandbox, fault):
    name = static_campaign(sandbox)
    path = f"/v1/campaigns/{name}"
    if fault == "503":
        sandbox.faults.add(path=path, method="GET", status=503, times=5)
    else:
        sandbox.faults.add(path=path, method="GET", drop=True, after=fault == "dropped_after", times=5)
    with pytest.raises(checkout.CheckoutUnavailable) as caught:
        checkout.publish(name, "ann")
    assert not caught.value.outcome_unknown  # nothing was sent
    assert not CustomerPublication.objects.exists()
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0
    sandbox.faults.clear()
    given = checkout.publish(name, "ann")
    assert given.new and published_codes(name, "ann") == [given.code]


@pytest.mark.parametrize(
    "answer", [[], {}, {"id": "", "name": "x"}, {"id": "camp_1"}, {"id": 7, "name": "x"}]
)
def test_a_campaign_look_up_answered_in_the_wrong_shape_is_an_outage(sandbox, monkeypatch, answer):
    name = static_campaign(sandbox)
    monkeypatch.setattr(Campaigns, "get", lambda self, campaign_id: answer)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.publish(name, "ann")
    assert not CustomerPublication.objects.exists()
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0


def test_an_unknown_campaign_is_refused_before_a_row_is_written(sandbox):
    with pytest.raises(checkout.PublicationRefused) as refused:
        checkout.publish("No such campaign", "ann")
    assert refused.value.key in ("not_found", "resource_not_found")
    assert refused.value.message == "This campaign does not exist."
    assert not CustomerPublication.objects.exists()
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0


def test_offered_matches_a_name_by_id_and_an_id_by_name(sandbox):
    name = static_campaign(sandbox)
    campaign_id = _id_of(name)
    assert checkout.publish(campaign_id, "ann", offered=[name]).new
    assert checkout.publish(name, "bob", offered=(campaign_id,)).new
    # Later calls in the other form, answered by the ledger: still matched.
    assert not checkout.publish(name, "ann", offered=[campaign_id]).new
    assert not checkout.publish(campaign_id, "bob", offered=[name]).new


def test_a_campaign_not_offered_and_an_unknown_one_are_the_same_refusal(sandbox):
    name, other = static_campaign(sandbox), static_campaign(sandbox)
    refusals = []
    for asked in (name, _id_of(name), "No such campaign"):
        with pytest.raises(checkout.CampaignNotOffered) as refused:
            checkout.publish(asked, "ann", offered=[other])
        refusals.append((type(refused.value), refused.value.message))
    assert len(set(refusals)) == 1
    assert not CustomerPublication.objects.exists()
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0


def test_an_offered_campaign_voucherify_does_not_know_is_refused_and_logged(sandbox, caplog):
    """A listed campaign deleted in Voucherify (or misspelt): the caller gets the one refusal;
    staff get a warning naming it."""
    with (
        caplog.at_level("WARNING", logger="django_voucherify.checkout"),
        pytest.raises(checkout.CampaignNotOffered),
    ):
        checkout.publish("Welcom", "ann", offered=["Welcom"])
    assert "'Welcom' is offered but Voucherify does not know it" in caplog.text
    assert not CustomerPublication.objects.exists()


def test_nothing_offered_asks_voucherify_nothing(sandbox):
    name = static_campaign(sandbox)
    calls = len(sandbox.calls.calls)
    with pytest.raises(checkout.CampaignNotOffered):
        checkout.publish(name, "ann", offered=[])
    assert len(sandbox.calls.calls) == calls


def test_a_code_held_of_a_campaign_not_offered_is_not_answered(sandbox):
    """The shop gave the code itself (no limit); a caller limited to other campaigns is not
    told it, by name or by id."""
    name, other = static_campaign(sandbox), static_campaign(sandbox)
    checkout.publish(name, "ann")
    for asked in (name, _id_of(name)):
        with pytest.raises(checkout.CampaignNotOffered):
            checkout.publish(asked, "ann", offered=[other])
