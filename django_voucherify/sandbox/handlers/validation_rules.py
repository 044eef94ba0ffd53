"""Validation rules and their assignments (SCOPE-2.md "Validation Rules", 9 operations).

Contract: a rule is stored only when the engine can evaluate every condition of it
(:func:`~django_voucherify.sandbox.engine.rules.check_definition`): anything else is a 400
``invalid_payload`` naming the condition and listing what is supported. Assignments point at a
voucher (looked up: 404 when unknown), a campaign or a promotion tier (through
:data:`~django_voucherify.sandbox.rule_store.RESOLVERS`). Deleting a rule deletes its
assignments. Lists are newest first unless ``order`` says otherwise, and page through the
stores' creation order (no sort per request).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from django_voucherify.sandbox import rule_store
from django_voucherify.sandbox.engine import rules as engine
from django_voucherify.sandbox.errors import SandboxError, duplicate_found, invalid_payload, not_found
from django_voucherify.sandbox.listing import date_param, int_param, parse_order
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, no_content, ok, route
from django_voucherify.sandbox.state import SandboxState, parse_iso

JSON = dict[str, Any]
FIELDS = ("name", "rules", "error", "applicable_to", "type", "context_type")
ASSIGNABLE = tuple(rule_store.RESOLVERS)
_EMPTY_TARGETS: JSON = {"included": [], "excluded": [], "included_all": False}


def _refuse(exc: engine.RuleError) -> SandboxError:
    return invalid_payload(str(exc))


def _checked(rule: JSON) -> JSON:
    """``rule`` when the engine can evaluate it (400 otherwise)."""
    try:
        engine.check_definition(rule.get("rules"))
        engine.check_targets(rule.get("applicable_to"))
    except engine.RuleError as exc:
        raise _refuse(exc) from None
    return rule


def _fields(body: JSON) -> JSON:
    if body.get("bundle_rules"):
        raise invalid_payload("bundle_rules: bundles are not simulated by the sandbox")
    return {name: body[name] for name in FIELDS if name in body}


def _view(state: SandboxState, rule: JSON) -> JSON:
    return {**rule, "assignments_count": rule_store.count(state, rule["id"])}


def _rule_or_404(state: SandboxState, rule_id: str) -> JSON:
    rule = rule_store.rules(state).get(rule_id)
    if rule is None:
        raise not_found("validation_rules", rule_id)
    return rule


@route("POST", "/v1/validation-rules", operation_id="create-validation-rules")
def create_rule(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    given = _fields(req.json_object())
    now = state.now_iso()
    rule: JSON = {
        "id": state.new_id("val_", 12),
        "name": given.get("name"),
        "rules": given.get("rules") or {},
        "error": given.get("error") or None,
        "applicable_to": given.get("applicable_to") or dict(_EMPTY_TARGETS),
        "type": given.get("type") or "expression",
        "context_type": given.get("context_type") or "global",
        "created_at": now,
        "updated_at": None,
        "object": "validation_rules",
    }
    if rule["error"] is None:
        del rule["error"]
    rule_store.rules(state)[rule["id"]] = _checked(rule)
    return ok(_view(state, rule))


@route("GET", "/v1/validation-rules/{validationRuleId}", operation_id="get-validation-rule")
def get_rule(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(_view(state, _rule_or_404(state, req.path_params["validationRuleId"])))


@route("PUT", "/v1/validation-rules/{validationRuleId}", operation_id="update-validation-rule")
def update_rule(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rule = _rule_or_404(state, req.path_params["validationRuleId"])
    given = _fields(req.json_object())
    updated = {**rule, **{k: v for k, v in given.items() if v is not None}}
    if "error" in given and given["error"] is None:
        updated.pop("error", None)
    updated["updated_at"] = state.now_iso()
    rule_store.rules(state)[rule["id"]] = _checked(updated)  # the old rule stays on a 400
    return ok(_view(state, updated))


@route("DELETE", "/v1/validation-rules/{validationRuleId}", operation_id="delete-validation-rules")
def delete_rule(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rule = _rule_or_404(state, req.path_params["validationRuleId"])
    for assignment in rule_store.rule_assignments(state, rule["id"]):
        rule_store.remove_assignment(state, assignment["id"])
    del rule_store.rules(state)[rule["id"]]
    return no_content()


# ---- lists ---------------------------------------------------------------------------------


def _page(query: JSON, items: Iterable[JSON], total: int) -> JSON:
    limit = int_param(query, "limit", 10, 1, 100)
    page = int_param(query, "page", 1, 1, 100)
    data = list(itertools.islice(items, (page - 1) * limit, page * limit))
    return {"object": "list", "data_ref": "data", "data": data, "total": total}


def _in_order(values: list[JSON], descending: bool) -> Iterator[JSON]:
    return reversed(values) if descending else iter(values)


@route("GET", "/v1/validation-rules", operation_id="list-validation-rules")
def list_rules(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    allowed = ("created_at", "-created_at", "updated_at", "-updated_at", "name", "-name")
    field, descending = parse_order(q.get("order") or "-created_at", allowed, "-created_at")
    found = list(rule_store.rules(state).values())  # creation order
    if q.get("start_date"):
        start = date_param(q["start_date"], "start_date")
        found = [r for r in found if parse_iso(r["created_at"]) >= start]
    if q.get("end_date"):
        end = date_param(q["end_date"], "end_date")
        found = [r for r in found if parse_iso(r["created_at"]) <= end]
    if field != "created_at":  # rules are few: sorting them is cheaper than an index
        found.sort(key=lambda r: (r.get(field) is None, str(r.get(field) or "")))
    views = (_view(state, r) for r in _in_order(found, descending))
    return ok(_page(q, views, len(found)))


@route(
    "GET",
    "/v1/validation-rules/{validationRuleId}/assignments",
    operation_id="list-validation-rule-assignments",
)
def list_rule_assignments(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rule = _rule_or_404(state, req.path_params["validationRuleId"])
    _, descending = parse_order(req.query.get("order") or "-created_at", ("created_at", "-created_at"), "")
    found = rule_store.rule_assignments(state, rule["id"])
    return ok(_page(req.query, _in_order(found, descending), len(found)))


@route("GET", "/v1/validation-rules-assignments", operation_id="list-validation-rules-assignments")
def list_all_assignments(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    _, descending = parse_order(q.get("order") or "-created_at", ("created_at", "-created_at"), "")
    related, rule_id = q.get("related_object_id"), q.get("rule")
    if related:
        ids = [str(related), rule_store.RESOLVERS["voucher"](state, str(related))]
        found = rule_store.object_assignments(state, ids)
    elif rule_id:
        found = rule_store.rule_assignments(state, str(rule_id))
    else:
        found = list(rule_store.assignments(state).values())
    if related and rule_id:
        found = [a for a in found if a["rule_id"] == rule_id]
    return ok(_page(q, _in_order(found, descending), len(found)))


@route(
    "POST",
    "/v1/validation-rules/{validationRuleId}/assignments",
    operation_id="create-validation-rule-assignment",
)
def create_assignment(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rule = _rule_or_404(state, req.path_params["validationRuleId"])
    body = req.json_object()
    kind = body.get("related_object_type") or "voucher"
    ref = body.get("related_object_id")
    if kind not in ASSIGNABLE:
        raise invalid_payload(
            f"related_object_type: {kind} assignments are not simulated; use one of {', '.join(ASSIGNABLE)}"
        )
    if not isinstance(ref, str) or not ref:
        raise invalid_payload("related_object_id: required")
    related = rule_store.RESOLVERS[kind](state, ref)
    if related is None:
        raise not_found(kind, ref)
    same = [
        a
        for a in rule_store.rule_assignments(state, rule["id"])
        if a["related_object_id"] == related and a["related_object_type"] == kind
    ]
    if same and str(req.query.get("force", "")).lower() != "true":
        raise duplicate_found("validation_rules_assignment", same[0]["id"])
    for previous in same:  # force: the previous assignment goes, a new one comes
        rule_store.remove_assignment(state, previous["id"])
    assignment: JSON = {
        "id": state.new_id("asgm_", 16),
        "rule_id": rule["id"],
        "related_object_id": related,
        "related_object_type": kind,
        "created_at": state.now_iso(),
        "object": "validation_rules_assignment",
    }
    rule_store.add_assignment(state, assignment)
    return ok(assignment)


@route(
    "DELETE",
    "/v1/validation-rules/{validationRuleId}/assignments/{assignmentId}",
    operation_id="delete-validation-rule-assignment",
)
def delete_assignment(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rule = _rule_or_404(state, req.path_params["validationRuleId"])
    assignment_id = req.path_params["assignmentId"]
    assignment = rule_store.assignments(state).get(assignment_id)
    if assignment is None or assignment["rule_id"] != rule["id"]:
        raise not_found("validation_rules_assignment", assignment_id)
    rule_store.remove_assignment(state, assignment_id)
    return no_content()
