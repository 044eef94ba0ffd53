"""Starting an export from the jobs admin, and downloading a job's file.

The form asks what to export (orders, or one gift / loyalty card's transactions), the filters
Voucherify's order export takes (status) and the fields to export; the job then follows the
export like any other (its page updates itself) and offers the file once Voucherify made it.
The field and order names are those of the spec's ``ExportOrderFields`` / ``ExportOrderOrder``
enums; the code goes through the one code rule (:class:`~django_voucherify.validation.CodeFormField`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import IO, Any

from django import forms
from django.http import Http404, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from ..models import Job, OrderStatus
from ..validation import CodeFormField
from . import submit_once

ORDERS = "orders"
VOUCHER_TRANSACTIONS = "voucher_transactions"

#: ``ExportOrderFields`` of the spec.
ORDER_FIELDS = (
    "id",
    "source_id",
    "created_at",
    "updated_at",
    "status",
    "amount",
    "discount_amount",
    "items_discount_amount",
    "total_discount_amount",
    "total_amount",
    "customer_id",
    "referrer_id",
    "metadata",
)
#: Voucherify's default fields of an order export (create-export's "Defaults" table).
DEFAULT_ORDER_FIELDS = ("id", "source_id", "status")
#: ``ExportOrderOrder`` of the spec.
ORDER_ORDERS = ("-created_at", "created_at", "-updated_at", "updated_at", "-status", "status")


WHAT_CHOICES = [(ORDERS, _("Orders")), (VOUCHER_TRANSACTIONS, _("Transactions of a gift or loyalty card"))]


# Each field's own words for a missing or unknown choice: Django's generic "This field is
# required." / "Select a valid choice. x is not one of the available choices." came once per
# field, the same sentence repeated on the page without saying which field it was about.
# ``%(value)s`` is filled in by Django when the message is raised (still lazy here).
class ExportForm(forms.Form):
    what = forms.ChoiceField(
        label=_("Export"),
        choices=WHAT_CHOICES,
        error_messages={
            "required": _("Choose what to export."),
            "invalid_choice": _("%(value)s is not something to export: choose from the list."),
        },
    )
    code = CodeFormField(
        label=_("Card code"), required=False, help_text=_("Only for the transactions of a card.")
    )
    submission = submit_once.token_field()
    # Not ``fields`` nor ``order_fields``: names of the form's own attributes.
    export_fields = forms.MultipleChoiceField(
        label=_("Order fields"),
        choices=[(f, f) for f in ORDER_FIELDS],
        initial=list(DEFAULT_ORDER_FIELDS),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: Voucherify's default fields. A card's transactions export every field."),
        error_messages={"invalid_choice": _("%(value)s is not an order field: tick fields of the list.")},
    )
    status = forms.MultipleChoiceField(
        label=_("Only orders with the status"),
        choices=OrderStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every order."),
        error_messages={"invalid_choice": _("%(value)s is not an order status: tick statuses of the list.")},
    )
    sort = forms.ChoiceField(
        label=_("Sorted by"),
        choices=[(o, o) for o in ORDER_ORDERS],
        initial="-created_at",
        error_messages={
            "required": _("Choose how the orders are sorted."),
            "invalid_choice": _("%(value)s is not a sort order: choose one from the list."),
        },
    )

    def __init__(self, *args: Any, choices: list[tuple[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if choices is not None:  # only what the user may download is offered, and accepted
            what = self.fields["what"]
            assert isinstance(what, forms.ChoiceField)
            what.choices = [(value, label) for value, label in WHAT_CHOICES if value in dict(choices)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("what") == VOUCHER_TRANSACTIONS and not data.get("code") and "code" not in self.errors:
            self.add_error("code", _("Enter the code of the card whose transactions to export."))
        return data

    def order_parameters(self) -> dict[str, Any]:
        """The ``parameters`` of ``POST /v1/orders/export`` this form asks for."""
        data = self.cleaned_data
        parameters: dict[str, Any] = {"order": data["sort"]}
        if data.get("export_fields"):
            parameters["fields"] = [f for f in ORDER_FIELDS if f in data["export_fields"]]  # the spec's order
        if data.get("status"):
            parameters["filters"] = {
                "junction": "and",
                "status": {"conditions": {"$in": list(data["status"])}},
            }
        return parameters


def start_export(form: ExportForm, user: Any) -> Job:
    from .. import jobs  # the jobs service loads with the first export, not at start-up

    if form.cleaned_data["what"] == VOUCHER_TRANSACTIONS:
        return jobs.export_voucher_transactions(form.cleaned_data["code"], started_by=user)
    return jobs.export_orders(form.order_parameters(), started_by=user)


def result_file_response(job: Job) -> StreamingHttpResponse:
    """The job's file (an export's CSV) as a download, streamed from storage."""
    if not job.result_file:
        raise Http404(_("This job has no file (yet)."))
    try:
        handle = job.result_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("This job's file is no longer in storage.")) from exc
    response = StreamingHttpResponse(_spreadsheet_safe_lines(handle), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"job-{job.pk}-{job.kind}.csv")
    return response


#: A cell that is only a number (``-5``, ``-0.5``) is data, not a formula: left as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def _safe_cell(value: str) -> str:
    from ..jobs.csvfiles import spreadsheet_safe  # the jobs service stays out of start-up

    return value if _PLAIN_NUMBER.fullmatch(value) else str(spreadsheet_safe(value))


#: A quoted field (doubled quotes inside) and the run of an unquoted one.
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_UNQUOTED = re.compile(r"[^,\r\n]*")
_READ_CHARS = 64 * 1024


def _spreadsheet_safe_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The stored CSV with every cell a spreadsheet would run as a formula (``=HYPERLINK(...)``
    in an order's source id or metadata) quoted as text. The stored file stays byte for byte
    what Voucherify sent (``--output`` and the API give that); this is the copy staff
    double-click.

    Streamed, and split into fields here rather than by ``csv.reader``: its field size limit
    (131,072 characters, process-wide, and the CSV imports rely on it) raised inside the
    response after the 200 was sent, so a long metadata cell broke the download. Fields that
    need no quote are passed through as they were written; a field is held whole in memory
    only while it is read (a cell, never the file)."""
    with handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
        buf, pos, eof = "", 0, False
        out: list[str] = []
        size = 0
        want = _READ_CHARS
        while True:
            field_end = _field_end(buf, pos, eof)
            if field_end is None:  # the field (or its line end) may go on in the next chunk
                # Each miss reads twice as much as the last: a field spanning many chunks is
                # rescanned a logarithmic number of times, not once per chunk (quadratic).
                more = text.read(want)
                want *= 2
                buf, pos, eof = buf[pos:] + more, 0, not more
                continue
            want = _READ_CHARS
            if field_end == pos == len(buf) and eof and not out and not buf:
                break  # an empty file
            raw = buf[pos:field_end]
            safe = _safe_field(raw)
            out.append(safe)
            size += len(safe)
            pos = field_end
            if size > _READ_CHARS:  # sent as it goes, even within one long line
                yield "".join(out).encode("utf-8")
                out, size = [], 0
            if pos < len(buf) and buf[pos] == ",":
                out.append(",")
                pos += 1
                continue
            if pos < len(buf):  # a line end: \r\n, \n or \r, kept as written
                newline = "\r\n" if buf.startswith("\r\n", pos) else buf[pos]
                out.append(newline)
                pos += len(newline)
                if pos < len(buf) or not eof:
                    continue
            break  # end of file
        if out:
            yield "".join(out).encode("utf-8")


