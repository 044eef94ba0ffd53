"""Changelist cells shared by the admins: long values on one line, cut with an ellipsis."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString


def cut(text: str, kind: str) -> SafeString:
    """``text`` on one line, cut with an ellipsis by voucherify_admin.css (``kind`` sets its
    width); whole in the title. "-" when empty."""
    if not text:
        return format_html("{}", "-")
    return format_html('<span class="voucherify-cut {}" title="{}">{}</span>', kind, text, text)
