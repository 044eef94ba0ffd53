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
  from the cursor, bounded by the request's scan bound. Not walked at all when the request's
  filters admit no such code (:attr:`Query.public_codes`). A campaign's codes nobody holds yet
  are not offered (they are the campaign's to hand out); gift and loyalty cards nobody holds
  neither (a bearer card's balance is not every shopper's).

- :func:`promotion_tiers`: the promotion tiers (automatic: they apply without a code), for
  ``ALL`` and ``AUDIENCE_ONLY``; each as the voucher-like view the engine prices
  (``engine.tiers.as_redeemable``), so the request prices a tier through the same engine call
  as a validation of ``{"object": "promotion_tier", "id": ...}``. A tier that is off or outside
  its windows is yielded too and refused by that call (``promotion_inactive``), as a
  validation refuses it; every tier yielded counts in the scan bound. The tiers store is small
  (a campaign has a handful of tiers): it is read and sorted whole per request.

The request prices a candidate through the same engine call as a validation of
``{"object": candidate.kind, "id": candidate.id}`` (``evaluation.evaluate``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django_voucherify.sandbox import campaign_store, promotion_store
from django_voucherify.sandbox.engine import tiers
from django_voucherify.sandbox.state import SandboxState, parse_iso
from django_voucherify.sandbox.store import micros as to_micros

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
    #: The redeemable kinds the request's filters admit (``resource_type`` $is/$in), None: all.
    #: A source of another kind yields nothing, so its rows never count in the scan bound.
    kinds: frozenset[str] | None = None
    #: False when the request's filters admit no code nobody holds (e.g. ``holder_role`` OWNER
    #: or promotion tiers, checkout.offers' filter): :func:`public_vouchers` is not walked, so
    #: the scan bound goes to the customer's own codes and the tiers, however old they are.
    public_codes: bool = True

    def admits(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


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
    if query.customer_id is None or not query.admits("voucher"):
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
    if query.scenario == CUSTOMER_WALLET or not query.admits("voucher") or not query.public_codes:
        return
    rows = state.vouchers.ordered("created_at")
    position = len(rows) if query.before is None else bisect_left(rows, (query.before,))
    while position > 0:
        position -= 1
        micros, rank, code, voucher = rows[position]
        yield Candidate("voucher", code, micros, rank, voucher if is_public(voucher) else None)


def promotion_tiers(state: SandboxState, query: Query) -> Iterator[Candidate]:
    """The promotion tiers (``ALL``, ``AUDIENCE_ONLY``), newest first, each an automatic
    candidate priced as a validation of the tier is."""
    if query.scenario == CUSTOMER_WALLET or not query.admits(tiers.KIND):
        return
    stored = state.extra.get(promotion_store.TIERS)
    if not stored:  # read-only: a qualification never creates the (empty) stores
        return
    campaigns = campaign_store.campaigns(state)
    found: list[Candidate] = []
    for rank, tier in enumerate(stored.values()):
        created = to_micros(parse_iso(str(tier["created_at"])))
        if query.before is not None and created >= query.before:
            continue
        view = tiers.as_redeemable(tier, campaigns.get(tier.get("campaign_id") or ""))
        found.append(Candidate(tiers.KIND, str(tier["id"]), created, rank, view, automatic=True))
    found.sort(key=lambda c: c.sort_key, reverse=True)
    yield from found


#: The candidate sources, merged by every qualification request (see the module docstring).
SOURCES: list[Source] = [wallet, public_vouchers, promotion_tiers]
