"""Fixtures of the voucher admin tests: the in-process sandbox with a call log, eager Celery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from tests.sync.conftest import CallLog


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """Sandbox with ``calls``; client retries off so every injected fault is seen by our code."""
    log = CallLog()
    voucherify_sandbox.response_listeners.append(log)
    voucherify_sandbox.calls = log
    conf = dict(settings.VOUCHERIFY)
    conf.update(MAX_RETRIES=0, VOUCHER_RATE_LIMIT_WAIT=0.05)
    with override_settings(VOUCHERIFY=conf):
        import django_voucherify

        django_voucherify.reset_client()
        voucherify_sandbox.mount(django_voucherify.get_client().transport.session)
        yield voucherify_sandbox


@pytest.fixture
def voucherify_settings(sandbox: Any) -> Any:
    """``with voucherify_settings(KEY=value):`` overrides VOUCHERIFY keys, sandbox still mounted."""
    from contextlib import contextmanager

    import django_voucherify

    @contextmanager
    def override(**values: Any) -> Iterator[None]:
        with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, **values}):
            django_voucherify.reset_client()
            sandbox.mount(django_voucherify.get_client().transport.session)
            yield
        django_voucherify.reset_client()  # back to the test's settings, still on the sandbox
        sandbox.mount(django_voucherify.get_client().transport.session)

    return override


def make(client: Any, code: str, kind: str = "amount", **extra: Any) -> dict[str, Any]:
    """Create a voucher in the sandbox through the client (``kind``: amount, percent, gift...)."""
    bodies = {
        "amount": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}},
        "percent": {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 20, "amount_limit": 1000},
        },
        "gift": {"type": "GIFT_VOUCHER", "gift": {"amount": 10000}},
        "loyalty": {"type": "LOYALTY_CARD", "loyalty_card": {"points": 100}},
    }
    return dict(client.vouchers.create(code, {**bodies[kind], **extra}))


@pytest.fixture
def mirrored(sandbox: Any) -> Any:
    """``mirrored("A", "B", kind=...)`` creates vouchers in the sandbox and their mirrors."""
    from django_voucherify import client
    from django_voucherify.vouchers.refresh import store

    def create(*codes: str, kind: str = "amount", **extra: Any) -> list[Any]:
        return [store(make(client, code, kind, **extra)) for code in codes]

    return create
