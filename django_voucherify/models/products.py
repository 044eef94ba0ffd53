"""Mirrors of Voucherify products and SKUs (``source_id`` is the shop's identity of each).

A shop connects its own catalog models to these through :mod:`django_voucherify.sync.registry`
as it connects its users to ``Customer``; saving a mirror queues an upsert (``POST
/v1/products``, ``POST /v1/products/{product}/skus``, both upserts by ``source_id``), deleting
one queues a forced deletion (see docs/sync.md, "Product mirrors").
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from .sync_state import SyncedMirror

#: The columns a product's body is made of, in :func:`product_body`'s order (a bulk push reads
#: these only).
PRODUCT_BODY_FIELDS = ("source_id", "name", "price", "attributes", "image_url", "metadata", "placeholder")
SKU_BODY_FIELDS = ("source_id", "sku", "price", "currency", "attributes", "image_url", "metadata")


def product_body(
    source_id: str,
    name: str,
    price: int | None,
    attributes: list[str] | None,
    image_url: str,
    metadata: dict[str, Any] | None,
    placeholder: bool = False,
) -> dict[str, Any]:
    """The ``POST /v1/products`` body (one function for a saved instance and a push's rows).

    A placeholder (a product the registry made only because a SKU named it) knows nothing but
    its source id, and sends nothing else: an upsert with its blank fields would wipe the name,
    price, attributes and metadata of a product Voucherify already holds."""
    if placeholder:
        return {"source_id": source_id}
    return {
        "source_id": source_id,
        "name": name or None,
        "price": price,
        "attributes": list(attributes or []),
        "image_url": image_url or None,
        "metadata": dict(metadata or {}),
    }


def sku_body(
    source_id: str,
    sku: str,
    price: int | None,
    currency: str,
    attributes: dict[str, Any] | None,
    image_url: str,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ``POST /v1/products/{product}/skus`` body."""
    return {
        "source_id": source_id,
        "sku": sku or None,
        "price": price,
        "currency": currency or None,
        "attributes": dict(attributes or {}),
        "image_url": image_url or None,
        "metadata": dict(metadata or {}),
    }


class Product(SyncedMirror):
    """A product of the shop's catalog as Voucherify knows it."""

    source_id = models.CharField(_("source id"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    price = models.BigIntegerField(_("price (minor units)"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=list, blank=True)
    image_url = models.URLField(_("image URL"), max_length=500, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    #: Made by the registry for a SKU whose product the shop has not mapped (yet): only its
    #: source id is known and sent. Any save or mapping of the product's own values clears it.
    placeholder = models.BooleanField(_("placeholder"), default=False, editable=False)

    sync_kind = "product"
    #: Saved with values of its own (a save, a bulk write): no longer a placeholder.
    save_resets: ClassVar[dict[str, Any]] = {"placeholder": False}

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.name or self.source_id

    def to_voucherify(self) -> dict[str, Any]:
        return product_body(*(getattr(self, f) for f in PRODUCT_BODY_FIELDS))


class Sku(SyncedMirror):
    """A variant (SKU) of a :class:`Product`; its ``source_id`` is unique in the whole catalog,
    as Voucherify's."""

    source_id = models.CharField(_("source id"), max_length=200, unique=True)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="skus"
    )
    sku = models.CharField(_("SKU name"), max_length=200, blank=True)
    price = models.BigIntegerField(_("price (minor units)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    image_url = models.URLField(_("image URL"), max_length=500, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    sync_kind = "sku"

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")

    def __str__(self) -> str:
        return self.sku or self.source_id

    def to_voucherify(self) -> dict[str, Any]:
        return sku_body(*(getattr(self, f) for f in SKU_BODY_FIELDS))
