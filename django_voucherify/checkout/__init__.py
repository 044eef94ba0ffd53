"""Checkout: validate codes, redeem them exactly once per order, roll them back.

Views call these services (flow 3 of the design guide); DRF views, admin actions and Celery
tasks are thin shells over them::

    from django_voucherify import checkout

    result = checkout.validate(["SPRING20"], {"source_id": "ORD-1", "amount": 5000}, "user-7")
    paid = checkout.redeem_then_pay(["SPRING20"], order, charge_card, customer="user-7")

One module per step, each importing only those listed above it (the chain's step bodies in
``schedule`` call rollback and reconcile at run time):

- ``errors``: what can go wrong, and the customer-facing message for each Voucherify key.
- ``cart``: what goes in (codes, order, customer: the request body), what comes out (results,
  totals), and the client it goes through (checkout's short timeout).
- ``validate``: :func:`validate`, and the outage policy every step follows.
- ``offers``: :func:`offers`, what a cart qualifies for (automatic promotions, the customer's
  own codes) with the discount each gives, for a cart page.
- ``budget``: the budget of unknown codes every way in draws from (:class:`UnknownCodesBudget`:
  per user and per client address, refused with :class:`TooManyAttempts`).
- ``ledger``: what the steps write on their ledger row, each transition under the row's lock
  (the redeem's PENDING -> SUCCEEDED as one conditional UPDATE).
- ``claim``: the PENDING row of a redeem, checked and committed in one ``INSERT``.
- ``schedule``: a row's background work: its task chain, the retry policy (only here), the
  bodies of the chain's steps (which call rollback and reconcile).
- ``rollback``: :func:`rollback`, :func:`request_rollback`, :func:`rollback_order`.
- ``redeem``: :func:`redeem` (sent once, never after its deadline), :func:`redeem_then_pay`.
- ``reconcile``: :func:`reconcile` of unknown outcomes, and the late check.
- ``publish``: :func:`publish`, a campaign's code handed to a customer once (its own ledger,
  ``CustomerPublication``).

Names, the same in every step: ``order`` is the shop's order as given (the ``Order`` mirror or
a mapping) and ``order_source_id`` its id (the ``source_id`` Voucherify knows it by, and the
ledger's one-live-row-per-order key, ``CheckoutRedemption.order_source_id``); likewise
``customer`` and ``customer_source_id``. (The row's ``order`` / ``order_id`` fields are its link
to the ``Order`` mirror, set when a mirror was given.) A ledger row is ``row`` (a
``CheckoutRedemption``) and ``ledger_id`` its primary key; the public services take either as
``ledger``.
"""

from __future__ import annotations

# The functions are bound after their modules are imported, so ``checkout.validate`` is the
# function, not the submodule of the same name.
from .budget import TooManyAttempts, UnknownCodesBudget, client_idents
from .cart import CodeResult, Redeemable, RedeemOutcome, Totals, ValidationOutcome
from .errors import (
    AlreadyRedeemed,
    CheckoutError,
    CheckoutUnavailable,
    CodesRefused,
    InvalidCheckoutInput,
    OrderCanceled,
    RollbackFailed,
)
from .offers import Offer, OffersOutcome, offers
from .publish import CampaignNotOffered, PublicationRefused, PublishedCode, publish
from .reconcile import reconcile
from .redeem import PaidCheckout, redeem, redeem_then_pay
from .rollback import request_rollback, rollback, rollback_order
from .validate import validate

__all__ = [
    "AlreadyRedeemed",
    "CampaignNotOffered",
    "CheckoutError",
    "CheckoutUnavailable",
    "CodeResult",
    "CodesRefused",
    "InvalidCheckoutInput",
    "Offer",
    "OffersOutcome",
    "OrderCanceled",
    "PaidCheckout",
    "PublicationRefused",
    "PublishedCode",
    "RedeemOutcome",
    "Redeemable",
    "RollbackFailed",
    "TooManyAttempts",
    "Totals",
    "UnknownCodesBudget",
    "ValidationOutcome",
    "client_idents",
    "offers",
    "publish",
    "reconcile",
    "redeem",
    "redeem_then_pay",
    "request_rollback",
    "rollback",
    "rollback_order",
    "validate",
]
