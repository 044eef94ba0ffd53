"""``client.campaigns``: the Campaigns API group (discount, gift, promotion campaigns...)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from ..endpoints import endpoint
from ..paging import iter_cursor, iter_pages
from ..transport import encode_path as p
from ..types import AsyncActionCreated, Campaign, CampaignSummary, Export, Voucher, VoucherTransaction
from ..uploads import CsvSource
from .base import Resource, compact


class Campaigns(Resource):
    namespace = "campaigns"

    @endpoint("create-campaign", "POST", "/v1/campaigns")
    def create(self, campaign: Mapping[str, Any]) -> Campaign:
        """Create a campaign (``POST /v1/campaigns``): ``name``, ``campaign_type``, ``type``
        (``AUTO_UPDATE``/``STATIC``), ``voucher`` (the codes' discount and ``code_config``),
        ``vouchers_count``, or ``promotion`` with its tiers for a ``PROMOTION`` campaign.
        Codes are generated afterwards, in an async action (``vouchers_generation_status``)."""
        return cast(Campaign, self._post("/v1/campaigns", dict(campaign)))

    @endpoint("list-campaigns", "GET", "/v1/campaigns")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/campaigns``: ``limit``, ``page``, ``campaign_type``,
        ``campaign_status``, ``is_referral_code``, ``expand``, ``order``, ``filters={...}``,
        ``access_settings={...}``."""
        return cast(dict[str, Any], self._get("/v1/campaigns", params))

    def iterate(self, **params: Any) -> Iterator[Campaign]:
        """Every campaign matching ``params``: pages of 100, at most 100 pages (the API has no
        date filter to slide with; past 10,000 campaigns this raises PaginationLimitError)."""
        return cast(Iterator[Campaign], iter_pages(self.list, "campaigns", params=params, max_page=100))

    @endpoint("get-campaign", "GET", "/v1/campaigns/{campaignId}")
    def get(self, campaign_id: str) -> Campaign:
        """By id or name (``GET /v1/campaigns/{campaignId}``)."""
        return cast(Campaign, self._get(p("/v1/campaigns/{}", campaign_id)))

    @endpoint("update-campaign", "PUT", "/v1/campaigns/{campaignId}")
    def update(self, campaign_id: str, changes: Mapping[str, Any]) -> Campaign:
        """``PUT /v1/campaigns/{campaignId}``; the campaign's type cannot change."""
        return cast(Campaign, self._put(p("/v1/campaigns/{}", campaign_id), dict(changes)))

    @endpoint("delete-campaign", "DELETE", "/v1/campaigns/{campaignId}")
    def delete(self, campaign_id: str, *, force: bool = False) -> AsyncActionCreated:
        """Move a campaign and its vouchers to the bin, or delete them for good with
        ``force=True`` (``DELETE /v1/campaigns/{campaignId}``): an async action (202)."""
        path = p("/v1/campaigns/{}", campaign_id)
        return cast(AsyncActionCreated, self._delete(path, {"force": force} if force else None))

    @endpoint("add-vouchers-to-campaign", "POST", "/v1/campaigns/{campaignId}/vouchers")
    def add_vouchers(
        self, campaign_id: str, count: int | None = None, voucher: Mapping[str, Any] | None = None
    ) -> Voucher | AsyncActionCreated:
        """Generate ``count`` more codes in a campaign (``POST /v1/campaigns/{id}/vouchers``);
        ``voucher`` overrides the campaign's ``code_config``, ``category``, ``metadata``,
        dates... One code comes back as the voucher; more start an async action."""
        path = p("/v1/campaigns/{}/vouchers", campaign_id)
        params = compact(vouchers_count=count)
        return cast(Voucher | AsyncActionCreated, self._post(path, dict(voucher or {}), params or None))

    @endpoint(
        "add-voucher-with-specific-code-to-campaign", "POST", "/v1/campaigns/{campaignId}/vouchers/{code}"
    )
    def add_voucher(self, campaign_id: str, code: str, voucher: Mapping[str, Any] | None = None) -> Voucher:
        """Add one voucher with the given code to a campaign
        (``POST /v1/campaigns/{campaignId}/vouchers/{code}``); ``voucher`` may set
        ``category``, ``metadata``, ``redemption``, ``start_date``, ``expiration_date``,
        ``additional_info``."""
        path = p("/v1/campaigns/{}/vouchers/{}", campaign_id, code)
        return cast(Voucher, self._post(path, dict(voucher or {})))

    @endpoint("import-vouchers-to-campaign", "POST", "/v1/campaigns/{campaignId}/import")
    def import_json(self, campaign_id: str, vouchers: Sequence[Mapping[str, Any]]) -> AsyncActionCreated:
        """Import vouchers with their own codes into a campaign
        (``POST /v1/campaigns/{campaignId}/import``); returns the async action."""
        path = p("/v1/campaigns/{}/import", campaign_id)
        return cast(AsyncActionCreated, self._post(path, [dict(v) for v in vouchers]))

    @endpoint("import-vouchers-to-campaign-using-csv", "POST", "/v1/campaigns/{campaignId}/importCSV")
    def import_csv(
        self, campaign_id: str, source: CsvSource, *, filename: str | None = None
    ) -> AsyncActionCreated:
        """Import vouchers into a campaign from a CSV path, bytes or binary file, streamed
        (``POST /v1/campaigns/{campaignId}/importCSV``); returns the async action."""
        path = p("/v1/campaigns/{}/importCSV", campaign_id)
        return cast(AsyncActionCreated, self._upload_csv(path, source, filename))

    @endpoint("enable-campaign", "POST", "/v1/campaigns/{campaignId}/enable")
    def enable(self, campaign_id: str) -> Campaign:
        """``POST /v1/campaigns/{campaignId}/enable``."""
        return cast(Campaign, self._post(p("/v1/campaigns/{}/enable", campaign_id)))

    @endpoint("disable-campaign", "POST", "/v1/campaigns/{campaignId}/disable")
    def disable(self, campaign_id: str) -> Campaign:
        """``POST /v1/campaigns/{campaignId}/disable``: its codes stop validating."""
        return cast(Campaign, self._post(p("/v1/campaigns/{}/disable", campaign_id)))

    @endpoint("list-campaign-transactions", "GET", "/v1/campaigns/{campaignId}/transactions")
    def list_transactions(self, campaign_id: str, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/campaigns/{campaignId}/transactions`` (``limit``, ``order``,
        ``starting_after_id``, ``filters={...}``)."""
        return cast(dict[str, Any], self._get(p("/v1/campaigns/{}/transactions", campaign_id), params))

    def iterate_transactions(self, campaign_id: str, **params: Any) -> Iterator[VoucherTransaction]:
        """Every transaction of a gift or loyalty campaign's cards, following the cursor."""

        def fetch(**query: Any) -> dict[str, Any]:
            return self.list_transactions(campaign_id, **query)

        return cast(Iterator[VoucherTransaction], iter_cursor(fetch, "data", params=params))

    @endpoint("export-campaign-transactions", "POST", "/v1/campaigns/{campaignId}/transactions/export")
    def export_transactions(self, campaign_id: str, parameters: Mapping[str, Any] | None = None) -> Export:
        """Start a CSV export of a campaign's transactions
        (``POST /v1/campaigns/{campaignId}/transactions/export``); follow it with
        ``client.exports``."""
        body = {"parameters": dict(parameters or {})}
        return cast(Export, self._post(p("/v1/campaigns/{}/transactions/export", campaign_id), body))

    @endpoint("get-campaign-summary", "GET", "/v1/campaigns/{campaignId}/summary")
    def summary(
        self, campaign_id: str, *, start_date: str | None = None, end_date: str | None = None
    ) -> CampaignSummary:
        """Counters of a campaign (redemptions, validations, publications, amounts) over an
        optional period (``GET /v1/campaigns/{campaignId}/summary``)."""
        params = compact(start_date=start_date, end_date=end_date)
        return cast(CampaignSummary, self._get(p("/v1/campaigns/{}/summary", campaign_id), params or None))
