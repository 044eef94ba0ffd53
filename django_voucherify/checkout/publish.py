"""Hand a customer a code of a campaign, once: :func:`publish` (a welcome code at sign-up).

Where the truth lives (docs/checkout.md, "Publishing a code"): Voucherify holds the
publication; the local ledger row (:class:`~django_voucherify.models.CustomerPublication`, one
per campaign id and customer) is the claim that lets one caller at a time ask for it, and the
record of the code once answered. Every request for a row carries the row's ``key`` as the
publication's ``source_id`` and asks for ``join_once``: a request sent again (after a lost
answer, a crash between the call and the record, a stalled holder taken over) names the same
publication, and Voucherify gives the same code back. Before sending again, a holder whose row
was already sent looks the publication up by that ``source_id`` (``list-publications``).

Steps of one call:

0. a PUBLISHED row of the customer whose campaign id or name is the one asked for answers at
   once, with no call (by name only for a name that cannot be an id: :func:`_looks_like_id`);
   otherwise the campaign is resolved to its id and name (``get-campaign``): a call by name
   and a call by id are one row;
1. the row is created if missing (``INSERT … ON CONFLICT DO NOTHING``: two first calls make one
   row), keyed by the campaign's id; a row written before the key was resolved (keyed by the
   name or id its caller gave) is found by either and used as it is;
2. the row is leased (one ``UPDATE``); a caller that finds it held waits for the holder's answer
   (polling the row) up to ``CHECKOUT_TIMEOUT``, then raises :class:`CheckoutUnavailable`;
3. the holder, if the row was sent before, looks the publication up; otherwise (or if not found)
   it marks the row sent (committed), then sends ``create-publication``;
4. the answer's code is recorded (only on a PENDING row: the first answer recorded wins, and
   every caller returns the recorded code); a refusal (4xx) is raised as
   :class:`PublicationRefused`, an unknown outcome as :class:`CheckoutUnavailable`. Either way
   the lease is given back, so the next call carries on at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import connections, router
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from .. import background
from ..api.errors import APIError, VoucherifyError
from ..conf import settings as voucherify_settings
from ..models.customers import Customer
from ..models.publications import CustomerPublication, PublicationState
from ..validation import campaign_problem, mirror_problem, source_id_problem
from . import cart
from .claim import OUTSIDE_TRANSACTION_ONLY
from .errors import CheckoutError, CheckoutUnavailable, CodesRefused, InvalidCheckoutInput, message_for

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

__all__ = ["CampaignNotOffered", "PublicationRefused", "PublishedCode", "publish"]

logger = logging.getLogger("django_voucherify.checkout")

#: How often a caller that finds the row held reads it again (s).
POLL_INTERVAL = 0.05

PUBLISH_MESSAGES = {
    "no_voucher_suitable_for_publication": gettext_lazy("No code of this campaign is left to give."),
    "not_found": gettext_lazy("This campaign does not exist."),
    "resource_not_found": gettext_lazy("This campaign does not exist."),
}


class PublicationRefused(CodesRefused):
    """Voucherify refused to publish (no code left, unknown campaign...): nothing was given.
    ``key`` is Voucherify's error key. A later call asks again."""


class CampaignNotOffered(CheckoutError):
    """The campaign is not one of those the caller may be given a code of (``offered``), or
    does not exist: the same error and words for both, so that the answer never tells whether
    a campaign exists. Nothing was written or sent."""

    def __init__(self) -> None:
        super().__init__(gettext("No code of this campaign can be given to you here."))


@dataclass(frozen=True)
class _Campaign:
    """A campaign as Voucherify answered ``get-campaign``: the ledger's key and its name."""

    id: str
    name: str


@dataclass(frozen=True)
class PublishedCode:
    """The code ``customer_source_id`` holds from ``campaign``. ``new`` is True for the call that
    recorded it (a welcome mail is sent once), False for every later one."""

    code: str
    #: The campaign's id (on rows written before the ledger was keyed by id: as first asked).
    campaign: str
    #: The campaign's name ("" on such older rows until a call asks Voucherify again).
    campaign_name: str
    customer_source_id: str
    publication_id: str
    new: bool


