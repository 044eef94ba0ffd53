"""Money as shoppers read it: minor units (cents) shown in the shop's currency and the active
language's number format (Django's localization gives the separators and the grouping).

Decision (the app keeps every amount in minor units; Django has no currency formatting): the
symbol comes from a small table (the ISO code when unknown), before the number in English and
after it (with a no-break space) in the other languages, as most European locales write it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import formats, translation

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF", "PLN": "zł", "SEK": "kr"}
MINOR_DIGITS = {"JPY": 0}  # ISO 4217 exponents that are not 2
SYMBOL_FIRST_LANGUAGES = {"en", "ja", "zh", "ko"}
MINUS = "\u2212"


def shop_currency() -> str:
    return str(getattr(settings, "SHOP_CURRENCY", "EUR")).upper()


def format_money(minor_units: int, currency: str | None = None) -> str:
    """``1999`` -> ``€19.99`` (English) or ``19,99 €`` (German, French...)."""
    currency = (currency or shop_currency()).upper()
    digits = MINOR_DIGITS.get(currency, 2)
    amount = int(minor_units)
    number = formats.number_format(
        Decimal(abs(amount)).scaleb(-digits), decimal_pos=digits, use_l10n=True, force_grouping=True
    )
    symbol = SYMBOLS.get(currency, currency)
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    text = f"{symbol}{number}" if language in SYMBOL_FIRST_LANGUAGES else f"{number}\u00a0{symbol}"
    return f"{MINUS}{text}" if amount < 0 else text


def format_discount(minor_units: int, currency: str | None = None) -> str:
    """A discount, shown taken off (a minus sign, then the amount); never a zero one (an empty string)."""
    amount = abs(int(minor_units))
    return f"{MINUS}{format_money(amount, currency)}" if amount else ""
