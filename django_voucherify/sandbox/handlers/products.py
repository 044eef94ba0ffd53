"""Products and their SKUs: create (upsert), get, update, delete (bin or ``force``), list.

- ``productId`` / ``skuId`` in paths accept the Voucherify id or the source id (the spec's
  parameter descriptions); ``/v1/skus/{skuId}`` looks the SKU up in the whole catalog.
- Create is an upsert (the spec's "Upsert Mode"): an ``id`` (which must exist, 404 otherwise)
  or a known ``source_id`` updates that object with the given fields.
- ``source_id`` is unique among products and among SKUs (all products' SKUs together). A delete
  without ``force`` moves the object (a product with all its SKUs) to the bin, and its source id
  stays taken (409 ``duplicate_found``) until a forced delete of the same source id.
- A SKU's ``attributes`` keys must be among its product's ``attributes`` (400 otherwise): the
  spec's SKU import says they "must be defined in the product beforehand"; the sandbox holds the
  JSON API to the same rule.
- Lists are newest first by default (``order``: ``created_at``, ``updated_at``, either with
  ``-``); ``start_date`` / ``end_date`` bound ``created_at`` (inclusive); ``limit`` 1..100,
  ``page`` 1..99.
- Metadata given to create/update replaces the stored metadata as a whole (as a customer's).
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.catalog import CATALOG_ORDERS, Catalog, catalog
from django_voucherify.sandbox.errors import duplicate_found, invalid_payload, not_found
from django_voucherify.sandbox.listing import Window, date_param, int_param, parse_order, select
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, no_content, ok, route
from django_voucherify.sandbox.state import SandboxState
from django_voucherify.sandbox.store import indexed, micros

JSON = dict[str, Any]

PRODUCT_FIELDS = ("name", "price", "attributes", "image_url", "metadata")
SKU_FIELDS = ("sku", "price", "currency", "attributes", "image_url", "metadata")
ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at")


def _check_types(body: JSON, strings: tuple[str, ...]) -> None:
    """The types the request schema already checks, again for bodies that bypass it (bulk items,
    CSV rows and the sync's own calls all come here)."""
    for key in strings:
        if body.get(key) is not None and not isinstance(body[key], str):
            raise invalid_payload(f"{key} must be a string")
    price = body.get("price")
    if price is not None and (isinstance(price, bool) or not isinstance(price, int)):
        raise invalid_payload("price must be an integer")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise invalid_payload("metadata must be an object")


def validate_product(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise invalid_payload("product must be an object")
    _check_types(body, ("id", "source_id", "name", "image_url"))
    attrs = body.get("attributes")
    if attrs is not None and (not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs)):
        raise invalid_payload("attributes must be an array of strings")
    return body


def validate_sku(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise invalid_payload("sku must be an object")
    _check_types(body, ("id", "source_id", "sku", "currency", "image_url"))
    if body.get("attributes") is not None and not isinstance(body["attributes"], dict):
        raise invalid_payload("attributes must be an object")
    return body


def _apply(state: SandboxState, obj: JSON, body: JSON, fields: tuple[str, ...], *, new: bool) -> bool:
    """Copy the given ``fields`` of ``body`` onto ``obj``; stamp ``updated_at`` on a change."""
    changed = False
    for key in fields:
        if key in body:
            value = body[key]
            if value is None and key in ("attributes", "metadata"):
                value = [] if key == "attributes" and obj["object"] == "product" else {}
            if obj.get(key) != value:
                obj[key] = value
                changed = True
    if changed and not new:
        obj["updated_at"] = state.now_iso()
    return changed


def upsert_product(state: SandboxState, body: JSON) -> JSON:
    """Create or update a product (create-product's upsert, bulk updates, imports, sync)."""
    cat = catalog(state)
    validate_product(body)
    if body.get("id"):
        product = cat.products.get(str(body["id"]))
        if product is None:
            raise not_found("product", str(body["id"]))
    elif body.get("source_id") is not None:
        product = cat.products.get(cat.product_ids_by_source.get(body["source_id"], ""))
    else:
        product = None
    if product is None:
        cat.reserve("product", body.get("source_id"))
        product = {
            "id": state.new_id("prod_"),
            "source_id": body.get("source_id"),
            "name": None,
            "price": None,
            "attributes": [],
            "metadata": {},
            "image_url": None,
            "created_at": state.now_iso(),
            "updated_at": None,
            "object": "product",
        }
        _apply(state, product, body, PRODUCT_FIELDS, new=True)
    else:
        if "attributes" in body:  # checked before anything changes
            _check_sku_attributes_kept(cat, product, body["attributes"] or [])
        _apply(state, product, body, PRODUCT_FIELDS, new=False)
    cat.put_product(product)
    return product


def _check_sku_attributes_kept(cat: Catalog, product: JSON, attributes: list[str]) -> None:
    """A product's attribute list cannot drop a name one of its SKUs still sets."""
    names = set(attributes)
    for sku_id in cat.skus_of.get(product["id"], {}):
        missing = set(cat.skus[sku_id].get("attributes") or {}) - names
        if missing:
            raise invalid_payload(
                f"attributes: SKU {sku_id} sets {', '.join(sorted(missing))}, "
                "not among the product's attributes"
            )


def upsert_sku(state: SandboxState, product: JSON, body: JSON) -> JSON:
    """Create or update a SKU of ``product`` (create-sku's upsert, the SKU import, sync)."""
    cat = catalog(state)
    validate_sku(body)
    sku: JSON | None
    if body.get("id"):
        sku = cat.skus.get(str(body["id"]))
        if sku is None:
            raise not_found("sku", str(body["id"]))
    elif body.get("source_id") is not None:
        sku = cat.skus.get(cat.sku_ids_by_source.get(body["source_id"], ""))
    else:
        sku = None
    if sku is not None and sku["product_id"] != product["id"]:
        # source ids are unique in the whole catalog: another product's SKU is not moved
        raise duplicate_found("sku", str(body.get("source_id") or body.get("id")))
    attrs = body.get("attributes") or {}
    undefined = set(attrs) - set(product.get("attributes") or [])
    if undefined:
        raise invalid_payload(
            f"attributes: {', '.join(sorted(undefined))} not among the product's attributes"
        )
    if sku is None:
        cat.reserve("sku", body.get("source_id"))
        sku = {
            "id": state.new_id("sku_"),
            "source_id": body.get("source_id"),
            "product_id": product["id"],
            "sku": None,
            "price": None,
            "currency": None,
            "attributes": {},
            "image_url": None,
            "metadata": {},
            "created_at": state.now_iso(),
            "updated_at": None,
            "object": "sku",
        }
        _apply(state, sku, body, SKU_FIELDS, new=True)
    else:
        _apply(state, sku, body, SKU_FIELDS, new=False)
    cat.put_sku(sku)
    return sku


def _force(req: SandboxRequest) -> bool:
    raw = req.query.get("force")
    if raw in (None, "", "false"):
        return False
    if raw == "true":
        return True
    raise invalid_payload("force must be true or false")


def _page(req: SandboxRequest, coll: Any, default: str = "-created_at") -> tuple[list[JSON], int]:
    """The requested page of ``coll`` (an IndexedDict) and the total it was cut from."""
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 99)
    field, descending = parse_order(q.get("order") or default, ORDERS, default)
    windows = []
    if q.get("start_date"):
        start = micros(date_param(q["start_date"], "start_date"))
        windows.append(Window("created_at", after=start - 1))
    if q.get("end_date"):
        end = micros(date_param(q["end_date"], "end_date"))
        windows.append(Window("created_at", before=end + 1))
    selection = select(coll, field, descending, windows)
    return selection.page(page, limit), selection.total


# ---- products -------------------------------------------------------------------------------


@route("GET", "/v1/products", operation_id="list-products")
def list_products(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    products, total = _page(req, cat.products)
    return ok(
        {
            "object": "list",
            "data_ref": "products",
            "products": [cat.product_view(p) for p in products],
            "total": total,
        }
    )


@route("POST", "/v1/products", operation_id="create-product")
def create_product(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(catalog(state).product_view(upsert_product(state, req.json_object())))


@route("GET", "/v1/products/{productId}", operation_id="get-product")
def get_product(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    return ok(cat.product_view(cat.product_or_404(req.path_params["productId"])))


@route("PUT", "/v1/products/{productId}", operation_id="update-product")
def update_product(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    product = cat.product_or_404(req.path_params["productId"])
    body = validate_product(req.json_object())
    changes = {k: body[k] for k in PRODUCT_FIELDS if k in body}  # identity comes from the path
    return ok(cat.product_view(upsert_product(state, {**changes, "id": product["id"]})))


@route("DELETE", "/v1/products/{productId}", operation_id="delete-product")
def delete_product(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    force = _force(req)
    cat.remove_product(cat.product_or_404(req.path_params["productId"]), force=force)
    return no_content()


# ---- SKUs -----------------------------------------------------------------------------------


@route("GET", "/v1/skus/{skuId}", operation_id="get-sku")
def get_sku(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(catalog(state).sku_or_404(req.path_params["skuId"]))


@route("GET", "/v1/products/{productId}/skus", operation_id="list-SKUs-in-product")
def list_skus(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    product = cat.product_or_404(req.path_params["productId"])
    # A product has few SKUs: its own little index, built per request from its SKU ids.
    own = indexed(CATALOG_ORDERS, {i: cat.skus[i] for i in cat.skus_of.get(product["id"], {})})
    skus, total = _page(req, own)
    return ok({"object": "list", "data_ref": "skus", "skus": skus, "total": total})


@route("POST", "/v1/products/{productId}/skus", operation_id="create-sku")
def create_sku(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    product = catalog(state).product_or_404(req.path_params["productId"])
    return ok(upsert_sku(state, product, req.json_object()))


def _own_sku(state: SandboxState, req: SandboxRequest) -> tuple[JSON, JSON]:
    cat = catalog(state)
    product = cat.product_or_404(req.path_params["productId"])
    sku = cat.find_sku(req.path_params["skuId"])
    if sku is None or sku["product_id"] != product["id"]:
        raise not_found("sku", req.path_params["skuId"])
    return product, sku


@route("PUT", "/v1/products/{productId}/skus/{skuId}", operation_id="update-sku")
def update_sku(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    product, sku = _own_sku(state, req)
    body = validate_sku(req.json_object())
    # "Fields other than the ones listed in the request body schema ... will be silently skipped."
    changes = {k: body[k] for k in SKU_FIELDS if k in body}
    return ok(upsert_sku(state, product, {**changes, "id": sku["id"]}))


@route("DELETE", "/v1/products/{productId}/skus/{skuId}", operation_id="delete-sku")
def delete_sku(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    force = _force(req)
    _, sku = _own_sku(state, req)
    catalog(state).remove_sku(sku, force=force)
    return no_content()