def publish(
    campaign: str,
    customer: cart.CustomerInput,
    *,
    client: VoucherifyClient | None = None,
    wait: float | None = None,
    offered: Collection[str] | None = None,
) -> PublishedCode:
    """Give ``customer`` one code of ``campaign`` (its name or id), always the same one.

    ``customer`` is a ``Customer`` mirror, a source id, or a mapping with ``source_id`` (and the
    fields Voucherify should upsert the customer with). ``wait``: how long a call that finds
    another caller sending waits for its answer (default ``CHECKOUT_TIMEOUT``). ``offered``:
    the campaigns (names or ids, either matches) this caller may be given a code of; ``None``
    (the default: the shop's own code decides) is any campaign. Must run outside
    ``transaction.atomic()`` (the row is committed before the request leaves). Raises
    :class:`InvalidCheckoutInput`, :class:`CampaignNotOffered`, :class:`PublicationRefused`,
    :class:`CheckoutUnavailable`.
    """
    body = _customer_body(customer)
    if problem := campaign_problem(campaign):
        raise InvalidCheckoutInput(problem)
    allowed = None if offered is None else frozenset(offered)
    conf = voucherify_settings()
    _outside_transaction()
    source_id = str(body["source_id"])
    known = _published(campaign, source_id)
    if known is not None and _listed(allowed, campaign, known.campaign, known.campaign_name):
        return _answer(known, new=False)
    if allowed is not None and not allowed:
        raise CampaignNotOffered  # none offered: no need to ask Voucherify what it is
    if client is None:
        client = cart.checkout_client()
    found = _resolve(client, campaign, allowed)
    if not _listed(allowed, campaign, found.id, found.name):
        raise CampaignNotOffered
    row = _row(found, source_id)
    deadline = time.monotonic() + (conf.checkout_timeout if wait is None else wait)
    while True:
        if row.state == PublicationState.PUBLISHED:
            return _answer(row, new=False)
        lease = background.lease(
            CustomerPublication,
            row.pk,
            due_in=None,
            lease_for=_lease_for(),
            where=Q(state=PublicationState.PENDING),
        )
        if lease is not None:
            row.refresh_from_db(fields=["sent_at", "attempts"])  # as the last holder left them
            return _send(client, row, lease, body, found.id)
        if time.monotonic() >= deadline:
            raise CheckoutUnavailable(outcome_unknown=True)
        time.sleep(POLL_INTERVAL)
        row = CustomerPublication.objects.get(pk=row.pk)


def _customer_body(customer: cart.CustomerInput) -> dict[str, Any]:
    if customer is None:
        raise InvalidCheckoutInput(gettext("A code can only be given to a customer."))
    if not isinstance(customer, Customer | str | dict):
        raise InvalidCheckoutInput(gettext("The customer must be a Customer, a source id or a mapping."))
    body = cart.customer_body(customer) or {}
    if problem := source_id_problem(body.get("source_id")):
        raise InvalidCheckoutInput(problem)
    return body


def _outside_transaction() -> None:
    connection = connections[router.db_for_write(CustomerPublication)]
    if connection.atomic_blocks and not getattr(connection.atomic_blocks[-1], "_from_testcase", False):
        raise RuntimeError(OUTSIDE_TRANSACTION_ONLY.replace("redeem()", "publish()"))


def _lease_for() -> timedelta:
    """Longer than the holder's two calls (a look-up, then the publication)."""
    return timedelta(seconds=2 * voucherify_settings().longest_checkout_request())


#: How Voucherify's campaign ids begin (``camp_...``, the spec's examples and the sandbox's).
CAMPAIGN_ID_PREFIX = "camp_"


def _looks_like_id(text: str) -> bool:
    """Whether ``text`` may be a campaign's id. ``get-campaign`` takes a name or an id, an id
    first; nothing stops staff from naming a campaign like another's id, so such a name never
    stands for its campaign without asking Voucherify (review 20)."""
    return text.startswith(CAMPAIGN_ID_PREFIX)


def _listed(allowed: frozenset[str] | None, asked: str, campaign_id: str, name: str) -> bool:
    """Whether the campaign ``asked`` (as the caller gave it) that is ``campaign_id`` named
    ``name`` is offered. ``asked`` listed: Voucherify resolved that very text to it. Its name
    listed: only a name that cannot be another campaign's id (a listed ``camp_...`` means the
    campaign with that id, even when another campaign is named so)."""
    if allowed is None:
        return True
    return (
        asked in allowed
        or campaign_id in allowed
        or bool(name and not _looks_like_id(name) and name in allowed)
    )


