"""``client.qualifications``: which redeemables (promotion tiers, campaigns' and the customer's
own codes) a customer and a cart qualify for, with the discount each would give."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..endpoints import endpoint
from ..errors import InvalidResponseError
from ..paging import iter_cursor
from ..types import Qualification
from .base import Resource

#: The most redeemables Voucherify returns in one qualifications answer (``options.limit``).
MAX_QUALIFICATIONS_PER_PAGE = 50


class Qualifications(Resource):
    namespace = "qualifications"

    @endpoint("check-eligibility", "POST", "/v1/qualifications")
    def check_eligibility(self, request: Mapping[str, Any]) -> Qualification:
        """One page of the redeemables that qualify (``POST /v1/qualifications``): ``customer``,
        ``order``, ``scenario`` (``ALL``, ``CUSTOMER_WALLET``, ``AUDIENCE_ONLY``,
        ``PRODUCTS``...), ``options={"limit": ≤ 50, "starting_after": ..., "filters": {...},
        "expand": [...], "sorting_rule": "BEST_DEAL"}``. Reads only, redeems nothing; the
        answer is cached by Voucherify for 5 minutes."""
        return cast(Qualification, self._post("/v1/qualifications", dict(request)))

    def iterate(self, request: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every qualifying redeemable, page by page: ``options.starting_after`` follows
        ``redeemables.more_starting_after`` (else the last item's ``created_at``, as the
        documentation says) while ``has_more``, 50 at a time unless ``options.limit`` says."""
        base = dict(request)
        options = dict(base.get("options") or {})
        limit = options.pop("limit", None) or MAX_QUALIFICATIONS_PER_PAGE
        start = options.pop("starting_after", None)

        def fetch(**query: Any) -> dict[str, Any]:
            page_options = {**options, "limit": query["limit"]}
            if query.get("starting_after"):
                page_options["starting_after"] = query["starting_after"]
            answer = self.check_eligibility({**base, "options": page_options})
            redeemables = answer.get("redeemables")
            if redeemables is not None and not isinstance(redeemables, dict):
                # A page of another shape is not Voucherify's answer: the walk must not end
                # short (nor fail with an AttributeError) because of it.
                raise InvalidResponseError(
                    "Voucherify answered qualifications whose 'redeemables' is not a list object",
                    status=200,
                )
            return redeemables or {}

        params = {"starting_after": start} if start else {}
        return iter_cursor(
            fetch,
            "data",
            params=params,
            limit=limit,
            cursor_param="starting_after",
            cursor_field="created_at",
        )
