"""Fixtures of the voucher admin tests: the in-process sandbox with a call log, eager Celery, the
shared client on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import pytest

from tests.support.sandbox import options, wired
from tests.support.vouchers import make_voucher


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """Sandbox with ``calls``; client retries off so every injected fault is seen by our code."""
    with wired(voucherify_sandbox, MAX_RETRIES=0, VOUCHER_RATE_LIMIT_WAIT=0.05) as sandbox:
        yield sandbox


@pytest.fixture
def api(sandbox: Any) -> Any:
    """The shared client, on the sandbox."""
    import django_voucherify

    return django_voucherify.get_client()


@pytest.fixture
def voucherify_settings(sandbox: Any) -> Callable[..., AbstractContextManager[None]]:
    """``with voucherify_settings(KEY=value):`` overrides VOUCHERIFY keys, sandbox still mounted."""
    return partial(options, sandbox)


@pytest.fixture
def mirrored(sandbox: Any) -> Any:
    """``mirrored("A", "B", kind=...)`` creates vouchers in the sandbox and their mirrors."""
    from django_voucherify.vouchers.refresh import store

    def create(*codes: str, kind: str = "amount", **extra: Any) -> list[Any]:
        return [store(make_voucher(code, kind, **extra)) for code in codes]

    return create
