"""Validation rules and their assignments: where they are kept, and who finds them.

Contract
--------
* Rules (``val_``) and assignments (``asgm_``) live in ``state.extra`` (``validation_rules``,
  ``validation_rule_assignments``: id -> object in the API's shape), so ``--data`` persists
  them with no change to the state's collections.
* Two derived indexes, kept in ``state.transient`` and rebuilt when the stored dict they were
  built from is replaced (a load), answer the per-request questions without a scan: the
  assignments of a related object (what the validation and redemption checks ask), and those of a
  rule (its ``assignments_count``, its listing, its deletion).
* :data:`RESOLVERS` turns a ``related_object_id`` into the id it is stored under, per
  ``related_object_type``: vouchers (by code or id), campaigns (by id or name) and promotion
  tiers (by id) are looked up, 404 otherwise. A resolver returns ``None`` for "not found".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django_voucherify.sandbox.errors import SandboxError
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]
RULES = "validation_rules"
ASSIGNMENTS = "validation_rule_assignments"
_INDEX = "validation_rule_index"


def rules(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault(RULES, {})
    return found


def assignments(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault(ASSIGNMENTS, {})
    return found


class _Index:
    """Assignment ids by related object id and by rule id (insertion = creation order)."""

    def __init__(self, source: dict[str, JSON]) -> None:
        self.source = source
        self.by_object: dict[str, dict[str, None]] = {}
        self.by_rule: dict[str, dict[str, None]] = {}
        for assignment in source.values():
            self.add(assignment)

    def add(self, assignment: JSON) -> None:
        self.by_object.setdefault(assignment["related_object_id"], {})[assignment["id"]] = None
        self.by_rule.setdefault(assignment["rule_id"], {})[assignment["id"]] = None

    def remove(self, assignment: JSON) -> None:
        pairs = ((self.by_object, assignment["related_object_id"]), (self.by_rule, assignment["rule_id"]))
        for table, key in pairs:
            ids = table.get(key)
            if ids is not None:
                ids.pop(assignment["id"], None)
                if not ids:
                    del table[key]


def _index(state: SandboxState) -> _Index:
    source = assignments(state)
    index = state.transient.get(_INDEX)
    if not isinstance(index, _Index) or index.source is not source:
        index = state.transient[_INDEX] = _Index(source)
    return index


def add_assignment(state: SandboxState, assignment: JSON) -> None:
    assignments(state)[assignment["id"]] = assignment
    _index(state).add(assignment)


def remove_assignment(state: SandboxState, assignment_id: str) -> JSON | None:
    assignment = assignments(state).pop(assignment_id, None)
    if assignment is not None:
        _index(state).remove(assignment)
    return assignment


def rule_assignments(state: SandboxState, rule_id: str) -> list[JSON]:
    """A rule's assignments, oldest first."""
    table = assignments(state)
    return [table[i] for i in _index(state).by_rule.get(rule_id, {})]


def object_assignments(state: SandboxState, related_ids: Iterable[str | None]) -> list[JSON]:
    """The assignments of any of ``related_ids``, each once, oldest first."""
    index, table = _index(state), assignments(state)
    ids = [a for related in dict.fromkeys(related_ids) if related for a in index.by_object.get(related, {})]
    # Stable: ties (same millisecond) keep each object's creation order.
    return sorted((table[a] for a in dict.fromkeys(ids)), key=lambda a: str(a["created_at"]))


def count(state: SandboxState, rule_id: str) -> int:
    return len(_index(state).by_rule.get(rule_id, {}))


def any_assigned(state: SandboxState) -> bool:
    """Whether any validation rule is assigned to anything (most sandboxes have none)."""
    return bool(state.extra.get(ASSIGNMENTS))


def rules_for(state: SandboxState, related_ids: Iterable[str | None]) -> list[JSON]:
    """The rules assigned to any of ``related_ids`` (a voucher's id, its campaign's id...),
    each once, in assignment order. Costs one lookup per id, whatever the store's size."""
    if not any_assigned(state):  # the common case: no rule assigned to anything
        return []
    index, table, stored = _index(state), assignments(state), rules(state)
    found: dict[str, JSON] = {}
    for related in related_ids:
        if not related:
            continue
        for assignment_id in index.by_object.get(related, {}):
            rule = stored.get(table[assignment_id]["rule_id"])
            if rule is not None:
                found.setdefault(rule["id"], rule)
    return list(found.values())


# ---- resolving what an assignment points at --------------------------------------------------

Resolver = Callable[[SandboxState, str], str | None]


def _voucher(state: SandboxState, ref: str) -> str | None:
    try:
        return str(state.get_voucher_or_404(ref)["id"])
    except SandboxError:
        return None


def _campaign(state: SandboxState, ref: str) -> str | None:
    from django_voucherify.sandbox import campaign_store

    campaign = campaign_store.find(state, ref)  # by id or name
    return None if campaign is None else str(campaign["id"])


def _promotion_tier(state: SandboxState, ref: str) -> str | None:
    from django_voucherify.sandbox import promotion_store

    return promotion_store.resolve_tier(state, ref)


RESOLVERS: dict[str, Resolver] = {
    "voucher": _voucher,
    "campaign": _campaign,
    "promotion_tier": _promotion_tier,
}


def voucher_related_ids(voucher: Any) -> list[str | None]:
    """The ids a voucher's rules can be assigned to: itself and its campaign."""
    return [voucher.get("id"), voucher.get("campaign_id")]
