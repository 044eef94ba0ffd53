"""Fixtures of the checkout tests: the in-process sandbox, eager Celery, short checkout timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.checkout import CHECKOUT_TEST_OPTIONS
from tests.support.sandbox import wired


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """The in-process sandbox (``.calls`` logs every request), eager Celery and the checkout
    test options (:data:`~tests.support.checkout.CHECKOUT_TEST_OPTIONS`)."""
    with wired(voucherify_sandbox, **CHECKOUT_TEST_OPTIONS) as sandbox:
        yield sandbox
