"""Review 20's reproductions reuse the checkout area's fixtures (in-process sandbox, eager
Celery, throttle counters cleared)."""

from tests.checkout.conftest import _clear_throttles, sandbox, shopper

__all__ = ["_clear_throttles", "sandbox", "shopper"]
