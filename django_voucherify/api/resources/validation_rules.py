"""``client.validation_rules``: the Validation Rules API group, rules and their assignments.

A rule (order amount, items, customer segment...) limits where a voucher, a campaign or a
promotion tier applies; it takes effect once assigned to one of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..endpoints import endpoint
from ..paging import iter_pages
from ..transport import encode_path as p
from ..types import ValidationRule, ValidationRuleAssignment
from .base import Resource


class ValidationRules(Resource):
    namespace = "validation_rules"

    @endpoint("list-validation-rules", "GET", "/v1/validation-rules")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/validation-rules``: ``limit``, ``page``, ``order``,
        ``start_date``, ``end_date``."""
        return cast(dict[str, Any], self._get("/v1/validation-rules", params))

    def iterate(self, **params: Any) -> Iterator[ValidationRule]:
        """Every validation rule matching ``params``: pages of 100, at most 100 pages."""
        return cast(Iterator[ValidationRule], iter_pages(self.list, "data", params=params, max_page=100))

    @endpoint("create-validation-rules", "POST", "/v1/validation-rules")
    def create(self, rule: Mapping[str, Any]) -> ValidationRule:
        """Create a rule (``POST /v1/validation-rules``): ``name``, ``type``, ``rules``
        (conditions keyed ``"1"``, ``"2"``... and a ``"logic"`` expression), ``applicable_to``,
        ``error={"message": ...}`` (shown when the rule refuses)."""
        return cast(ValidationRule, self._post("/v1/validation-rules", dict(rule)))

    @endpoint("get-validation-rule", "GET", "/v1/validation-rules/{validationRuleId}")
    def get(self, rule_id: str) -> ValidationRule:
        """``GET /v1/validation-rules/{validationRuleId}``."""
        return cast(ValidationRule, self._get(p("/v1/validation-rules/{}", rule_id)))

    @endpoint("update-validation-rule", "PUT", "/v1/validation-rules/{validationRuleId}")
    def update(self, rule_id: str, changes: Mapping[str, Any]) -> ValidationRule:
        """``PUT /v1/validation-rules/{validationRuleId}``: the fields given replace the rule's."""
        return cast(ValidationRule, self._put(p("/v1/validation-rules/{}", rule_id), dict(changes)))

    @endpoint("delete-validation-rules", "DELETE", "/v1/validation-rules/{validationRuleId}")
    def delete(self, rule_id: str) -> None:
        """``DELETE /v1/validation-rules/{validationRuleId}``."""
        self._delete(p("/v1/validation-rules/{}", rule_id))

    # --- assignments ---------------------------------------------------------------------------

    @endpoint("list-validation-rules-assignments", "GET", "/v1/validation-rules-assignments")
    def list_all_assignments(self, **params: Any) -> dict[str, Any]:
        """One page of every rule's assignments (``GET /v1/validation-rules-assignments``):
        ``related_object_id`` (a voucher, campaign or tier), ``rule``, ``limit``, ``page``,
        ``order``."""
        return cast(dict[str, Any], self._get("/v1/validation-rules-assignments", params))

    def iterate_all_assignments(self, **params: Any) -> Iterator[ValidationRuleAssignment]:
        """Every assignment matching ``params``: pages of 100, at most 100 pages."""
        return cast(
            Iterator[ValidationRuleAssignment],
            iter_pages(self.list_all_assignments, "data", params=params, max_page=100),
        )

    @endpoint(
        "list-validation-rule-assignments", "GET", "/v1/validation-rules/{validationRuleId}/assignments"
    )
    def list_assignments(self, rule_id: str, **params: Any) -> dict[str, Any]:
        """One page of one rule's assignments
        (``GET /v1/validation-rules/{validationRuleId}/assignments``: ``limit``, ``page``,
        ``order``)."""
        return cast(dict[str, Any], self._get(p("/v1/validation-rules/{}/assignments", rule_id), params))

    def iterate_assignments(self, rule_id: str, **params: Any) -> Iterator[ValidationRuleAssignment]:
        """Every assignment of one rule: pages of 100, at most 100 pages."""

        def fetch(**query: Any) -> dict[str, Any]:
            return self.list_assignments(rule_id, **query)

        return cast(
            Iterator[ValidationRuleAssignment], iter_pages(fetch, "data", params=params, max_page=100)
        )

    @endpoint(
        "create-validation-rule-assignment", "POST", "/v1/validation-rules/{validationRuleId}/assignments"
    )
    def create_assignment(
        self, rule_id: str, related_object_type: str, related_object_id: str, *, force: bool = False
    ) -> ValidationRuleAssignment:
        """Assign a rule to a ``voucher``, ``campaign``, ``promotion_tier``, ``earning_rule``,
        ``reward_assignment`` or ``distribution`` by its Voucherify id
        (``POST /v1/validation-rules/{validationRuleId}/assignments``); ``force=True``
        replaces an existing assignment of the same data."""
        path = p("/v1/validation-rules/{}/assignments", rule_id)
        body = {"related_object_type": related_object_type, "related_object_id": related_object_id}
        return cast(ValidationRuleAssignment, self._post(path, body, {"force": True} if force else None))

    @endpoint(
        "delete-validation-rule-assignment",
        "DELETE",
        "/v1/validation-rules/{validationRuleId}/assignments/{assignmentId}",
    )
    def delete_assignment(self, rule_id: str, assignment_id: str) -> None:
        """``DELETE /v1/validation-rules/{validationRuleId}/assignments/{assignmentId}``."""
        self._delete(p("/v1/validation-rules/{}/assignments/{}", rule_id, assignment_id))
