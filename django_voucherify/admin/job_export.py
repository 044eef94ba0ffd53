"""Starting an export from the jobs admin, and downloading a job's file.

The form asks what to export (orders, or one gift / loyalty card's transactions), the filters
Voucherify's order export takes (status) and the fields to export; the job then follows the
export like any other (its page updates itself) and offers the file once Voucherify made it.
The field and order names are those of the spec's ``ExportOrderFields`` / ``ExportOrderOrder``
enums; the code goes through the one code rule (:class:`~django_voucherify.validation.CodeFormField`).
"""

from __future__ import annotations

import csv
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


# Each field's own words for a missing or unknown choice: Django's generic "This field is
# required." / "Select a valid choice. x is not one of the available choices." came once per
# field, the same sentence repeated on the page without saying which field it was about.
# ``%(value)s`` is filled in by Django when the message is raised (still lazy here).
class ExportForm(forms.Form):
    what = forms.ChoiceField(
        label=_("Export"),
        choices=[(ORDERS, _("Orders")), (VOUCHER_TRANSACTIONS, _("Transactions of a gift or loyalty card"))],
        error_messages={
            "required": _("Choose what to export."),
            "invalid_choice": _("%(value)s is not something to export: choose from the list."),
        },
    )
    code = CodeFormField(
        label=_("Card code"), required=False, help_text=_("Only for the transactions of a card.")
    )
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


def _spreadsheet_safe_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The stored CSV, row by row, with every cell a spreadsheet would run as a formula
    (``=HYPERLINK(...)`` in an order's source id or metadata) quoted as text. The stored file
    stays byte for byte what Voucherify sent (``--output`` and the API give that); this is the
    copy staff double-click. Streamed: an export of a million rows is never held in memory."""
    with handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in csv.reader(text):
            writer.writerow([_safe_cell(cell) for cell in row])
            if out.tell() > 64 * 1024:
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode("utf-8")
