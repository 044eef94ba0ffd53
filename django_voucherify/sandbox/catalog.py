"""The product catalog's store: products, SKUs, categories and the catalog's bin.

Stored in ``state.extra["catalog"]`` (so ``--data`` persists it with the rest, as plain JSON):
``products`` (id -> product, without its ``skus``), ``skus`` (id -> SKU), ``categories``
(id -> category) and ``bin`` (product or SKU id -> the object deleted without ``force``, whose
``source_id`` stays reserved, as the spec's delete-product/delete-sku describe). Products and
SKUs are :class:`~django_voucherify.sandbox.store.IndexedDict` (sorted by ``created_at`` and
``updated_at``, so a page is two bisections). The derived lookups (by source id, the SKUs of a
product, category names) are kept in :class:`Catalog`, rebuilt from the stored dicts when a
state is loaded: every lookup a request makes is a dict access, never a scan of the catalog.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.errors import duplicate_found, not_found
from django_voucherify.sandbox.state import SandboxState
from django_voucherify.sandbox.store import IndexedDict, indexed, timestamp_of, timestamp_or

JSON = dict[str, Any]

# updated_at order: a never-updated object last changed when it was created.
CATALOG_ORDERS = {
    "created_at": timestamp_of("created_at"),
    "updated_at": timestamp_or("updated_at", "created_at"),
}


class Catalog:
    """The catalog of one state, with its derived indexes (call :func:`catalog` to get it)."""

    def __init__(self, raw: JSON) -> None:
        self.raw = raw
        self.products: IndexedDict = indexed(CATALOG_ORDERS, raw.get("products") or {})
        self.skus: IndexedDict = indexed(CATALOG_ORDERS, raw.get("skus") or {})
        raw["products"], raw["skus"] = self.products, self.skus
        self.categories: dict[str, JSON] = raw.setdefault("categories", {})
        self.bin: dict[str, JSON] = raw.setdefault("bin", {})
        self.product_ids_by_source = {
            p["source_id"]: i for i, p in self.products.items() if p.get("source_id")
        }
        self.sku_ids_by_source = {s["source_id"]: i for i, s in self.skus.items() if s.get("source_id")}
        self.skus_of: dict[str, dict[str, None]] = {pid: {} for pid in self.products}
        for sid, sku in self.skus.items():
            self.skus_of.setdefault(sku["product_id"], {})[sid] = None
        self.category_ids_by_name = {c["name"]: i for i, c in self.categories.items()}
        # (object, source id) -> the ids of the binned objects holding it: a forced delete
        # frees a source id without scanning the bin (review 17).
        self.binned_sources: dict[tuple[str, str], dict[str, None]] = {}
        for key, old in self.bin.items():
            if old.get("source_id"):
                self.binned_sources.setdefault((old["object"], old["source_id"]), {})[key] = None

    # ---- products ---------------------------------------------------------------------------
    def find_product(self, id_or_source_id: str) -> JSON | None:
        found = self.products.get(id_or_source_id)
        if found is None and id_or_source_id in self.product_ids_by_source:
            found = self.products.get(self.product_ids_by_source[id_or_source_id])
        return found

    def product_or_404(self, id_or_source_id: str) -> JSON:
        found = self.find_product(id_or_source_id)
        if found is None:
            raise not_found("product", id_or_source_id)
        return found

    def reserve(self, kind: str, source_id: Any) -> None:
        """409 when ``source_id`` belongs to a ``kind`` (product/sku) waiting in the bin."""
        if source_id is not None and (kind, source_id) in self.binned_sources:
            raise duplicate_found(kind, str(source_id))

    def put_product(self, product: JSON) -> None:
        self.products[product["id"]] = product
        self.skus_of.setdefault(product["id"], {})
        if product.get("source_id"):
            self.product_ids_by_source[product["source_id"]] = product["id"]

    def remove_product(self, product: JSON, *, force: bool) -> None:
        """Delete ``product`` and its SKUs: for good with ``force``, else into the bin."""
        for sku_id in list(self.skus_of.get(product["id"], {})):
            self.remove_sku(self.skus[sku_id], force=force)
        del self.products[product["id"]]
        self.skus_of.pop(product["id"], None)
        if product.get("source_id"):
            self.product_ids_by_source.pop(product["source_id"], None)
        self._bin(product, force)

    def product_view(self, product: JSON) -> JSON:
        """The product as the API shows it: with ``skus`` (a list object of all its SKUs)."""
        skus = [self.skus[i] for i in self.skus_of.get(product["id"], {})]
        return {**product, "skus": {"object": "list", "data_ref": "data", "data": skus, "total": len(skus)}}

    # ---- SKUs ---------------------------------------------------------------------------------
    def find_sku(self, id_or_source_id: str) -> JSON | None:
        found = self.skus.get(id_or_source_id)
        if found is None and id_or_source_id in self.sku_ids_by_source:
            found = self.skus.get(self.sku_ids_by_source[id_or_source_id])
        return found

    def sku_or_404(self, id_or_source_id: str) -> JSON:
        found = self.find_sku(id_or_source_id)
        if found is None:
            raise not_found("sku", id_or_source_id)
        return found

    def put_sku(self, sku: JSON) -> None:
        self.skus[sku["id"]] = sku
        self.skus_of.setdefault(sku["product_id"], {})[sku["id"]] = None
        if sku.get("source_id"):
            self.sku_ids_by_source[sku["source_id"]] = sku["id"]

    def remove_sku(self, sku: JSON, *, force: bool) -> None:
        del self.skus[sku["id"]]
        self.skus_of.get(sku["product_id"], {}).pop(sku["id"], None)
        if sku.get("source_id"):
            self.sku_ids_by_source.pop(sku["source_id"], None)
        self._bin(sku, force)

    def _bin(self, obj: JSON, force: bool) -> None:
        if force:
            # A forced delete also frees a source id an earlier delete left in the bin (only a
            # source id: objects without one were all purged by a scan that compared None).
            if obj.get("source_id"):
                for key in self.binned_sources.pop((obj["object"], obj["source_id"]), {}):
                    self.bin.pop(key, None)
            return
        self.bin[obj["id"]] = obj
        if obj.get("source_id"):
            self.binned_sources.setdefault((obj["object"], obj["source_id"]), {})[obj["id"]] = None

    # ---- categories ---------------------------------------------------------------------------
    def category_or_404(self, category_id: str) -> JSON:
        found = self.categories.get(category_id)
        if found is None:
            raise not_found("category", category_id)
        return found


def catalog(state: SandboxState) -> Catalog:
    """The catalog of ``state`` (its indexes rebuilt once after a state was loaded)."""
    raw = state.extra.setdefault("catalog", {})
    current = state.transient.get("catalog")
    if not isinstance(current, Catalog) or current.raw is not raw:
        current = state.transient["catalog"] = Catalog(raw)
    return current
