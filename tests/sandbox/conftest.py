"""Sandbox test fixtures. Every response of every Sandbox is checked against the spec by the
suite-wide hook in tests/conftest.py (tests/support/spec.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django_voucherify.sandbox.app import Sandbox
from tests.support.sandbox import Api


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


@pytest.fixture
def coupon_campaign(api: Api) -> Callable[[int], dict[str, Any]]:
    """Make a STATIC discount-coupons campaign of ``count`` codes (100 off each) in ``api``'s
    sandbox and wait for its generation job: the set-up of the campaign job tests."""

    def make(count: int = 0) -> dict[str, Any]:
        r = api.post(
            "/v1/campaigns",
            json={
                "name": f"Coupons {api.state.new_id('n', 6)}",
                "campaign_type": "DISCOUNT_COUPONS",
                "type": "STATIC",
                "vouchers_count": count,
                "voucher": {"discount": {"type": "AMOUNT", "amount_off": 100}, "code_config": {"length": 10}},
            },
        )
        assert r.status_code == 200, r.text
        api.sandbox.wait_for_jobs(timeout=60)
        body: dict[str, Any] = r.json()
        return body

    return make
