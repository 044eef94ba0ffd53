"""Checkout: validate codes, redeem them exactly once per order, roll them back.

Views call these services (flow 3 of the design guide); DRF views, admin actions and Celery
tasks are thin shells over them::

    from django_voucherify import checkout

    result = checkout.validate(["SPRING20"], {"source_id": "ORD-1", "amount": 5000}, "user-7")
    paid = checkout.redeem_then_pay(["SPRING20"], order, charge_card, customer="user-7")
"""

from __future__ import annotations

# The functions are bound after their modules are imported, so ``checkout.validate`` is the
# function, not the submodule of the same name.
from .errors import (
    AlreadyRedeemed,
    CheckoutError,
    CheckoutUnavailable,
    CodesRefused,
    InvalidCheckoutInput,
    RollbackFailed,
)
from .flow import PaidCheckout, redeem_then_pay
from .payloads import Redeemable
from .reconcile import reconcile
from .redeem import redeem
from .results import CodeResult, RedeemOutcome, Totals, ValidationOutcome
from .rollback import request_rollback, rollback, rollback_order
from .validate import validate

__all__ = [
    "AlreadyRedeemed",
    "CheckoutError",
    "CheckoutUnavailable",
    "CodeResult",
    "CodesRefused",
    "InvalidCheckoutInput",
    "PaidCheckout",
    "RedeemOutcome",
    "Redeemable",
    "RollbackFailed",
    "Totals",
    "ValidationOutcome",
    "reconcile",
    "redeem",
    "redeem_then_pay",
    "request_rollback",
    "rollback",
    "rollback_order",
    "validate",
]
