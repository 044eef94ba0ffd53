"""Categories: create, get, update, delete, list.

Voucherify's categories are a flat list ordered by ``hierarchy`` ("categories with lower
hierarchy are processed before categories with higher hierarchy value"), so the list is sorted
by ``hierarchy`` and then by creation. ``name`` is unique (409 ``duplicate_found``); create
requires ``name`` and ``hierarchy`` (a non-negative integer); update changes the fields given.
A new category has no ``updated_at`` (the spec's create example), an updated one has it.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.catalog import Catalog, catalog
from django_voucherify.sandbox.errors import duplicate_found, invalid_payload
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, no_content, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _fields(body: JSON, *, required: bool) -> JSON:
    out: JSON = {}
    name, hierarchy = body.get("name"), body.get("hierarchy")
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise invalid_payload("name must be a non-empty string")
        out["name"] = name
    elif required:
        raise invalid_payload("name: property is required")
    if hierarchy is not None:
        if isinstance(hierarchy, bool) or not isinstance(hierarchy, int) or hierarchy < 0:
            raise invalid_payload("hierarchy must be a non-negative integer")
        out["hierarchy"] = hierarchy
    elif required:
        raise invalid_payload("hierarchy: property is required")
    return out


def _claim_name(cat: Catalog, name: str, category_id: str) -> None:
    owner = cat.category_ids_by_name.get(name)
    if owner is not None and owner != category_id:
        raise duplicate_found("category", name)


@route("GET", "/v1/categories", operation_id="list-categories")
def list_categories(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    ranked = list(enumerate(cat.categories.values()))  # dicts keep creation order
    data = [c for _, c in sorted(ranked, key=lambda pair: (pair[1]["hierarchy"], pair[0]))]
    return ok({"object": "list", "data_ref": "data", "data": data, "total": len(data)})


@route("POST", "/v1/categories", operation_id="create-category")
def create_category(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    fields = _fields(req.json_object(), required=True)
    category_id = state.new_id("cat_")
    _claim_name(cat, fields["name"], category_id)
    category: JSON = {
        "id": category_id,
        "name": fields["name"],
        "hierarchy": fields["hierarchy"],
        "created_at": state.now_iso(),
        "object": "category",
    }
    cat.categories[category_id] = category
    cat.category_ids_by_name[category["name"]] = category_id
    return ok(category)


@route("GET", "/v1/categories/{categoryId}", operation_id="get-category")
def get_category(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(catalog(state).category_or_404(req.path_params["categoryId"]))


@route("PUT", "/v1/categories/{categoryId}", operation_id="update-category")
def update_category(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    category = cat.category_or_404(req.path_params["categoryId"])
    fields = _fields(req.json_object(), required=False)
    if "name" in fields:
        _claim_name(cat, fields["name"], category["id"])
        cat.category_ids_by_name.pop(category["name"], None)
        cat.category_ids_by_name[fields["name"]] = category["id"]
    category.update(fields)
    category["updated_at"] = state.now_iso()
    return ok(category)


@route("DELETE", "/v1/categories/{categoryId}", operation_id="delete-category")
def delete_category(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cat = catalog(state)
    category = cat.category_or_404(req.path_params["categoryId"])
    del cat.categories[category["id"]]
    cat.category_ids_by_name.pop(category["name"], None)
    return no_content()
