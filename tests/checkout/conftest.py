"""Fixtures of the checkout tests: the in-process sandbox, eager Celery, short checkout timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from tests.sync.conftest import CallLog


def checkout_conf(**overrides: Any) -> dict[str, Any]:
    conf = dict(settings.VOUCHERIFY)
    conf.update(
        MAX_RETRIES=0,
        CHECKOUT_TIMEOUT=0.5,
        CHECKOUT_RECONCILE_GRACE=0,
        CHECKOUT_ROLLBACK_BACKOFF=0.01,
        CHECKOUT_ROLLBACK_BACKOFF_MAX=0.05,
        SYNC_ENABLED=False,
    )
    conf.update(overrides)
    return conf


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """The in-process sandbox (``.calls`` logs every request), eager Celery, 0.5 s checkout
    timeout, no reconcile grace, fast rollback retries, sync off (only checkout calls counted)."""
    log = CallLog()
    voucherify_sandbox.response_listeners.append(log)
    voucherify_sandbox.calls = log
    with override_settings(VOUCHERIFY=checkout_conf()):
        import django_voucherify

        django_voucherify.reset_client()
        voucherify_sandbox.mount(django_voucherify.get_client().transport.session)
        yield voucherify_sandbox


def make_voucher(
    code: str, *, amount_off: int = 500, quantity: int | None = None, **extra: Any
) -> dict[str, Any]:
    from django_voucherify import client

    data: dict[str, Any] = {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "AMOUNT", "amount_off": amount_off},
        **extra,
    }
    if quantity is not None:
        data["redemption"] = {"quantity": quantity}
    return client.vouchers.create(code, data)


def redemptions_of(sandbox: Any, marker: str | None = None) -> list[dict[str, Any]]:
    """Successful, non-parent redemptions the sandbox holds (optionally for one ledger row)."""
    from django_voucherify.models.ledger import REFERENCE_METADATA_KEY

    return [
        r
        for r in sandbox.state.redemptions.values()
        if r.get("result") == "SUCCESS"
        and r.get("related_object_type") == "voucher"
        and (marker is None or (r.get("metadata") or {}).get(REFERENCE_METADATA_KEY) == marker)
    ]


@contextmanager
def checkout_settings(sandbox: Any, **overrides: Any) -> Iterator[None]:
    """Override checkout options; the rebuilt shared client is pointed at ``sandbox`` again."""
    with override_settings(VOUCHERIFY=checkout_conf(**overrides)):
        import django_voucherify

        sandbox.mount(django_voucherify.get_client().transport.session)
        yield
    import django_voucherify

    sandbox.mount(django_voucherify.get_client().transport.session)
