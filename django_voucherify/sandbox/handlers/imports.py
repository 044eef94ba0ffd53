"""Voucher and customer imports (JSON and CSV) and bulk/metadata updates, all asynchronous.

CSV mapping follows the spec's importCSV descriptions. Headers are matched case-insensitively
with spaces/underscores ignored; every unmapped column becomes a metadata key (the header as
written). Vouchers: ``Code, Voucher Type, Value, Discount Type, Category, Start Date,
Expiration Date, Redemption Limit, Redeemed Quantity, Redeemed Amount, Active, Additional
Info`` (``Value`` is ``amount_off``/``percent_off``/``fixed_amount`` by discount type, or
``gift.amount``); an existing code is updated, as the spec allows for CSV. Customers: ``Id,
Name, Email, Phone, Birthdate, Source_id, Address_line_1, Address_line_2,
Address_Postal_Code, Address_City, Address_State, Address_Country, Description`` (upsert by
``source_id``). The JSON voucher import refuses existing codes ("cannot import the same codes").
Metadata updates merge keys into the existing metadata.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from email import policy
from email.parser import BytesParser
from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.errors import SandboxError, invalid_payload
from django_voucherify.sandbox.handlers.async_actions import accepted, finish, start_async_action
from django_voucherify.sandbox.handlers.customers import validate_customer_payload
from django_voucherify.sandbox.handlers.vouchers import build_voucher, create
from django_voucherify.sandbox.limits import MAX_INTEGER
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "").replace("_", "")


def multipart_file(req: SandboxRequest) -> str:
    """The text of the ``file`` part of a multipart/form-data body (400 if absent)."""
    ctype = req.content_type
    if not ctype.startswith("multipart/form-data"):
        raise invalid_payload("Expected multipart/form-data with a 'file' part")
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=policy.HTTP).parsebytes(head + req.body)
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                return _utf8_text(data)
    raise invalid_payload("Missing 'file' part")


def _utf8_text(data: bytes) -> str:
    """The file's text; Voucherify reads CSV files as UTF-8 (a BOM is allowed)."""
    text = data.removeprefix(codecs.BOM_UTF8)
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + len(data) - len(text)  # a position in the file as sent, BOM included
        raise invalid_payload(f"CSV file is not UTF-8: byte 0x{data[at]:02x} at position {at}") from None


