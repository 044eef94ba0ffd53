"""Changelist filters of the checkout ledger that are not plain field filters."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..models.ledger import CheckoutRedemption


class RollbackPendingFilter(admin.SimpleListFilter):
    """``?rollback=pending``: rows holding a redemption whose asked-for rollback is not done
    (the overview's "rollbacks pending" links here)."""

    title = _("rollback")
    parameter_name = "rollback"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("pending", _("pending"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "pending":
            due = CheckoutRedemption.objects.rollback_due().values("pk")
            return queryset.filter(pk__in=due)
        return None
