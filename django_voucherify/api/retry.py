"""When to retry a request, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Methods that can be repeated without changing the outcome (RFC 9110 idempotent methods).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Gateway failures: the request most likely never reached Voucherify's application.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by a count and a total time budget.

    ``max_retries`` extra attempts at most, and none that would start after ``budget`` seconds
    from the first attempt. Delays are ``uniform(0, min(backoff_max, backoff_base * 2**n))``
    (full jitter spreads retries of many clients apart), or exactly what a 429 asked for.
    """

    max_retries: int = 3
    budget: float = 20.0
    backoff_base: float = 0.25
    backoff_max: float = 8.0

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (0 for the first retry)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2**retry_number))
        return random.uniform(0, ceiling)

    def may_retry(self, method: str, *, status: int | None = None, request_sent: bool = True) -> bool:
        """Whether this failure of ``method`` may be repeated at all (budget aside).

        Idempotent methods are retried on transport errors and 429/502/503/504. Other methods
        (POST) only when the request provably never reached the server.
        """
        if method.upper() in IDEMPOTENT_METHODS:
            return status is None or status in RETRYABLE_STATUSES
        return status is None and not request_sent
