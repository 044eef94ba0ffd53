"""Money as shoppers read it: amounts in cents (the value x100, as the shop keeps prices and as
Voucherify writes every amount, whatever the currency) shown in the shop's currency and the
active language's number format (Django's localization gives the separators and the grouping).
The number itself is the app's (:func:`django_voucherify.admin.money.amount_number`): ``1000`` is
¥10 in JPY and 10.000 KWD in KWD, like in the admin.

Decision (the app keeps every amount in minor units; Django has no currency formatting): the
symbol comes from a small table (the ISO code when unknown), before the number in English and
after it (with a no-break space) in the other languages, as most European locales write it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from django_voucherify.admin.money import amount_number

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF", "PLN": "zł", "SEK": "kr"}
SYMBOL_FIRST_LANGUAGES = {"en", "ja", "zh", "ko"}
MINUS = "\u2212"


def shop_currency() -> str:
    return str(getattr(settings, "SHOP_CURRENCY", "EUR")).upper()


def format_money(minor_units: int, currency: str | None = None) -> str:
    """``1999`` -> ``€19.99`` (English) or ``19,99 €`` (German, French...)."""
    currency = (currency or shop_currency()).upper()
    amount = int(minor_units)
    number = amount_number(amount, currency)
    symbol = SYMBOLS.get(currency, currency)
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    text = f"{symbol}{number}" if language in SYMBOL_FIRST_LANGUAGES else f"{number}\u00a0{symbol}"
    return f"{MINUS}{text}" if amount < 0 else text


def format_discount(minor_units: int, currency: str | None = None) -> str:
    """A discount, shown taken off (a minus sign, then the amount); never a zero one (an empty string)."""
    amount = abs(int(minor_units))
    return f"{MINUS}{format_money(amount, currency)}" if amount else ""
