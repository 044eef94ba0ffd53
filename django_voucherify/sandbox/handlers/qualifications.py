"""Qualifications (``check-eligibility``): the redeemables a customer and a cart qualify for.

Contract: a qualification reads, never writes (no customer upserted, no order stored, nothing
held). Its candidates come from :data:`~django_voucherify.sandbox.qualification_sources.SOURCES`
(the customer's own codes, standalone public codes, promotion tiers), merged
newest first. Each is checked and priced by the very engine call a validation of that one
redeemable on that cart makes (:func:`~django_voucherify.sandbox.evaluation.evaluate`): state
checks, its campaign, validation rules, sessions held by others, the discount. So a
qualification's discount is the validation's discount, field for field. Two documented
exceptions, from the endpoint's own description: rules on the customer's redemption count are
not checked, and ``AUDIENCE_ONLY`` checks the customer conditions of the rules only.

Paging (the description's): ``DEFAULT`` order is ``created_at`` descending; the cursor
``options.starting_after`` is a ``created_at``: a page holds the candidates created strictly
before it. A page never splits the redeemables of one millisecond (a group that does not fit
starts the next page), except a first group larger than the page itself, whose ties beyond
``limit`` are skipped, as a date cursor must. ``BEST_DEAL`` / ``LEAST_DEAL`` sort the page by
``total_applied_discount_amount`` (the cursor stays a date, so the order is within a page).
Each request looks at :data:`SCAN_BOUND` rows at most: when it stops there, ``has_more`` is true
and ``more_starting_after`` continues the walk (a page may then hold fewer than ``limit``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby, islice
from typing import Any

from django_voucherify.sandbox import campaign_store, evaluation, rule_check, rule_store
from django_voucherify.sandbox import qualification_sources as sources
from django_voucherify.sandbox.engine import ledger, pricing, stacking
from django_voucherify.sandbox.engine.rules import CUSTOMER_CONDITIONS, ORDER_CONDITIONS
from django_voucherify.sandbox.errors import SandboxError, invalid_payload
from django_voucherify.sandbox.filters import conditions_predicate
from django_voucherify.sandbox.handlers.redemptions import order_input
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState, iso, parse_iso
from django_voucherify.sandbox.store import EPOCH, micros

JSON = dict[str, Any]

DEFAULT_LIMIT = 5  # the spec's default
MAX_LIMIT = 50  # the spec's maximum
#: Rows (candidates and rows passed over) one request looks at, at most: the cost of a request
#: is bounded whatever the store's size; has_more and the cursor continue the walk.
SCAN_BOUND = 1000
SORTING_RULES = ("DEFAULT", "BEST_DEAL", "LEAST_DEAL")
EXPAND_VALUES = ("redeemable", "category", "validation_rules")

#: Not checked by any qualification (the endpoint's description: "ignores ... redemptions per
#: customer").
ALWAYS_IGNORED = frozenset({"redemption.count.per_customer"})
#: AUDIENCE_ONLY "validates the rules based on the customer profile only".
AUDIENCE_IGNORED = frozenset(ORDER_CONDITIONS) - frozenset(CUSTOMER_CONDITIONS) | ALWAYS_IGNORED


@dataclass(frozen=True)
class Options:
    scenario: str
    limit: int
    before: int | None
    sorting_rule: str
    expand: tuple[str, ...]
    accept: Callable[[Any], bool]  # options.filters, read off a candidate
    kinds: frozenset[str] | None  # the resource types the filters admit (None: any)
    public_codes: bool  # whether the filters may admit a code nobody holds


@dataclass(frozen=True)
class Qualified:
    candidate: sources.Candidate
    evaluation: stacking.Evaluation

    @property
    def applied(self) -> int:
        return self.evaluation.outcomes[0].discount


@dataclass(frozen=True)
class Page:
    items: list[Qualified]
    has_more: bool
    cursor: int | None  # the created_at millisecond the next page starts before


# ---- the request ------------------------------------------------------------------------------


def _candidate_fields(state: SandboxState) -> dict[str, Callable[[Any], Any]]:
    """``options.filters`` fields, read off a candidate (cheap: before it is priced)."""

    def obj(name: str) -> Callable[[Any], Any]:
        return lambda c: (c.obj or {}).get(name)

    def campaign_type(c: sources.Candidate) -> Any:
        campaign_id = (c.obj or {}).get("campaign_id")
        campaign = campaign_store.campaigns(state).get(campaign_id) if campaign_id else None
        return (campaign or {}).get("campaign_type")

    return {
        "resource_type": lambda c: c.kind,
        "resource_id": lambda c: (c.obj or {}).get("id", c.id),
        "code": lambda c: c.id if c.kind == "voucher" else None,
        "campaign_id": obj("campaign_id"),
        "category_id": obj("category_id"),
        "voucher_type": lambda c: (c.obj or {}).get("type") if c.kind == "voucher" else None,
        "campaign_type": campaign_type,
        "holder_role": lambda c: c.holder_role,
    }


def _options(state: SandboxState, body: JSON) -> Options:
    scenario = body.get("scenario") or sources.ALL
    if scenario not in sources.SCENARIOS:
        raise invalid_payload(
            f"scenario: {scenario} is not simulated by the sandbox; use one of {', '.join(sources.SCENARIOS)}"
        )
    raw = ledger.object_field(body, "options") or {}
    limit = raw.get("limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise invalid_payload(f"options.limit: must be an integer from 1 to {MAX_LIMIT}")
    before = None
    if raw.get("starting_after") is not None:
        try:
            before = micros(parse_iso(str(raw["starting_after"])))
        except ValueError:
            raise invalid_payload("options.starting_after: must be an ISO 8601 date-time") from None
    sorting_rule = raw.get("sorting_rule") or "DEFAULT"
    if sorting_rule not in SORTING_RULES:
        raise invalid_payload(f"options.sorting_rule: must be one of {', '.join(SORTING_RULES)}")
    expand = raw.get("expand") or []
    if not isinstance(expand, list) or any(e not in EXPAND_VALUES for e in expand):
        raise invalid_payload(f"options.expand: items must be one of {', '.join(EXPAND_VALUES)}")
    try:
        predicate = conditions_predicate(
            raw.get("filters") or None, _candidate_fields(state), any_field=False
        )
    except SandboxError as exc:
        raise invalid_payload(f"options.{exc.details or exc.message}") from None
    return Options(
        scenario,
        limit,
        before,
        sorting_rule,
        tuple(expand),
        predicate or (lambda c: True),
        _kinds(raw.get("filters")),
        _admits_public_codes(state, raw.get("filters")),
    )


#: Every code nobody holds (``qualification_sources.is_public``) reads the same for these filter
#: fields: a voucher, no holder role, no campaign (so no campaign type), a discount voucher.
_PUBLIC_CODE = sources.Candidate("voucher", "", 0, 0, {"type": "DISCOUNT_VOUCHER"})
_SAME_FOR_PUBLIC_CODES = ("resource_type", "holder_role", "campaign_id", "campaign_type", "voucher_type")


def _admits_public_codes(state: SandboxState, filters: Any) -> bool:
    """Whether ``filters`` (already accepted by ``_options``) may admit a code nobody holds.
    A clause on a field every such code reads the same for (:data:`_SAME_FOR_PUBLIC_CODES`) is
    decided by the very predicate the request applies; a clause on another field (``code``,
    ``category_id``...) may admit one. False: the public codes are not walked (checkout.offers
    asks for the customer's own codes or tiers: a walk of codes nobody holds would spend the
    scan bound before reaching a customer's older codes)."""
    if not isinstance(filters, dict):
        return True
    fields = _candidate_fields(state)
    verdicts = []
    for field, spec in filters.items():
        if field == "junction":
            continue
        if field not in _SAME_FOR_PUBLIC_CODES:
            verdicts.append(True)
            continue
        clause: Callable[[Any], bool] | None = conditions_predicate({field: spec}, fields, any_field=False)
        verdicts.append(clause is None or clause(_PUBLIC_CODE))
    if not verdicts:
        return True
    return any(verdicts) if str(filters.get("junction") or "and").lower() == "or" else all(verdicts)


def _kinds(filters: Any) -> frozenset[str] | None:
    """The resource types ``filters`` admits when it pins ``resource_type`` with ``$is`` / ``$in``
    under the ``and`` junction (every other filter only narrows further), else None. The
    sources of other kinds are then not walked at all: a tiers-only request never spends its
    scan bound on voucher rows."""
    if not isinstance(filters, dict) or str(filters.get("junction") or "and").lower() != "and":
        return None
    conditions = (
        (filters.get("resource_type") or {}).get("conditions")
        if isinstance(filters.get("resource_type"), dict)
        else None
    )
    if not isinstance(conditions, dict) or not conditions or not set(conditions) <= {"$is", "$in"}:
        return None
    kinds: set[str] | None = None
    for values in conditions.values():
        named = {str(v) for v in (values if isinstance(values, list) else [values])}
        kinds = named if kinds is None else kinds & named
    return frozenset(kinds or ())


def _customer_id(state: SandboxState, customer: JSON | None) -> str | None:
    ref = customer or {}
    key = ref.get("id") or ref.get("source_id")
    stored = state.find_customer(str(key)) if key else None
    return None if stored is None else str(stored["id"])


# ---- the walk -----------------------------------------------------------------------------------


def merged(state: SandboxState, query: sources.Query) -> Iterator[sources.Candidate]:
    """Every source's candidates, newest first."""
    streams = [source(state, query) for source in sources.SOURCES]
    return heapq.merge(*streams, key=lambda c: c.sort_key, reverse=True)


def collect(
    candidates: Iterable[sources.Candidate],
    qualify: Callable[[sources.Candidate], Qualified | None],
    limit: int,
    scan_bound: int,
) -> Page:
    """The next page: whole millisecond groups of qualifying candidates (see the module
    docstring), looking at ``scan_bound`` candidates at most; once the page is full, the walk
    goes on (within the bound) only to tell whether another candidate qualifies."""
    page: list[Qualified] = []
    scanned = 0
    cursor: int | None = None
    for moment, group in groupby(candidates, key=lambda c: c.micros // 1000):
        room = scan_bound - scanned
        members = list(islice(group, room + 1))
        if len(members) > room:
            if scanned:  # the bound falls inside this group: it starts the next request
                return Page(page, True, cursor)
            members = members[:room]  # one group beyond the bound: its ties beyond are skipped
        scanned += len(members)
        found = [q for c in members if (q := qualify(c)) is not None]
        if len(page) >= limit:
            if found:  # another one qualifies: the page is complete
                return Page(page, True, cursor)
        elif page and len(page) + len(found) > limit:
            return Page(page, True, cursor)  # the group does not fit: it starts the next page
        else:
            page += found[: limit - len(page)]
        cursor = moment
        if scanned >= scan_bound:
            return Page(page, True, cursor)
    return Page(page, False, None)


def _sorted(items: list[Qualified], rule: str) -> list[Qualified]:
    if rule == "BEST_DEAL":
        return sorted(items, key=lambda q: -q.applied)
    if rule == "LEAST_DEAL":
        return sorted(items, key=lambda q: q.applied)
    return items


# ---- the answer ---------------------------------------------------------------------------------


def _iso_micros(value: int) -> str:
    return iso(EPOCH + timedelta(microseconds=value))


def _order_view(
    calc: pricing.OrderCalc, to_price: JSON, existing: JSON | None, customer_id: str | None
) -> JSON:
    view = pricing.render(calc, to_price)
    view.setdefault("object", "order")
    if existing is not None:
        view["id"] = existing["id"]
    if customer_id is not None:
        view["customer_id"] = customer_id
    view.pop("redemptions", None)
    view.pop("customer", None)
    return view


def _assignments(state: SandboxState, obj: Mapping[str, Any]) -> JSON | None:
    if not state.extra.get(rule_store.ASSIGNMENTS):  # none anywhere (and no empty table stored)
        return None
    found = rule_store.object_assignments(state, rule_store.voucher_related_ids(obj))
    if not found:
        return None
    data = [{**a, "validation_status": a.get("validation_status", "VALID")} for a in found]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


def redeemable_view(
    state: SandboxState,
    item: Qualified,
    order_view: Callable[[pricing.OrderCalc], JSON] | None,
    expand: tuple[str, ...],
) -> JSON:
    """One ``QualificationsRedeemable``: the validation's applicable redeemable, with the order
    as this redeemable alone leaves it."""
    candidate, outcome = item.candidate, item.evaluation.outcomes[0]
    view = stacking.redeemable_view(outcome, "APPLICABLE", "redeemable" in expand)
    del view["status"]
    view["object"] = candidate.kind
    view["created_at"] = (candidate.obj or {}).get("created_at") or _iso_micros(candidate.micros)
    if order_view is not None:
        view["order"] = order_view(item.evaluation.calc)
    else:
        view.pop("order", None)
    obj = candidate.obj or {}
    if "redeemable" in expand and obj.get("name") is not None:
        view["name"] = obj["name"]
    if obj.get("banner") is not None:
        view["banner"] = obj["banner"]
    assignments = _assignments(state, obj)
    if assignments is not None:
        view["validation_rules_assignments"] = assignments
    return view


@route("POST", "/v1/qualifications", operation_id="check-eligibility")
def check_eligibility(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json_object()
    options = _options(state, body)
    customer = ledger.object_field(body, "customer")
    order = ledger.parse_order(body)
    existing = ledger.stored_order(state, order)
    to_price = order_input(order, existing)
    customer_id = _customer_id(state, customer)
    now = state.now()
    ignored = AUDIENCE_IGNORED if options.scenario == sources.AUDIENCE_ONLY else ALWAYS_IGNORED
    rules = rule_check.checker(state, to_price, customer, ignored)
    previous = int((existing or {}).get("discount_amount") or 0)

    def qualify(candidate: sources.Candidate) -> Qualified | None:
        if candidate.obj is None or not options.accept(candidate):
            return None
        redeemable = {"object": candidate.kind, "id": candidate.id}
        ev = evaluation.evaluate(
            state, [redeemable], [candidate.obj], to_price, now=now, rules=rules, previous_discount=previous
        )
        return Qualified(candidate, ev) if ev.valid else None

    query = sources.Query(options.scenario, customer_id, options.before, options.kinds, options.public_codes)
    page = collect(merged(state, query), qualify, options.limit, SCAN_BOUND)
    order_view = None
    if to_price is not None:
        order_view = lambda calc: _order_view(calc, to_price, existing, customer_id)  # noqa: E731
    data = [
        redeemable_view(state, q, order_view, options.expand)
        for q in _sorted(page.items, options.sorting_rule)
    ]
    redeemables: JSON = {
        "object": "list",
        "data_ref": "data",
        "data": data,
        "total": len(data),
        "has_more": page.has_more,
    }
    if page.has_more and page.cursor is not None:
        redeemables["more_starting_after"] = _iso_micros(page.cursor * 1000)
    answer: JSON = {"redeemables": redeemables}
    tracking = body.get("tracking_id") or (customer or {}).get("source_id")
    if tracking is not None:
        answer["tracking_id"] = str(tracking)
    if order_view is not None:
        answer["order"] = order_view(pricing.start(to_price))  # the cart as sent, undiscounted
    answer["stacking_rules"] = dict(stacking.STACKING_RULES)
    return ok(answer)
