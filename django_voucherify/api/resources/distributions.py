"""``client.publications`` and ``client.events``: handing codes to customers, and the custom
events that drive referral and loyalty programs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..endpoints import endpoint
from ..paging import iter_pages
from ..types import CustomEvent, Publication
from .base import Resource, compact


class Publications(Resource):
    namespace = "publications"

    @endpoint("list-publications", "GET", "/v1/publications")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/publications``: ``limit``, ``page``, ``order``, ``campaign``,
        ``customer``, ``voucher``, ``result``, ``voucher_type``, ``is_referral_code``,
        ``source_id``, ``filters={...}``."""
        return cast(dict[str, Any], self._get("/v1/publications", params))

    def iterate(self, **params: Any) -> Iterator[Publication]:
        """Every publication matching ``params``: pages of 100, at most 100 pages (no date
        window to slide with; past 10,000 this raises PaginationLimitError: filter by
        ``campaign`` or ``customer``)."""
        return cast(Iterator[Publication], iter_pages(self.list, "publications", params=params, max_page=100))

    @endpoint("create-publication", "POST", "/v1/publications")
    def create(self, publication: Mapping[str, Any], *, join_once: bool = False) -> Publication:
        """Hand a customer a code (``POST /v1/publications``): ``customer`` (``id`` or
        ``source_id``) with either ``campaign={"name": ..., "count": ...}`` (a code of that
        campaign) or ``voucher`` (a given code); ``metadata``, ``channel``.

        Not retried once sent. ``join_once=True`` gives a customer one code of the campaign,
        always the same, however often it is asked; a ``source_id`` lets
        ``list(source_id=...)`` find the code a publication gave when its answer was lost."""
        params = {"join_once": True} if join_once else None
        return cast(Publication, self._post("/v1/publications", dict(publication), params))


class Events(Resource):
    namespace = "events"

    @endpoint("track-custom-event", "POST", "/v1/events")
    def track(
        self,
        event: str,
        customer: Mapping[str, Any],
        *,
        metadata: Mapping[str, Any] | None = None,
        referral: Mapping[str, Any] | None = None,
        loyalty: Mapping[str, Any] | None = None,
    ) -> CustomEvent:
        """Record a custom event on a customer, created if unknown (``POST /v1/events``);
        ``referral={"code": ...}`` and ``loyalty={"code": ...}`` attribute it to a referral
        or loyalty card."""
        body = compact(
            event=event,
            customer=dict(customer),
            metadata=dict(metadata) if metadata is not None else None,
            referral=dict(referral) if referral is not None else None,
            loyalty=dict(loyalty) if loyalty is not None else None,
        )
        return cast(CustomEvent, self._post("/v1/events", body))
