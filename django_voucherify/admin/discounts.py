"""A Voucherify ``discount`` object as one short line for a changelist column ("10% (max 20.00
EUR)", "-5.00 EUR", "fixed 30.00 EUR", "1 free unit(s)", "free shipping")."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from .money import format_amount


def _amount(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _percent(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return "?"
    return format(number.normalize(), "f")  # 20.00 -> 20, 12.50 -> 12.5


def discount_summary(discount: Any) -> str:
    """``discount`` (a Voucherify Discount) in words; "-" when there is none, and its type as
    Voucherify names it for a kind not spelled out here."""
    if not isinstance(discount, dict) or not discount:
        return "-"
    kind = discount.get("type")
    if kind == "PERCENT":
        limit = _amount(discount.get("amount_limit"))
        extra = _(" (max %(limit)s)") % {"limit": format_amount(limit)} if limit else ""
        return f"{_percent(discount.get('percent_off'))}%{extra}"
    if kind == "AMOUNT":
        return _("-%(amount)s") % {"amount": format_amount(_amount(discount.get("amount_off")) or 0)}
    if kind == "FIXED":
        return _("fixed %(amount)s") % {"amount": format_amount(_amount(discount.get("fixed_amount")) or 0)}
    if kind == "UNIT":
        units = discount.get("units")
        if isinstance(units, list):  # several products, each with its own unit_off
            count = sum(_amount(u.get("unit_off")) or 0 for u in units if isinstance(u, dict))
        else:
            count = _amount(discount.get("unit_off")) or 0
        return _("%(units)s free unit(s)") % {"units": count}
    if kind == "SHIPPING":
        return _("free shipping")
    return str(kind) if isinstance(kind, str) and kind else "-"
