"""``client.categories``: the Categories API group (labels of vouchers, campaigns and tiers,
whose hierarchy orders them in stacking)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ..endpoints import endpoint
from ..transport import encode_path as p
from ..types import Category
from .base import Resource


class Categories(Resource):
    namespace = "categories"

    @endpoint("list-categories", "GET", "/v1/categories")
    def list(self) -> dict[str, Any]:
        """Every category, in one answer (``GET /v1/categories`` takes no paging parameters)."""
        return cast(dict[str, Any], self._get("/v1/categories"))

    @endpoint("create-category", "POST", "/v1/categories")
    def create(self, name: str, hierarchy: int) -> Category:
        """``POST /v1/categories``; categories with a lower ``hierarchy`` are processed first."""
        return cast(Category, self._post("/v1/categories", {"name": name, "hierarchy": hierarchy}))

    @endpoint("get-category", "GET", "/v1/categories/{categoryId}")
    def get(self, category_id: str) -> Category:
        """``GET /v1/categories/{categoryId}``."""
        return cast(Category, self._get(p("/v1/categories/{}", category_id)))

    @endpoint("update-category", "PUT", "/v1/categories/{categoryId}")
    def update(self, category_id: str, changes: Mapping[str, Any]) -> Category:
        """``PUT /v1/categories/{categoryId}``: ``name``, ``hierarchy``."""
        return cast(Category, self._put(p("/v1/categories/{}", category_id), dict(changes)))

    @endpoint("delete-category", "DELETE", "/v1/categories/{categoryId}")
    def delete(self, category_id: str) -> None:
        """``DELETE /v1/categories/{categoryId}``."""
        self._delete(p("/v1/categories/{}", category_id))
