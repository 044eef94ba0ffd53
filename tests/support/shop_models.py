"""A shop's own model (app ``shop``, no table) for the sync registry's tests to map onto the
product and SKU mirrors. Defined once: Django refuses a second model of the same name."""

from __future__ import annotations

from django.db import models


class ShopItem(models.Model):
    code = models.CharField(max_length=20)
    title = models.CharField(max_length=50)

    class Meta:
        app_label = "shop"
        managed = False

    def __str__(self) -> str:
        return self.code
