"""What an export may ask for (``parameters``: ``fields``, ``order``, ``filters``) and how its
filters pick rows. One home for every export: create-export, create-order-export and
export-voucher-transactions check their parameters here.

The field and order names are the enums of the vendored spec's ``Export<Object>Fields`` and
``Export<Object>Order`` schemas; the default fields are create-export's "Defaults" table. A
filter names an exportable field or a property under one of the prefixes the spec's
``Export<Object>Filters`` description allows (``metadata.``, ``address.``...), and holds
``conditions`` (``$in``, ``$is``, ``$after``...; ``FiltersCondition``). Filters are joined with
``junction`` ``and`` (the default) or ``or``.
"""

from __future__ import annotations

import functools
from typing import Any

from django_voucherify.sandbox.errors import invalid_payload
from django_voucherify.sandbox.openapi import voucherify_spec
from django_voucherify.sandbox.state import parse_iso

JSON = dict[str, Any]

#: exported_object -> the spec's schema name part (``Export<part>Fields``...).
SCHEMA_NAMES = {
    "voucher": "Voucher",
    "redemption": "Redemption",
    "customer": "Customer",
    "order": "Order",
    "voucher_transactions": "VoucherTransactions",
}

#: create-export's "Defaults" table. ``voucher_transactions`` there also names ``status``,
#: which is not one of its exportable fields (``ExportVoucherTransactionsFields``): left out.
DEFAULT_FIELDS: dict[str, list[str]] = {
    "order": ["id", "source_id", "status"],
    "voucher": ["code", "voucher_type", "value", "discount_type"],
    "redemption": ["id", "object", "voucher_code", "customer_id", "date", "result"],
    "customer": ["name", "source_id"],
    "voucher_transactions": [
        "id",
        "type",
        "source_id",
        "reason",
        "source",
        "balance",
        "amount",
        "created_at",
    ],
}

#: export-voucher-transactions exports every field of its table, in the table's order.
VOUCHER_TRANSACTIONS_EXPORT_FIELDS = [
    "id",
    "type",
    "source_id",
    "reason",
    "balance",
    "amount",
    "created_at",
    "voucher_id",
    "campaign_id",
    "source",
    "details",
    "related_transaction_id",
]

#: export-campaign-transactions' default: the same table without ``campaign_id`` (the campaign
#: is the path's; ``CampaignsTransactionsExportParameters`` does not list it, and its answer
#: echoing it broke the response schema).
CAMPAIGN_TRANSACTIONS_EXPORT_FIELDS = [f for f in VOUCHER_TRANSACTIONS_EXPORT_FIELDS if f != "campaign_id"]

#: ``Export<Object>Filters``: "Allowed additional properties must start with ..."
FILTER_PREFIXES: dict[str, tuple[str, ...]] = {
    "voucher": ("metadata.", "redemption."),
    "redemption": ("metadata.",),
    "customer": (
        "metadata.",
        "address.",
        "summary.",
        "loyalty.",
        "loyalty_tier.",
        "loyalty_points.",
        "system_metadata.",
    ),
    "order": ("metadata.",),
    "voucher_transactions": (),
}

OPERATORS = frozenset(
    (
        "$in",
        "$not_in",
        "$is",
        "$is_not",
        "$has_value",
        "$is_unknown",
        "$contains",
        "$not_contain",
        "$starts_with",
        "$ends_with",
        "$more_than",
        "$less_than",
        "$more_than_equal",
        "$less_than_equal",
        "$after",
        "$before",
    )
)


@functools.cache
def _enum(schema: str) -> tuple[str, ...]:
    node = voucherify_spec()["components"]["schemas"][schema]
    return tuple(node.get("enum") or node.get("items", {}).get("enum") or ())


def fields_of(kind: str) -> tuple[str, ...]:
    return _enum(f"Export{SCHEMA_NAMES[kind]}Fields")


def orders_of(kind: str) -> tuple[str, ...]:
    return _enum(f"Export{SCHEMA_NAMES[kind]}Order")


def _field_allowed(kind: str, name: str) -> bool:
    # Orders export metadata as ``metadata.X`` (create-export's Orders table says so).
    return name in fields_of(kind) or (kind == "order" and name.startswith("metadata.") and len(name) > 9)


