"""``{% load shop_money %}``: ``{{ cents|money }}``, ``{{ cents|money:order.currency }}`` and
``{{ cents|discount }}`` (see example_project/shop/money.py)."""

from __future__ import annotations

from django import template

from ..money import format_discount, format_money

register = template.Library()


@register.filter
def money(minor_units: int, currency: str | None = None) -> str:
    return format_money(minor_units, currency)


@register.filter
def discount(minor_units: int, currency: str | None = None) -> str:
    return format_discount(minor_units, currency)
