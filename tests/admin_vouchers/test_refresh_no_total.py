"""The voucher refresh when ``list-vouchers`` answers a 2xx of another shape (``{}``: no
``vouchers``, no ``total``): no total, so nothing is removed. Review 20 found the walk ended at
once and, with no total to compare with, the refresh removed every voucher mirror (the same
hole as in the campaign refresh: tests/admin_campaigns/test_refresh_wrong_shape.py)."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.models import Voucher
from django_voucherify.vouchers import refresh

pytestmark = pytest.mark.django_db


class Blank:
    def __init__(self) -> None:
        class Vouchers:
            def list(self, **params: Any) -> dict[str, Any]:
                return {}

            def iterate(self, **params: Any) -> Any:
                return iter(())

        self.vouchers = Vouchers()


def test_a_voucher_list_without_a_total_removes_nothing(sandbox, api):
    api.vouchers.create(
        "KEEP-1", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
    )
    refresh.refresh_all()
    assert Voucher.objects.filter(code="KEEP-1").exists()
    stats = refresh.refresh_all(client=Blank())
    assert "no total" in stats["error"]
    assert Voucher.objects.filter(code="KEEP-1").exists()
