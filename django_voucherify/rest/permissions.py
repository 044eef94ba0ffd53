"""Who may call which checkout endpoint: Django model permissions of the ledger, as in the admin.

``is_staff`` only opens the admin site; it grants nothing here. A superuser has every
permission; an inactive user none.

- validate: anyone (``lock`` needs a signed-in user, checked by the view);
- redeem: a signed-in user, for an order of their own customer; for any other order (or an
  order without a customer) the user needs ``django_voucherify.add_checkoutredemption``
  (a redeem writes a ledger row);
- publish: a signed-in user, for their own customer; for any other customer the user needs
  ``django_voucherify.add_customerpublication`` (checked by the view, which knows whom);
- rollback: ``django_voucherify.change_checkoutredemption``, the permission the admin's
  "Roll back selected redemptions" action requires.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request

from ..models.orders import Order

ROLLBACK_PERMISSION = "django_voucherify.change_checkoutredemption"
REDEEM_ANY_ORDER_PERMISSION = "django_voucherify.add_checkoutredemption"
PUBLISH_FOR_ANYONE_PERMISSION = "django_voucherify.add_customerpublication"


def owns_order(request: Request, order: Order) -> bool:
    owner = order.customer.user_id if order.customer is not None else None
    return owner is not None and owner == request.user.pk


class CanRedeemOrder(IsAuthenticated):
    """Signed in; the order (object permission) is the user's own, or the user may redeem for
    any order."""

    message = _("This order is not yours.")

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return owns_order(request, obj) or request.user.has_perm(REDEEM_ANY_ORDER_PERMISSION)


class CanRollBackRedemptions(BasePermission):
    """Signed in with the permission to change checkout redemptions."""

    message = _("You do not have permission to roll back redemptions.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(ROLLBACK_PERMISSION))
