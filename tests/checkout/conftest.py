"""Fixtures of the checkout tests: the in-process sandbox, eager Celery, short checkout timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache

from tests.support import adversary
from tests.support.checkout import CHECKOUT_TEST_OPTIONS
from tests.support.sandbox import wired


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """The in-process sandbox (``.calls`` logs every request), eager Celery and the checkout
    test options (:data:`~tests.support.checkout.CHECKOUT_TEST_OPTIONS`)."""
    with wired(voucherify_sandbox, **CHECKOUT_TEST_OPTIONS) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _clear_throttles() -> Iterator[None]:
    """Throttle counters live in the cache: every test starts and ends with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ann(django_user_model: Any, db: Any) -> Any:
    """A shopper, user ``ann``, with her customer mirror (``user-ann``)."""
    from django_voucherify.models import Customer

    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    Customer.objects.create(source_id="user-ann", email="ann@example.com", user=user)
    return user


@pytest.fixture
def shopper(ann: Any) -> tuple[Any, Any]:
    """A signed-in shopper (user ``ann``, :func:`ann`) and her order ``ORD-API``."""
    from django_voucherify.models import Customer, Order

    order = Order.objects.create(source_id="ORD-API", amount=8000, customer=Customer.objects.get(user=ann))
    return ann, order


@pytest.fixture
def clock(sandbox: Any) -> Iterator[adversary.Clock]:
    """Time that jumps when told (:meth:`~tests.support.adversary.Clock.advance`): Django's
    ``timezone.now`` and the sandbox's clock together."""
    clock = adversary.Clock(sandbox).install()
    yield clock
    clock.uninstall()


@pytest.fixture
def sweep_after(clock: adversary.Clock) -> Callable[[float], None]:
    """``sweep_after(seconds)``: that much time passes, then the periodic sweep runs."""
    from django_voucherify.tasks.checkout import checkout_sweep

    def sweep_after(seconds: float) -> None:
        clock.advance(seconds)
        checkout_sweep()

    return sweep_after
