"""checkout.publish(): a campaign's code handed to a customer once, against the sandbox.

Double calls, answers lost after Voucherify acted, a process killed between the call and the
record, stalled holders: the same code comes back, and Voucherify holds one publication.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import Customer, CustomerPublication, PublicationState
from tests.support.checkout import published_codes, static_campaign

# The module (``checkout.publish`` is the function, bound over the submodule's name).
publish_module = importlib.import_module("django_voucherify.checkout.publish")

PUBLICATIONS = "/v1/publications"
_names = itertools.count()


def _expire_leases() -> None:
    CustomerPublication.objects.update(lease_until=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_one_code_and_the_same_again_without_a_call(sandbox):
    campaign = static_campaign(sandbox)
    first = checkout.publish(campaign, "ann")
    assert first.new and first.code and first.customer_source_id == "ann"
    posts = sandbox.calls.count("POST", PUBLICATIONS)
    again = checkout.publish(campaign, {"source_id": "ann", "email": "ann@example.com"})
    assert (again.code, again.new) == (first.code, False)
    assert sandbox.calls.count("POST", PUBLICATIONS) == posts == 1  # answered from the ledger
    assert published_codes(campaign, "ann") == [first.code]
    other = checkout.publish(campaign, Customer.objects.create(source_id="bob"))
    assert other.code != first.code
    row = CustomerPublication.objects.get(campaign_name=campaign, customer_source_id="ann")
    assert row.state == PublicationState.PUBLISHED and row.code == first.code and row.publication_id
    assert row.campaign == django_voucherify.client.campaigns.get(campaign)["id"]  # keyed by id
    assert (first.campaign, first.campaign_name) == (row.campaign, campaign)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("campaign", "customer"),
    [
        ("", "ann"),
        ("x" * 201, "ann"),
        ("Wel\u202ecome", "ann"),
        (" Welcome", "ann"),
        (7, "ann"),
        ("Welcome", None),
        ("Welcome", ""),
        ("Welcome", "a\x00b"),
        ("Welcome", 12),
    ],
)
def test_bad_input_is_refused_before_anything_is_written_or_sent(sandbox, campaign, customer):
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.publish(campaign, customer)
    assert not CustomerPublication.objects.exists()
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0


@pytest.mark.django_db
def test_a_refusal_is_raised_with_its_key_and_a_later_call_asks_again(sandbox):
    campaign = static_campaign(sandbox, codes=1)
    checkout.publish(campaign, "ann")
    with pytest.raises(checkout.PublicationRefused) as refused:
        checkout.publish(campaign, "bob")
    assert refused.value.key == "no_voucher_suitable_for_publication"
    assert refused.value.message == "No code of this campaign is left to give."
    row = CustomerPublication.objects.get(customer_source_id="bob")
    assert row.state == PublicationState.PENDING and row.lease_until is None
    assert row.last_error_key == "no_voucher_suitable_for_publication"
    # Voucherify lists the failed attempt under the row's key: the next call's look-up does not
    # take it for a code, and once the campaign has a code again, bob gets it.
    [failed] = django_voucherify.client.publications.list(source_id=row.key)["publications"]
    assert failed["result"] == "FAILURE"
    campaign_id = django_voucherify.client.campaigns.get(campaign)["id"]
    django_voucherify.client.campaigns.add_vouchers(campaign_id)
    assert checkout.publish(campaign, "bob").code not in ("", checkout.publish(campaign, "ann").code)
    with pytest.raises(checkout.PublicationRefused):
        checkout.publish("No such campaign", "bob")


@pytest.mark.django_db
def test_an_answer_lost_after_voucherify_acted_gives_the_same_code_on_retry(sandbox):
    campaign = static_campaign(sandbox)
    sandbox.faults.add(path=PUBLICATIONS, method="POST", drop=True, after=True, times=1)
    with pytest.raises(checkout.CheckoutUnavailable) as lost:
        checkout.publish(campaign, "ann")
    assert lost.value.outcome_unknown
    [code] = published_codes(campaign, "ann")  # Voucherify did publish
    again = checkout.publish(campaign, "ann")
    assert again.code == code and again.new
    assert published_codes(campaign, "ann") == [code]
    # The look-up found it: no POST answered (the dropped one has no answer to log).
    assert sandbox.calls.count("POST", PUBLICATIONS) == 0 and sandbox.calls.count("GET", PUBLICATIONS) >= 1


class _Killed(BaseException):
    """The process dies: nothing after this runs, not even the error path."""


@pytest.mark.django_db
def test_a_process_killed_between_the_call_and_the_record(sandbox, monkeypatch):
    campaign = static_campaign(sandbox)

    def die(*args, **kwargs):
        raise _Killed

    with monkeypatch.context() as patched:
        patched.setattr(publish_module, "_record", die)
        patched.setattr(publish_module, "_give_back", lambda *a: None)
        with pytest.raises(_Killed):
            checkout.publish(campaign, "ann")
    [code] = published_codes(campaign, "ann")
    row = CustomerPublication.objects.get()
    assert row.state == PublicationState.PENDING and row.sent_at is not None and row.lease_until
    # While the dead holder's lease runs, a caller waits for it, then says "try again".
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.publish(campaign, "ann", wait=0.1)
    _expire_leases()
    assert checkout.publish(campaign, "ann").code == code
    assert published_codes(campaign, "ann") == [code]


FAULTS = st.sampled_from(
    ["none", "lost_answer", "refused_503", "dropped_before", "lookup_503", "killed", "stalled"]
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(FAULTS, min_size=1, max_size=6))
def test_faults_between_the_call_and_the_record_never_give_two_codes(sandbox, monkeypatch, steps):
    """Each step is one call of publish() with a fault injected around it; whatever the
    sequence, every code a call returned is the one code Voucherify holds for the customer."""
    campaign = static_campaign(sandbox)
    customer = f"cust-{next(_names)}"
    returned: set[str] = set()
    for fault in steps:
        sandbox.faults.clear()
        with monkeypatch.context() as patched:
            if fault == "lost_answer":
                sandbox.faults.add(path=PUBLICATIONS, method="POST", drop=True, after=True, times=1)
            elif fault == "refused_503":
                sandbox.faults.add(path=PUBLICATIONS, method="POST", status=503, times=5)
            elif fault == "dropped_before":
                sandbox.faults.add(path=PUBLICATIONS, method="POST", drop=True, times=5)
            elif fault == "lookup_503":
                sandbox.faults.add(path=PUBLICATIONS, method="GET", status=503, times=5)
            elif fault == "killed":  # dies after the call, before the record

                def die(*args, **kwargs):
                    raise _Killed

                patched.setattr(publish_module, "_record", die)
                patched.setattr(publish_module, "_give_back", lambda *a: None)
            elif fault == "stalled":
                # The holder stalls with its answer past its lease; another caller takes the
                # row over and records first; then the stalled one records.
                record = publish_module._record

                def stall_then_record(*args, **kwargs):
                    _expire_leases()
                    with monkeypatch.context() as inner:
                        inner.setattr(publish_module, "_record", record)
                        returned.add(checkout.publish(campaign, customer, wait=0).code)
                    return record(*args, **kwargs)

                patched.setattr(publish_module, "_record", stall_then_record)
            with contextlib.suppress(checkout.CheckoutUnavailable, _Killed):
                returned.add(checkout.publish(campaign, customer, wait=0).code)
        if fault == "killed":
            _expire_leases()
    sandbox.faults.clear()
    _expire_leases()
    final = checkout.publish(campaign, customer)
    assert returned <= {final.code}
    assert published_codes(campaign, customer) == [final.code]
    row = CustomerPublication.objects.get(campaign_name=campaign, customer_source_id=customer)
    assert (row.state, row.code) == (PublicationState.PUBLISHED, final.code)


@pytest.mark.django_db
def test_publish_refuses_to_run_inside_a_transaction(sandbox):
    from django.db import transaction

    campaign = static_campaign(sandbox)
    with pytest.raises(RuntimeError, match="publish"), transaction.atomic():
        checkout.publish(campaign, "ann")
