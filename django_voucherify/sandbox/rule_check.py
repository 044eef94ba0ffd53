"""Validation rules at validation and redemption time: the state-reading side of the engine.

Contract: :func:`checker` returns the callable :func:`~.engine.stacking.evaluate` calls for each
voucher that passed its own state checks. It finds the rules assigned to the voucher or to its
campaign (:mod:`~django_voucherify.sandbox.rule_store`, one index lookup per id), evaluates them
on the request's order and customer (:mod:`~django_voucherify.sandbox.engine.rules`), and returns
a :class:`RuleOutcome`: the first failure (``order_rules_violated``, or
``customer_rules_violated`` for a customer condition, both from the ``list-redemptions``
"Failed Redemptions" list, with the rule's message in ``error.message``, the spec's ``Error``
field for "the message configured by the user in a validation rule"), or the products/SKUs
the rules limit the discount to (``applicable_to``) and exclude from it (``inapplicable_to``).
A voucher with no rule costs two dict lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django_voucherify.sandbox import rule_store
from django_voucherify.sandbox.engine import rules as engine
from django_voucherify.sandbox.engine.eligibility import Failure
from django_voucherify.sandbox.engine.rules import RuleCheck, RuleOutcome
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _stored_product(state: SandboxState, ref: str) -> Mapping[str, Any] | None:
    from django_voucherify.sandbox.catalog import catalog

    return catalog(state).find_product(ref)


#: A product by id or source id, for its ``categories`` (the sandbox's catalog).
PRODUCT_LOOKUP: Callable[[SandboxState, str], Mapping[str, Any] | None] = _stored_product


def _names(categories: Any) -> list[str]:
    """Category ids and names (a category matches a condition by either)."""
    out: list[str] = []
    for c in categories if isinstance(categories, list) else []:
        if isinstance(c, Mapping):
            out += [str(c[k]) for k in ("id", "name") if c.get(k) is not None]
        elif c is not None:
            out.append(str(c))
    return out


def _categories(state: SandboxState) -> Callable[[Mapping[str, Any]], Sequence[str]]:
    """An order line's product categories: the stored product's (:data:`PRODUCT_LOOKUP`), and
    any the line's ``product`` carries inline."""

    def read(item: Mapping[str, Any]) -> Sequence[str]:
        inline = item.get("product")
        found = _names(inline.get("categories")) if isinstance(inline, Mapping) else []
        for ref in engine.item_ids(item, "product"):
            product = PRODUCT_LOOKUP(state, ref)
            if product is not None:
                found += _names(product.get("categories"))
                break
        return found

    return read


_COUNTS = "validation_rule_redemption_counts"


class _Counts:
    """Successful, not rolled back redemptions per customer of one voucher, read forward from
    the voucher's append-only history list (ledger.index_for_voucher): a check reads only the
    entries added since the last one, never the whole history again."""

    def __init__(self, history: list[str]) -> None:
        self.history = history
        self.read = 0
        self.by_customer: dict[str, int] = {}

    def catch_up(self, state: SandboxState) -> None:
        for entry_id in self.history[self.read :]:
            obj = state.redemptions.get(entry_id) or state.rollbacks.get(entry_id)
            if obj is None or obj.get("result") != "SUCCESS" or not obj.get("customer_id"):
                continue
            step = -1 if obj.get("object") == "redemption_rollback" else 1
            customer = str(obj["customer_id"])
            self.by_customer[customer] = self.by_customer.get(customer, 0) + step
        self.read = len(self.history)


def redemptions_of(state: SandboxState, voucher: Mapping[str, Any], customer_id: str | None) -> int | None:
    """The customer's successful, not rolled back redemptions of ``voucher``."""
    if customer_id is None:
        return None
    voucher_id = str(voucher.get("id"))
    history = state.extra.get("voucher_redemptions", {}).get(voucher_id)
    if history is None:
        return 0
    table: dict[str, _Counts] = state.transient.setdefault(_COUNTS, {})
    counts = table.get(voucher_id)
    if counts is None or counts.history is not history:  # new, or the state was reloaded
        counts = table[voucher_id] = _Counts(history)
    counts.catch_up(state)
    return counts.by_customer.get(customer_id, 0)


def _no_rules(voucher: Mapping[str, Any]) -> RuleOutcome | None:
    return None


def checker(
    state: SandboxState,
    order: Mapping[str, Any] | None,
    customer_ref: Mapping[str, Any] | None,
    ignored: frozenset[str] = frozenset(),
) -> RuleCheck:
    """The rule check for one validation, redemption or qualification request.

    ``customer_ref`` is the request's ``customer``: its stored record's metadata, overlaid by the
    metadata sent inline, is what ``customer.metadata`` conditions read. ``ignored``: order-level
    condition names taken as met (see ``engine.rules.Context.ignored``)."""
    if not rule_store.any_assigned(state):
        # No rule is assigned to anything (and a validation or redemption assigns none): no
        # voucher has one to check, so neither the customer nor the categories are looked up.
        return _no_rules
    ref = customer_ref or {}
    stored = state.find_customer(str(ref.get("id") or ref.get("source_id") or "")) if ref else None
    metadata: JSON = dict((stored or {}).get("metadata") or {})
    if isinstance(ref.get("metadata"), Mapping):
        metadata.update(ref["metadata"])
    customer_id = (stored or {}).get("id")
    known = 0 if ref.get("id") or ref.get("source_id") else None
    categories = _categories(state)

    def check(voucher: Mapping[str, Any]) -> RuleOutcome | None:
        assigned = rule_store.rules_for(state, rule_store.voucher_related_ids(voucher))
        if not assigned:
            return None
        ctx = engine.Context(
            order=order,
            customer_metadata=metadata,
            # A customer named but not stored yet has redeemed nothing; no customer: unknown.
            redemption_count=lambda: redemptions_of(state, voucher, customer_id) if customer_id else known,
            categories=categories,
            ignored=ignored,
        )
        included: list[JSON] = []
        excluded: list[JSON] = []
        for rule in assigned:
            verdict = engine.evaluate(rule, ctx)
            if not verdict.ok:
                key = "customer_rules_violated" if verdict.customer_failure else "order_rules_violated"
                details = f"{voucher.get('code')}: validation rule {rule['id']} not met ({verdict.condition})"
                return RuleOutcome(Failure(key, details, error_message=verdict.message))
            rule_in, rule_out = engine.targets(rule)
            included += rule_in
            excluded += rule_out
        return RuleOutcome(None, included, excluded)

    return check
