"""The published spec's defects, and their workarounds, in one place.

Voucherify's OpenAPI document (vendored in ``data/``) is the sandbox's reference for what a
request may carry (:mod:`~django_voucherify.sandbox.request_schema`) and for what a response
must look like (the test suite's conformance check). Where the document contradicts itself (a
schema its own examples or descriptions break) the contradiction is resolved here, once, for
both directions: :data:`PATCHES` is the table, each entry a small function over the schemas
(still in OpenAPI 3.0 form) with the evidence in its docstring. :func:`patched_schemas` applies
them to a copy; :func:`to_json_schema` then translates OpenAPI's dialect to JSON Schema
(Draft 2020-12). Nothing else in the project edits the spec.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from django_voucherify.sandbox.openapi import voucherify_spec

JSON = dict[str, Any]
OPENAPI_ONLY = frozenset({"nullable", "example", "examples"})
Schemas = dict[str, Any]


def _voucher_ids_of_transactions_export(schemas: Schemas) -> None:
    """``VoucherTransactionsExportFilterConditions`` limits voucher ids to ``maxLength: 1``;
    its own example (``"HRwc0oHz"``) breaks that, so the limit is dropped."""
    cond = schemas["VoucherTransactionsExportFilterConditions"]["properties"]["voucher_id"]
    cond["properties"]["conditions"]["properties"]["$in"]["items"].pop("maxLength", None)


def _metadata_order_export_fields(schemas: Schemas) -> None:
    """``ExportOrderFields`` is an enum without ``metadata.<key>``, yet its description and the
    create-order-export example use ``metadata.payment_mean``: such fields are allowed."""
    fields = schemas["ExportOrderFields"]
    schemas["ExportOrderFields"] = {"anyOf": [fields, {"type": "string", "pattern": "^metadata\\."}]}


#: Import results whose ``failed`` is declared ``type: object`` (see below).
FAILED_IS_AN_ARRAY = (
    "17_res_obj_get_async_action_result_vouchers_import",
    "17_res_obj_get_async_action_result_orders_import",
)


def _import_failures_are_a_list(schemas: Schemas) -> None:
    """The ``VOUCHERS.IMPORT``/``ORDERS.IMPORT`` results declare ``failed`` as ``type: object``
    while their own description says "this array shows the failure details" and the
    get-async-action examples show an array of such objects (as every other import result)."""
    for name in FAILED_IS_AN_ARRAY:
        failed = schemas[name]["properties"]["failed"]
        item = {k: v for k, v in failed.items() if k not in ("type", "description", "nullable")}
        failed.clear()
        failed.update({"type": "array", "nullable": True, "items": {**item, "type": "object"}})


#: Metadata-update results that list only ``errors`` (see below).
METADATA_UPDATE_RESULTS = (
    "AsyncActionResultVouchersMetadataUpdateResponseBody",
    "AsyncActionResultCustomersMetadataUpdateResponseBody",
    "AsyncActionResultProductsMetadataUpdateResponseBody",
)


def _metadata_update_results_count(schemas: Schemas) -> None:
    """The ``*.METADATA_UPDATE`` results list only ``errors``; the get-async-action examples of
    those types also carry ``done_count``, ``failed_count``, ``reports`` and
    ``reports_available_till`` (the bulk-update result's fields), so those are documented too
    (it matters because the conformance check closes async action results)."""
    bulk = schemas["AsyncActionsVoucherCustomerProductBulkUpdateResult"]["properties"]
    for name in METADATA_UPDATE_RESULTS:
        schemas[name]["properties"] = {**bulk, **schemas[name]["properties"]}


def _order_items_need_no_object(schemas: Schemas) -> None:
    """``OrderItem`` (the items of an order sent in create-order, import-orders, redemptions and
    validations) requires ``object`` without declaring it among its properties, and every
    request example of those operations sends items without it: it is not required."""
    item = schemas["OrderItem"]
    item["required"] = [name for name in item.get("required", []) if name != "object"]
    if not item["required"]:
        del item["required"]


def _campaign_ids_of_transactions_export(schemas: Schemas) -> None:
    """``TransactionsExportFilterConditionsWithCampaign`` limits campaign ids to ``maxLength: 1``;
    the export-campaign-transactions response examples (``"camp_5pgKwSKsAeQtFkRz6mfKpxxD"``)
    break that, so the limit is dropped (one id, ``maxItems: 1``, stays)."""
    cond = schemas["TransactionsExportFilterConditionsWithCampaign"]["properties"]["campaign_id"]
    cond["properties"]["conditions"]["properties"]["$in"]["items"].pop("maxLength", None)


def _publication_channel_is_free_text(schemas: Schemas) -> None:
    """``PublicationsCreateBaseResponseBody.channel`` is an enum of ``API`` alone, while the
    create-publication request takes any ``channel`` and its response example answers
    ``"channel": "myown"`` (the list's item schema types it as a plain string): any string."""
    channel = schemas["PublicationsCreateBaseResponseBody"]["properties"]["channel"]
    channel.pop("enum", None)


def _campaign_import_items_inherit_their_value(schemas: Schemas) -> None:
    """``CampaignsImportVoucherItem`` is a ``oneOf`` of the voucher import items, which require
    ``discount``, ``gift`` or ``loyalty_card``; the import-vouchers-to-campaign examples send
    items with none of them (a campaign's voucher inherits its value from the campaign: "The
    voucher definition will be inherited"), so each may be left out here. The alternatives then
    overlap, so any of them may match (``anyOf``); /v1/vouchers/import keeps its own rule."""
    alternatives = []
    for ref in schemas["CampaignsImportVoucherItem"]["oneOf"]:
        item = copy.deepcopy(schemas[ref["$ref"].rsplit("/", 1)[-1]])
        for part in item.get("allOf", []):
            part.pop("required", None)
        alternatives.append(item)
    schemas["CampaignsImportVoucherItem"] = {"anyOf": alternatives, "title": "Campaigns Import Voucher Item"}


def _campaign_transactions_export_dates(schemas: Schemas) -> None:
    """``ExportCampaignTransactionsFilters.created_at`` takes ``FilterConditionsDateTime``,
    whose ``$after``/``$before`` are one date-time string; the export-campaign-transactions
    request example sends ``"$after": ["2024-10-01T00:00:00.000Z"]`` (and its response example
    echoes it), so a one-element array of date-times is accepted too, for this filter only."""
    created = schemas["ExportCampaignTransactionsFilters"]["properties"]["created_at"]
    conditions = copy.deepcopy(schemas["FilterConditionsDateTime"])
    for op in ("$after", "$before"):
        single = conditions["properties"][op]
        listed = {
            "type": "array",
            "items": {"type": "string", "format": "date-time"},
            "minItems": 1,
            "maxItems": 1,
        }
        conditions["properties"][op] = {"anyOf": [single, listed]}
    created["properties"]["conditions"] = conditions


#: Every workaround, applied in this order by :func:`patched_schemas`.
PATCHES: tuple[Callable[[Schemas], None], ...] = (
    _voucher_ids_of_transactions_export,
    _metadata_order_export_fields,
    _import_failures_are_a_list,
    _metadata_update_results_count,
    _order_items_need_no_object,
    _campaign_ids_of_transactions_export,
    _publication_channel_is_free_text,
    _campaign_import_items_inherit_their_value,
    _campaign_transactions_export_dates,
)


@functools.cache
def patched_schemas() -> Schemas:
    """``components.schemas`` with :data:`PATCHES` applied (a private copy; read-only)."""
    schemas: Schemas = copy.deepcopy(voucherify_spec()["components"]["schemas"])
    for patch in PATCHES:
        patch(schemas)
    return schemas


def to_json_schema(node: Any, hook: Callable[[JSON, JSON], None] | None = None) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12: ``nullable`` becomes a ``null`` type (or an
    ``anyOf`` with null where there is no ``type``); ``example(s)`` are dropped.

    ``hook(original, converted)`` may annotate each converted schema object (the response check
    adds its ``oneOf`` discriminators this way).
    """
    if isinstance(node, list):
        return [to_json_schema(x, hook) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v, hook) for k, v in node.items() if k not in OPENAPI_ONLY}
    if properties := node.get("properties"):  # property *names* such as "example" are kept
        out["properties"] = {k: to_json_schema(v, hook) for k, v in properties.items()}
    if hook is not None:
        hook(node, out)
    if node.get("nullable"):
        if "type" in out:
            kind = out["type"]
            out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [{"type": "null"}, out]}
    return out
