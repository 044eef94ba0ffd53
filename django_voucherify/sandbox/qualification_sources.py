"""Where a qualification's candidates come from: a list of sources, each yielding newest first.

Contract
--------
A :data:`Source` is a function ``(state, query) -> Iterator[Candidate]``. It yields the
redeemables it knows of that were created strictly before ``query.before`` (integer
microseconds; None: from the newest), newest first (``created_at``, then creation rank), for the
scenarios it serves, and nothing for the others. A row it looked at and passed over (a code of
another customer, a campaign's unpublished code) is yielded too, as a *probe* (``obj`` None):
the request's scan bound counts every row looked at, wherever it was skipped, so a source never
walks a large store unbounded. The request merges the sources (``heapq.merge`` on
:attr:`Candidate.sort_key`), checks each candidate with the validation engine and pages them.

The sources (:data:`SOURCES`, in this order):

- :func:`wallet`: the vouchers the customer holds (``holder_id``: published to them, or created
  for them), every scenario; read through the voucher store's equality bucket on
  ``holder_id`` (``store.Bucket``, built once and then kept in step with every write): a
  request reads the customer's codes, never the store.
- :func:`public_vouchers`: standalone discount codes held by nobody (a generic code any shopper
  may type), for ``ALL`` and ``AUDIENCE_ONLY``; a walk down the vouchers' ``created_at`` index
  from the cursor, bounded by the request's scan bound. A campaign's codes nobody holds yet
  are not offered (they are the campaign's to hand out); gift and loyalty cards nobody holds
  neither (a bearer card's balance is not every shopper's).

Promotion tiers plug in as one more source, appended to :data:`SOURCES`::

    def promotion_tiers(state: SandboxState, query: Query) -> Iterator[Candidate]:
        if query.scenario == CUSTOMER_WALLET:
            return
        for tier in <the active tiers, newest first, created before query.before>:
            yield Candidate("promotion_tier", tier["id"], micros, rank, tier, automatic=True)

    SOURCES.append(promotion_tiers)

Nothing else changes here: the request prices a candidate through the same engine call as a
validation of ``{"object": candidate.kind, "id": candidate.id}`` (``evaluation.evaluate``), so a
tier is qualified once the engine prices tiers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django_voucherify.sandbox.state import SandboxState

ALL = "ALL"
CUSTOMER_WALLET = "CUSTOMER_WALLET"
AUDIENCE_ONLY = "AUDIENCE_ONLY"
#: The scenarios the sandbox simulates (the spec lists five more: refused with a 400).
SCENARIOS = (ALL, CUSTOMER_WALLET, AUDIENCE_ONLY)


@dataclass(frozen=True, slots=True)
class Query:
    scenario: str
    customer_id: str | None  # the stored customer's id, None when unknown or not given
    before: int | None  # only candidates created strictly before (microseconds)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A redeemable that may qualify, or a probe (``obj`` None) that counts a row looked at."""

    kind: str  # the redeemable's ``object``: "voucher", "promotion_tier"
    id: str  # what a validation names it by: a voucher's code, a tier's id
    micros: int  # created_at, integer microseconds
    rank: int  # creation rank in its store: the tie-break inside one millisecond
    obj: Mapping[str, Any] | None
    holder_role: str | None = None  # "OWNER" for the customer's own codes
    automatic: bool = False  # applies without a code (a promotion tier)

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.micros, self.rank)


Source = Callable[[SandboxState, Query], Iterator[Candidate]]


def wallet(state: SandboxState, query: Query) -> Iterator[Candidate]:
    """The customer's own vouchers (every scenario), newest first."""
    if query.customer_id is None:
        return
    vouchers = state.vouchers
    codes = vouchers.bucket("holder_id").keys_of.get(query.customer_id, ())
    created = vouchers.indexes["created_at"]
    found: list[Candidate] = []
    for code in codes:
        voucher = vouchers.get(code)
        if voucher is None or voucher.get("holder_id") != query.customer_id:
            continue
        micros = int(created.value(code))
        if query.before is not None and micros >= query.before:
            continue
        found.append(Candidate("voucher", code, micros, vouchers.seq.get(code, 0), voucher, "OWNER"))
    found.sort(key=lambda c: c.sort_key, reverse=True)
    yield from found


def is_public(voucher: Mapping[str, Any]) -> bool:
    """A standalone discount code that nobody holds: any shopper may use it."""
    return (
        voucher.get("campaign_id") is None
        and not voucher.get("holder_id")
        and voucher.get("type", "DISCOUNT_VOUCHER") == "DISCOUNT_VOUCHER"
    )


def public_vouchers(state: SandboxState, query: Query) -> Iterator[Candidate]:
    """Standalone discount codes nobody holds (``ALL``, ``AUDIENCE_ONLY``), newest first; every
    other voucher row walked over is yielded as a probe (it counts in the scan bound)."""
    if query.scenario == CUSTOMER_WALLET:
        return
    rows = state.vouchers.ordered("created_at")
    position = len(rows) if query.before is None else bisect_left(rows, (query.before,))
    while position > 0:
        position -= 1
        micros, rank, code, voucher = rows[position]
        yield Candidate("voucher", code, micros, rank, voucher if is_public(voucher) else None)


#: The candidate sources, merged by every qualification request (see the module docstring).
SOURCES: list[Source] = [wallet, public_vouchers]