def _published(campaign: str, customer_source_id: str) -> CustomerPublication | None:
    """The customer's PUBLISHED row of ``campaign``, found by its id or its name (no call);
    not by a name that may be another campaign's id (:func:`_looks_like_id`: that campaign is
    asked of Voucherify).

    The oldest wins: before the ledger was keyed by id, a call by name and one by id could
    make two rows (Voucherify's ``join_once`` gave both the same code)."""
    by_name = Q() if _looks_like_id(campaign) else Q(campaign_name=campaign)
    return (
        CustomerPublication.objects.filter(
            Q(campaign=campaign) | by_name,
            customer_source_id=customer_source_id,
            state=PublicationState.PUBLISHED,
        )
        .order_by("created_at", "pk")
        .first()
    )


def _resolve(client: VoucherifyClient, campaign: str, allowed: frozenset[str] | None) -> _Campaign:
    """The campaign's id and name (``get-campaign`` takes either), asked of Voucherify on each
    call that needs a row (not cached: a name may come to mean another campaign, deleted and
    created again; the ledger answers every later call without it).

    Unknown: :class:`CampaignNotOffered` when the caller is limited to ``allowed`` campaigns
    (the same answer as a campaign not offered; logged for staff when the campaign is listed:
    the list names a campaign Voucherify does not know), :class:`PublicationRefused`
    otherwise. No usable answer: :class:`CheckoutUnavailable`; nothing was written or sent."""
    try:
        answer = client.campaigns.get(campaign)
        found = answer if isinstance(answer, dict) else {}
        campaign_id, name = found.get("id"), found.get("name")
        if not isinstance(campaign_id, str) or not campaign_id or not isinstance(name, str):
            raise VoucherifyError("get-campaign answered without the campaign's id and name")
        if campaign_problem(campaign_id):  # too long for the ledger's key, a NUL...: not an id
            raise VoucherifyError("get-campaign answered an id no campaign can have")
    except VoucherifyError as exc:
        if _refused(exc):
            if allowed is not None:
                if campaign in allowed:
                    logger.warning(
                        "Campaign %r is offered but Voucherify does not know it: %s", campaign, exc
                    )
                raise CampaignNotOffered from None
            raise _refusal(exc) from None
        raise CheckoutUnavailable(outcome_unknown=False) from exc
    # A name no caller can ask by (too long, a NUL...) is no use to match later calls, and the
    # ledger could not store it (review 20: a 500): kept blank.
    return _Campaign(campaign_id, "" if campaign_problem(name) else name)


def _refused(exc: VoucherifyError) -> bool:
    """A 4xx that is Voucherify's answer about the request (not the keys, not a rate limit)."""
    return isinstance(exc, APIError) and 400 <= exc.status < 500 and exc.status not in (401, 403, 429)


def _refusal(exc: VoucherifyError) -> PublicationRefused:
    key = getattr(exc, "key", None) or None
    return PublicationRefused(str(PUBLISH_MESSAGES.get(key or "", message_for(key))), key=key)


def _row(campaign: _Campaign, customer_source_id: str) -> CustomerPublication:
    """The row of (campaign, customer), inserted if missing (keyed by the campaign's id);
    race-safe (one row). A row written before the ledger was keyed by id (keyed by the name or
    the id its caller gave) is used as it is (it may already have been sent under its key),
    the PUBLISHED one first; its name is filled in. A row keyed by the name is one written with
    that name or none (another campaign's row keyed by its id, the name being that id, is not
    this campaign's), and never when the name may be an id (:func:`_looks_like_id`)."""
    older = Q()
    if not _looks_like_id(campaign.name):
        older = Q(campaign=campaign.name, campaign_name__in=("", campaign.name))
    rows = list(
        CustomerPublication.objects.filter(
            Q(campaign=campaign.id) | older, customer_source_id=customer_source_id
        ).order_by("created_at", "pk")
    )
    if rows:
        row = next((r for r in rows if r.state == PublicationState.PUBLISHED), rows[0])
        if row.campaign_name != campaign.name:  # an older row, or the campaign was renamed
            CustomerPublication.objects.filter(pk=row.pk).update(campaign_name=campaign.name)
            row.campaign_name = campaign.name
        return row
    CustomerPublication.objects.bulk_create(
        [
            CustomerPublication(
                campaign=campaign.id, campaign_name=campaign.name, customer_source_id=customer_source_id
            )
        ],
        ignore_conflicts=True,
    )
    return CustomerPublication.objects.get(campaign=campaign.id, customer_source_id=customer_source_id)


