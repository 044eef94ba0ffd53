"""Amounts as staff read them: Voucherify's amounts in the shop's currency
(``VOUCHERIFY['CURRENCY']``), in the active language's number format.

Voucherify writes every amount as the value **multiplied by 100**, whatever the currency (its
API reference: "Value is multiplied by 100 to precisely represent 2 decimal places. For example,
a $10 order amount is written as 1000."; see docs/admin.md#amounts). So ``1000`` is ¥10 in a
JPY project and 10.000 KWD in a KWD project, never ¥1,000 or 1.000 KWD: the amount is always
divided by 100, then shown with the currency's own decimals (ISO 4217: 0 for JPY, 3 for KWD, 2
for most). A 0-decimal currency's amount that is not a whole unit (``1050`` JPY) keeps its two
decimals rather than being rounded: money is never hidden.

Decision: the ISO code after the number (``1,234.50 EUR`` in English, ``1.234,50 EUR`` in
German), not a symbol: unambiguous for staff whatever the currency, and no per-language rule of
where a symbol goes (the example shop's own ``money`` filter does symbols for shoppers, with
:func:`amount_number`). Django's localization gives the separators and grouping. Without
``CURRENCY`` the amount is shown as Voucherify keeps it (the number x100).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import formats

from .. import conf

#: Voucherify's amounts are the value times this, for every currency.
VOUCHERIFY_SCALE = 2

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


def amount_number(amount: int, code: str) -> str:
    """The absolute value of a Voucherify amount (x100) in ``code``, localized, without sign or
    currency: ``1000`` -> ``10`` (JPY), ``10.00`` (EUR), ``10.000`` (KWD); ``1050`` JPY ->
    ``10.50`` (a fraction of a yen is shown, not rounded away)."""
    value = Decimal(abs(int(amount))).scaleb(-VOUCHERIFY_SCALE)
    digits = MINOR_DIGITS.get(code.upper(), 2)
    if digits < VOUCHERIFY_SCALE and value != value.quantize(Decimal(1).scaleb(-digits)):
        digits = VOUCHERIFY_SCALE
    return formats.number_format(value, decimal_pos=digits, use_l10n=True, force_grouping=True)


def format_amount(amount: int | None, code: str | None = None) -> str:
    """``123450`` -> ``1,234.50 EUR`` (English) / ``1.234,50 EUR`` (German), ``1000`` JPY ->
    ``10 JPY``; ``"123450"`` without a currency; ``""`` for None."""
    if amount is None:
        return ""
    code = code or currency()
    value = int(amount)
    if not code:
        return str(value)
    return f"{MINUS if value < 0 else ''}{amount_number(value, code)}{NBSP}{code.upper()}"