def read_csv(text: str) -> list[JSON]:
    """The rows of a CSV file as dicts; a file the csv module cannot read gives 400."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise invalid_payload("CSV file has no header line")
        return [dict(row) for row in reader]
    except csv.Error as exc:  # a field over the csv module's size limit, a stray quote...
        raise invalid_payload(f"CSV file cannot be read: {exc}") from None


# ---- vouchers ---------------------------------------------------------------------------
VOUCHER_COLUMNS = {
    "code": "code",
    "vouchertype": "type",
    "value": "value",
    "discounttype": "discount_type",
    "category": "category",
    "startdate": "start_date",
    "expirationdate": "expiration_date",
    "redemptionlimit": "quantity",
    "redeemedquantity": "redeemed_quantity",
    "redeemedamount": "redeemed_amount",
    "active": "active",
    "additionalinfo": "additional_info",
}
VALUE_FIELD = {"AMOUNT": "amount_off", "PERCENT": "percent_off", "FIXED": "fixed_amount"}


def _number(text: str, column: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise invalid_payload(f"{column}: must be a number (actual value is '{text}')") from None
    if not math.isfinite(value) or abs(value) > MAX_INTEGER:  # "inf", "nan", "1e999", 1e30
        raise invalid_payload(f"{column}: must be a finite number in range (actual value is '{text[:40]}')")
    return int(value) if value.is_integer() else value


def voucher_from_csv(row: JSON) -> JSON:
    """Map one CSV row to a voucher create payload (unknown columns -> metadata)."""
    fields: JSON = {}
    metadata: JSON = {}
    for header, raw in row.items():
        if header is None:
            continue
        value = (raw or "").strip()
        key = VOUCHER_COLUMNS.get(_norm(header))
        if key is None:
            if value != "":
                metadata[header.strip()] = value
        elif value != "":
            fields[key] = value
    vtype = str(fields.get("type", "DISCOUNT_VOUCHER")).upper()
    vtype = {"DISCOUNT": "DISCOUNT_VOUCHER", "GIFT": "GIFT_VOUCHER"}.get(vtype, vtype)
    payload: JSON = {"code": fields.get("code"), "type": vtype, "metadata": metadata}
    value = _number(fields["value"], "Value") if "value" in fields else None
    if value is None:
        pass  # no Value: a new voucher is refused for it, an updated one keeps its own
    elif vtype == "GIFT_VOUCHER":
        payload["gift"] = {"amount": value}
    elif vtype == "DISCOUNT_VOUCHER":
        dtype = str(fields.get("discount_type", "AMOUNT")).upper()
        payload["discount"] = {"type": dtype, VALUE_FIELD.get(dtype, "amount_off"): value}
    for key in ("category", "start_date", "expiration_date", "additional_info"):
        if key in fields:
            payload[key] = fields[key]
    if "active" in fields:
        payload["active"] = fields["active"].lower() in ("true", "1", "yes")
    redemption: JSON = {}
    if "quantity" in fields:
        redemption["quantity"] = int(_number(fields["quantity"], "Redemption Limit"))
    for key, column in (("redeemed_quantity", "Redeemed Quantity"), ("redeemed_amount", "Redeemed Amount")):
        if key in fields:
            count = _number(fields[key], column)
            if not isinstance(count, int) or count < 0:
                raise invalid_payload(
                    f"{column}: must be a non-negative integer (actual value is '{fields[key]}')"
                )
            redemption[key] = count
    if redemption:
        payload["redemption"] = redemption
    return payload


def _redeemed_counters(payload: JSON, voucher: JSON) -> JSON:
    """The CSV's ``Redeemed Quantity``/``Redeemed Amount`` for ``voucher``, checked against it.

    The spec's importCSV lists both among the standard headers: a voucher imported with them
    has been used that much already (migrated from another system). The amount is a gift card's
    spent credits (``balance = amount - subtracted_amount - redemption.redeemed_amount``).
    """
    given = payload.get("redemption") or {}
    counters = {k: given[k] for k in ("redeemed_quantity", "redeemed_amount") if k in given}
    limit = (voucher.get("redemption") or {}).get("quantity")
    if limit is not None and counters.get("redeemed_quantity", 0) > limit:
        raise invalid_payload(f"Redeemed Quantity: {counters['redeemed_quantity']} is over the limit {limit}")
    if "redeemed_amount" in counters:
        gift = voucher.get("gift")
        if voucher.get("type") != "GIFT_VOUCHER" or not isinstance(gift, dict):
            raise invalid_payload("Redeemed Amount: only a gift card has credits to redeem")
        if counters["redeemed_amount"] > int(gift.get("amount") or 0) - int(
            gift.get("subtracted_amount") or 0
        ):
            raise invalid_payload(
                f"Redeemed Amount: {counters['redeemed_amount']} is over the card's credits"
            )
    return counters


def _apply_counters(voucher: JSON, counters: JSON) -> None:
    redemption = voucher.setdefault("redemption", {})
    if "redeemed_quantity" in counters:
        redemption["redeemed_quantity"] = counters["redeemed_quantity"]
    if "redeemed_amount" in counters:
        gift = voucher["gift"]
        redemption["redeemed_amount"] = counters["redeemed_amount"]
        gift["balance"] = (
            int(gift["amount"]) - int(gift.get("subtracted_amount") or 0) - counters["redeemed_amount"]
        )


def _import_voucher(state: SandboxState, payload: Any, from_csv: bool) -> None:
    """Store one imported voucher. A CSV import updates an existing code and honours the
    redeemed counters; a JSON import refuses existing codes and has no such fields."""
    if not isinstance(payload, dict) or not payload.get("code"):
        raise invalid_payload("code: property is required")
    code = str(payload["code"])
    if code in state.vouchers and from_csv:
        from django_voucherify.sandbox.handlers.vouchers import apply_update

        voucher = state.vouchers[code]
        counters = _redeemed_counters(payload, voucher)  # checked before anything changes
        apply_update(state, voucher, {k: v for k, v in payload.items() if k != "code"})
        _apply_counters(voucher, counters)
        return
    allowed = (
        "code",
        "category",
        "active",
        "type",
        "start_date",
        "expiration_date",
        "redemption",
        "additional_info",
        "metadata",
        "gift",
        "discount",
        "loyalty_card",
    )
    if code in state.vouchers or code in state.bin:
        create(state, code, payload)  # 409 duplicate_found, as before
    voucher = build_voucher(state, code, {k: v for k, v in payload.items() if k in allowed})
    counters = _redeemed_counters(payload, voucher) if from_csv else {}
    _apply_counters(voucher, counters)
    state.put_voucher(voucher)


def _reason(err: SandboxError) -> str:
    return err.details or err.message


@jobs.job("vouchers_import")
def _run_vouchers_import(state: SandboxState, action: JSON, payload: JSON) -> None:
    done, failed = 0, []
    csv_mode = payload.get("csv", False)
    for row, item in enumerate(payload["items"], start=1):
        try:
            data = voucher_from_csv(item) if csv_mode else item
            _import_voucher(state, data, from_csv=csv_mode)
            done += 1
        except SandboxError as err:
            code = str(item.get("code") or item.get("Code") or "") if isinstance(item, dict) else ""
            entry: JSON = {"code": code, "reason": _reason(err)}
            if csv_mode:
                entry["row"] = row
            failed.append(entry)
    msg = f"{done} voucher(s) imported successfully, {len(failed)} failed."
    finish(action, {"message": msg, "failed": failed, "done_count": done, "failed_count": len(failed)})


@route("POST", "/v1/vouchers/import", operation_id="import-vouchers")
def import_vouchers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json()
    if not isinstance(body, list):
        raise invalid_payload("Request body must be an array of vouchers")
    action = start_async_action(state, "VOUCHERS.IMPORT", "vouchers_import", {"items": body}, req.request_id)
    return accepted(action)


@route("POST", "/v1/vouchers/importCSV", operation_id="import-vouchers-using-csv")
def import_vouchers_csv(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rows = read_csv(multipart_file(req))
    payload = {"items": rows, "csv": True}
    action = start_async_action(state, "VOUCHERS.IMPORT_CSV", "vouchers_import", payload, req.request_id)
    return accepted(action)


# ---- customers --------------------------------------------------------------------------
CUSTOMER_COLUMNS = {
    "id": "id",
    "name": "name",
    "email": "email",
    "phone": "phone",
    "birthdate": "birthdate",
    "birthday": "birthday",
    "sourceid": "source_id",
    "description": "description",
    "addressline1": "address.line_1",
    "addressline2": "address.line_2",
    "addresspostalcode": "address.postal_code",
    "addresscity": "address.city",
    "addressstate": "address.state",
    "addresscountry": "address.country",
}


def customer_from_csv(row: JSON) -> JSON:
    payload: JSON = {}
    address: JSON = {}
    metadata: JSON = {}
    for header, raw in row.items():
        if header is None:
            continue
        value = (raw or "").strip()
        if value == "":
            continue
        key = CUSTOMER_COLUMNS.get(_norm(header))
        if key is None:
            metadata[header.strip()] = value
        elif key.startswith("address."):
            address[key[8:]] = value
        else:
            payload[key] = value
    if address:
        payload["address"] = address
    if metadata:
        payload["metadata"] = metadata
    return payload


@jobs.job("customers_import")
def _run_customers_import(state: SandboxState, action: JSON, payload: JSON) -> None:
    done, failed = 0, []
    for row, item in enumerate(payload["items"], start=1):
        data = customer_from_csv(item)
        try:
            if not data.get("source_id") and not data.get("id"):
                raise invalid_payload("source_id: property is required")
            if data.get("metadata") and data.get("source_id"):
                existing = state.find_customer(str(data["source_id"]))
                if existing:
                    data["metadata"] = {**(existing.get("metadata") or {}), **data["metadata"]}
            state.upsert_customer(validate_customer_payload(data))
            done += 1
        except SandboxError as err:
            failed.append({"source_id": str(data.get("source_id") or ""), "row": row, "reason": _reason(err)})
    msg = f"{done} customer(s) imported successfully, {len(failed)} failed."
    finish(action, {"message": msg, "failed": failed, "done_count": done, "failed_count": len(failed)})


@route("POST", "/v1/customers/importCSV", operation_id="import-customers-using-csv")
def import_customers_csv(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rows = read_csv(multipart_file(req))
    action = start_async_action(
        state, "CUSTOMERS.IMPORT_CSV", "customers_import", {"items": rows}, req.request_id
    )
    return accepted(action)
