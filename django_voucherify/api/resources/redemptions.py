"""``client.redemptions``: the Redemptions API group (redeem, list, roll back)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..endpoints import endpoint
from ..paging import iter_pages
from ..transport import encode_path as p
from ..types import RedeemResult, Redemption, RollbackResult
from .base import Resource, compact


class Redemptions(Resource):
    namespace = "redemptions"

    @endpoint("redeem-stacked-discounts", "POST", "/v1/redemptions")
    def redeem(self, request: Mapping[str, Any]) -> RedeemResult:
        """Redeem 1 to 30 redeemables for an order (``POST /v1/redemptions``).

        Sent exactly once, never retried: after a timeout the outcome is unknown and must be
        reconciled by listing the order's redemptions, not by redeeming again.
        """
        return cast(RedeemResult, self._post("/v1/redemptions", dict(request), retry=False))

    @endpoint("get-redemption", "GET", "/v1/redemptions/{redemptionId}")
    def get(self, redemption_id: str) -> Redemption:
        """A redemption or a rollback by id (``GET /v1/redemptions/{redemptionId}``)."""
        return cast(Redemption, self._get(p("/v1/redemptions/{}", redemption_id)))

    @endpoint("list-redemptions", "GET", "/v1/redemptions")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/redemptions``: ``limit``, ``page``, ``result``, ``campaign``,
        ``customer``, ``order`` (sorting), ``created_at={'before':..., 'after':...}``,
        ``filters={...}``."""
        return cast(dict[str, Any], self._get("/v1/redemptions", params))

    def iterate(self, **params: Any) -> Iterator[Redemption]:
        """Every redemption matching ``params``, walking all pages (past page 99 by date)."""
        return cast(
            Iterator[Redemption],
            iter_pages(self.list, "redemptions", params=params, date_filter="created_at"),
        )

    @endpoint("get-voucher-redemptions", "GET", "/v1/vouchers/{code}/redemption")
    def for_voucher(self, code: str) -> dict[str, Any]:
        """A voucher's redemption counters and entries (``GET /v1/vouchers/{code}/redemption``)."""
        return cast(dict[str, Any], self._get(p("/v1/vouchers/{}/redemption", code)))

    @endpoint("rollback-redemption", "POST", "/v1/redemptions/{redemptionId}/rollback")
    def rollback(
        self,
        redemption_id: str,
        *,
        reason: str | None = None,
        tracking_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> RollbackResult:
        """Undo one (non-stacked) redemption (``POST /v1/redemptions/{id}/rollback``).

        ``body`` may carry ``customer``, ``order`` and ``metadata``.
        """
        params = compact(reason=reason, tracking_id=tracking_id)
        return cast(
            RollbackResult,
            self._post(p("/v1/redemptions/{}/rollback", redemption_id), dict(body or {}), params),
        )

    @endpoint("rollback-stacked-redemptions", "POST", "/v1/redemptions/{parentRedemptionId}/rollbacks")
    def rollback_stacked(
        self,
        parent_redemption_id: str,
        *,
        reason: str | None = None,
        tracking_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> RollbackResult:
        """Undo a stacked redemption through its parent
        (``POST /v1/redemptions/{parentRedemptionId}/rollbacks``)."""
        params = compact(reason=reason, tracking_id=tracking_id)
        path = p("/v1/redemptions/{}/rollbacks", parent_redemption_id)
        return cast(RollbackResult, self._post(path, dict(body or {}), params))
