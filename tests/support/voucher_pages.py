"""A fake client whose voucher list pages like Voucherify's, or answers page 1 to every page,
for the voucher refresh's tests of a walk that cannot be shown complete."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def paged_client(items: list[dict[str, Any]], *, total: int, repeat_first_page: bool = False) -> Any:
    """A client whose voucher list pages like Voucherify, or answers every page with page 1."""
    from django_voucherify.api.paging import iter_pages

    def list_page(page: int = 1, limit: int = 100, **params: Any) -> dict[str, Any]:
        if repeat_first_page:
            page = 1  # e.g. a cache ignoring the paging parameters
        return {"vouchers": items[(page - 1) * limit : page * limit], "total": total}

    return SimpleNamespace(
        vouchers=SimpleNamespace(
            list=list_page,
            iterate=lambda **params: iter_pages(
                list_page, "vouchers", params=params, date_filter="created_at"
            ),
        )
    )


def listed_vouchers(count: int) -> list[dict[str, Any]]:
    """``count`` vouchers as a list page holds them: ``V000``, ``V001``..."""
    return [
        {"id": f"v{i}", "code": f"V{i:03d}", "created_at": "2024-01-01T00:00:00.000Z"} for i in range(count)
    ]