def check_parameters(kind: str, given: Any, defaults: list[str] | None = None) -> JSON:
    """The stored ``parameters`` of a ``kind`` export; 400 ``invalid_payload`` naming the part
    of ``given`` that is not what the spec documents."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise invalid_payload("parameters must be an object")
    params: JSON = {}
    order = given.get("order")
    if order is not None:
        if order not in orders_of(kind):
            raise invalid_payload(f"parameters.order must be one of {', '.join(orders_of(kind))}")
        params["order"] = order
    fields = given.get("fields")
    if fields is None:
        fields = defaults or DEFAULT_FIELDS[kind]
    if not isinstance(fields, list) or not fields:
        raise invalid_payload("parameters.fields must be a non-empty array of field names")
    for name in fields:
        if not isinstance(name, str) or not _field_allowed(kind, name):
            raise invalid_payload(f"parameters.fields: unknown {kind} field {name!r}")
    params["fields"] = list(fields)
    filters = given.get("filters")
    if filters is not None:
        check_filters(kind, filters)
        params["filters"] = filters
    if kind == "voucher" and given.get("campaign_id") is not None:  # ExportVoucherBase's own
        params["campaign_id"] = str(given["campaign_id"])
    return params


def check_filters(kind: str, filters: Any) -> None:
    if not isinstance(filters, dict):
        raise invalid_payload("parameters.filters must be an object")
    junction = filters.get("junction", "and")
    if not isinstance(junction, str) or junction.lower() not in ("and", "or"):
        raise invalid_payload("parameters.filters.junction must be and or or")
    for name, spec in filters.items():
        if name == "junction":
            continue
        known = name in fields_of(kind) or any(name.startswith(p) for p in FILTER_PREFIXES[kind])
        if not known:
            raise invalid_payload(f"parameters.filters: cannot filter {kind} exports by {name!r}")
        conditions = spec.get("conditions") if isinstance(spec, dict) else None
        if not isinstance(conditions, dict) or not conditions:
            raise invalid_payload(f"parameters.filters.{name}.conditions must be an object")
        for op in conditions:
            if op not in OPERATORS:
                raise invalid_payload(f"parameters.filters.{name}.conditions: unsupported operator {op!r}")


def matches(row: JSON, filters: JSON | None) -> bool:
    """Whether ``row`` (flat: ``metadata.x`` keys included) passes checked ``filters``."""
    if not filters:
        return True
    results = [
        all(_holds(row.get(name), op, arg) for op, arg in spec["conditions"].items())
        for name, spec in filters.items()
        if name != "junction"
    ]
    if not results:
        return True
    return any(results) if str(filters.get("junction", "and")).lower() == "or" else all(results)


def _args(arg: Any) -> list[Any]:
    return list(arg) if isinstance(arg, list) else [arg]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _moment(value: Any) -> Any:
    try:
        return parse_iso(str(value))
    except ValueError:
        return None


def _holds(value: Any, op: str, arg: Any) -> bool:
    args = _args(arg)
    first = args[0] if args else None
    if op == "$has_value":
        return value not in (None, "")
    if op == "$is_unknown":
        return value in (None, "")
    if op in ("$in", "$is"):
        return _text(value) in [_text(a) for a in args]
    if op in ("$not_in", "$is_not"):
        return _text(value) not in [_text(a) for a in args]
    if op in ("$contains", "$not_contain"):
        found = _text(first) in _text(value)
        return found if op == "$contains" else not found
    if op == "$starts_with":
        return _text(value).startswith(_text(first))
    if op == "$ends_with":
        return _text(value).endswith(_text(first))
    if op in ("$after", "$before"):
        have, limit = _moment(value), _moment(first)
        if have is None or limit is None:
            return False
        return bool(have > limit if op == "$after" else have < limit)
    have_n, limit_n = _number(value), _number(first)
    if have_n is None or limit_n is None:
        return False
    return {
        "$more_than": have_n > limit_n,
        "$less_than": have_n < limit_n,
        "$more_than_equal": have_n >= limit_n,
        "$less_than_equal": have_n <= limit_n,
    }[op]
