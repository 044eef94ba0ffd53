"""Amounts as staff read them: Voucherify's minor units in the shop's currency
(``VOUCHERIFY['CURRENCY']``), in the active language's number format.

Decision: the ISO code after the number (``1,234.50 EUR`` in English, ``1.234,50 EUR`` in
German), not a symbol: unambiguous for staff whatever the currency, and no per-language rule of
where a symbol goes (the example shop's own ``money`` filter does symbols for shoppers). Django's
localization gives the separators and grouping. Without ``CURRENCY`` the app cannot know how many
decimals an amount has, so the number of minor units is shown as it is.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import formats

from .. import conf

#: ISO 4217 currencies whose minor unit is not a hundredth (the rest have 2 decimals).
# fmt: off
MINOR_DIGITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"], 0),
    **dict.fromkeys(["VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
# fmt: on


MINUS, NBSP = "\u2212", "\u00a0"  # a real minus sign; the code never wraps away from its number


def currency() -> str | None:
    """The shop's currency (upper case), or None when ``CURRENCY`` is unset."""
    return conf.settings().currency


def format_amount(minor_units: int | None, code: str | None = None) -> str:
    """``123450`` -> ``1,234.50 EUR`` (English) / ``1.234,50 EUR`` (German); ``"123450"``
    without a currency; ``""`` for None."""
    if minor_units is None:
        return ""
    code = code or currency()
    amount = int(minor_units)
    if not code:
        return str(amount)
    digits = MINOR_DIGITS.get(code, 2)
    number = formats.number_format(
        Decimal(abs(amount)).scaleb(-digits), decimal_pos=digits, use_l10n=True, force_grouping=True
    )
    return f"{MINUS if amount < 0 else ''}{number}{NBSP}{code}"