def _field_end(buf: str, pos: int, eof: bool) -> int | None:
    """Where the field starting at ``pos`` ends (at its comma, line end or the end of the
    file), or None when more text is needed to know."""
    end = pos
    if buf.startswith('"', pos):
        quoted = _QUOTED.match(buf, pos)
        if quoted is None:
            return len(buf) if eof else None  # an unclosed quote: the rest of the file
        end = quoted.end()
    run = _UNQUOTED.match(buf, end)  # an unquoted field, or text after a closing quote
    assert run is not None  # the pattern matches the empty string
    end = run.end()
    if end == len(buf) and not eof:
        return None
    if buf.startswith("\r", end) and end + 1 == len(buf) and not eof:
        return None  # a \r whose \n may be next
    return end


def _safe_field(raw: str) -> str:
    """The field as written, or, when a spreadsheet would run it, its value quoted as text.
    The value is what a CSV reader makes of it: the quoted part unescaped plus any text after
    the closing quote (``"=1"+2`` reads as ``=1+2``); a byte-order mark before it (the file's
    first cell) is kept in front and not judged."""
    bom = "\ufeff" if raw.startswith("\ufeff") else ""
    text = raw[len(bom) :]
    if text.startswith('"'):
        quoted = _QUOTED.match(text)
        if quoted is None:
            value = text[1:].replace('""', '"')  # an unclosed quote runs to the end
        else:
            value = text[1 : quoted.end() - 1].replace('""', '"') + text[quoted.end() :]
    else:
        value = text
    safe = _safe_cell(value)
    if safe == value:
        return raw  # as written
    if any(c in safe for c in ',"\r\n'):
        safe = '"' + safe.replace('"', '""') + '"'
    return bom + safe
