"""A fake payment provider: charges succeed unless told to fail (to demonstrate the rollback)."""

from __future__ import annotations

from django.utils.translation import gettext


class PaymentDeclined(Exception):
    pass


def charge(amount_cents: int, *, fail: bool) -> str:
    """Pretend to charge ``amount_cents``; returns a payment reference or raises."""
    if fail:
        raise PaymentDeclined(gettext("The card was declined (the demo was asked to fail the payment)."))
    return f"pay_{amount_cents}"