def _send(
    client: VoucherifyClient,
    row: CustomerPublication,
    lease: background.Lease,
    body: dict[str, Any],
    campaign_id: str,
) -> PublishedCode:
    """Steps 3 and 4, by the lease's holder. The campaign goes by its id (the spec's
    ``campaign.name`` takes a name or an id): an older row keyed by a name names the campaign
    resolved now."""
    try:
        found = _look_up(client, row) if row.sent_at is not None else None
        if found is None:
            _mark_sent(row, lease)
            found = dict(
                client.publications.create(
                    {"campaign": {"name": campaign_id}, "customer": body, "source_id": row.key},
                    join_once=True,
                )
            )
        code, publication_id = _code_of(found)
    except VoucherifyError as exc:
        _give_back(row, lease, exc)
        if _refused(exc):
            raise _refusal(exc) from None
        raise CheckoutUnavailable(outcome_unknown=row.sent_at is not None) from exc
    except BaseException as exc:
        _give_back(row, lease, exc)
        raise
    return _record(row, lease, code, publication_id)


def _look_up(client: VoucherifyClient, row: CustomerPublication) -> dict[str, Any] | None:
    """The successful publication with this row's ``source_id``, if Voucherify lists one."""
    page = client.publications.list(source_id=row.key, limit=10)
    listed = page.get("publications") if isinstance(page, dict) else None
    if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
        # A 2xx in another shape proves nothing either way: an unknown outcome (review 18: it
        # raised AttributeError, a 500 from the REST endpoint).
        raise VoucherifyError("list-publications answered in an unexpected shape")
    for publication in listed:
        if publication.get("source_id") == row.key and publication.get("result", "SUCCESS") == "SUCCESS":
            return dict(publication)
    return None


def _code_of(publication: Any) -> tuple[str, str]:
    voucher = publication.get("voucher") if isinstance(publication, dict) else None
    code = voucher.get("code") if isinstance(voucher, dict) else None
    if not isinstance(code, str) or not code:
        raise VoucherifyError("create-publication answered without a voucher code")
    publication_id = str(publication.get("id") or "")
    # Checked before the UPDATE records them (review 3: a NUL or an over-long code raised there,
    # outside the send's error handling: a 500 with the row leased, on every later call too).
    if problem := mirror_problem(CustomerPublication(code=code, publication_id=publication_id)):
        raise VoucherifyError(f"create-publication answered what the ledger cannot hold: {problem}")
    return code, publication_id


def _mark_sent(row: CustomerPublication, lease: background.Lease) -> None:
    """Committed before the request leaves: a crash after it leaves a row the next holder
    looks up instead of publishing blindly."""
    now = timezone.now()
    updated = CustomerPublication.objects.filter(pk=row.pk, lease_token=lease.token).update(
        sent_at=now, attempts=row.attempts + 1
    )
    if updated != 1:  # taken over: the holder stalled past its lease; the new one sends
        raise CheckoutUnavailable(outcome_unknown=True)
    row.sent_at = row.sent_at or now


def _record(
    row: CustomerPublication, lease: background.Lease, code: str, publication_id: str
) -> PublishedCode:
    """Record the code on a PENDING row (whoever holds it now: every answer names the same
    publication; the first recorded wins) and return the recorded one."""
    recorded = CustomerPublication.objects.filter(pk=row.pk, state=PublicationState.PENDING).update(
        state=PublicationState.PUBLISHED,
        code=code,
        publication_id=publication_id,
        published_at=timezone.now(),
        lease_until=None,
        **background.error_fields(None),
    )
    row = CustomerPublication.objects.get(pk=row.pk)
    return _answer(row, new=recorded == 1)


def _give_back(row: CustomerPublication, lease: background.Lease, exc: BaseException) -> None:
    """End the lease at once (the next call carries on), keeping the error for staff."""
    CustomerPublication.objects.filter(pk=row.pk, lease_token=lease.token).update(
        lease_until=None, **background.error_fields(exc)
    )


def _answer(row: CustomerPublication, *, new: bool) -> PublishedCode:
    return PublishedCode(
        code=row.code,
        campaign=row.campaign,
        campaign_name=row.campaign_name,
        customer_source_id=row.customer_source_id,
        publication_id=row.publication_id,
        new=new,
    )
