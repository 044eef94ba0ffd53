"""Validation rules, read-only: the mirror refreshed with the campaigns (the campaign
changelist's "Refresh from Voucherify"), listed with their error message and assignment count;
the detail page shows the conditions, the error message and every assignment. Rules are
written in Voucherify: no add, change or delete here (``view_validationrule`` is the only
permission the model has)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..models import ValidationRule
from .mixins import VoucherifyModelAdmin


@admin.register(ValidationRule)
class ValidationRuleAdmin(VoucherifyModelAdmin):
    list_display = ("name", "type", "context_type", "error_message", "assignments_count", "refreshed_at")
    list_filter = ("type", "context_type")
    search_fields = ("name", "voucherify_id", "error_message")
    fields = readonly_fields = (
        "name",
        "voucherify_id",
        "type",
        "context_type",
        "error_message",
        "conditions",
        "assignments_table",
        "remote_created_at",
        "refreshed_at",
    )

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ValidationRule | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ValidationRule | None = None) -> bool:
        return False

    @admin.display(description=_("conditions"))
    def conditions(self, obj: ValidationRule) -> SafeString:
        return format_html(
            "<pre class='voucherify-json'>{}</pre>", json.dumps(obj.rules, indent=2, ensure_ascii=False)
        )

    @admin.display(description=_("assignments"))
    def assignments_table(self, obj: ValidationRule) -> SafeString | str:
        rows = [a for a in obj.assignments or [] if isinstance(a, dict)]
        if not rows:
            return str(_("Not assigned to anything."))
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (a.get("related_object_type", ""), a.get("related_object_id", ""), a.get("id", ""))
                for a in rows
            ),
        )
        return format_html(
            "<table id='rule-assignments'><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("assigned to"),
            _("object id"),
            _("assignment id"),
            body,
        )
