"""Enable, disable, delete (to Voucherify's bin) and delete permanently, voucher by voucher.

Each call's response updates the mirror (a deleted voucher's mirror row goes away), and each
voucher gets its own :class:`VoucherResult`, so one failure never hides the others' outcome.

Rate limits: the client does not repeat a POST on 429 (it cannot know every POST is safe), but
a 429 means Voucherify did nothing, so :func:`run` repeats the call itself after the delay asked
for when it is at most ``max_wait`` seconds; a longer delay stops the run and hands back the
codes not yet done (``RunOutcome.remaining``) for a Celery task to resume at ``retry_after``.

Outages: with ``stop_when_unreachable`` (the admin's inline runs, where a person waits) the run
ends at the first voucher Voucherify did not answer for (timeout, connection error, 5xx) and
hands back the codes not tried (``RunOutcome.not_sent``): each of them would wait as long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import DatabaseError, router, transaction
from django.utils.translation import gettext_lazy as _

from .. import background
from ..api.errors import NotFoundError, VoucherifyError
from ..models import Voucher
from .refresh import store
from .results import VoucherResult, failure, unexpected_failure

logger = logging.getLogger("django_voucherify.vouchers")

#: Attempts per voucher on 429 before the run stops and hands over the rest.
RATE_LIMIT_ATTEMPTS = 3


class Action(StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"
    DELETE = "delete"
    DELETE_PERMANENTLY = "delete_permanently"

    @property
    def label(self) -> str:
        return str(LABELS[self])

    @property
    def permission(self) -> str:
        """The codename (app ``django_voucherify``) a user needs to run this action."""
        return "change_voucher_state" if self in (Action.ENABLE, Action.DISABLE) else "delete_voucher_remote"


LABELS = {
    Action.ENABLE: _("Enable"),
    Action.DISABLE: _("Disable"),
    Action.DELETE: _("Delete (move to Voucherify's bin)"),
    Action.DELETE_PERMANENTLY: _("Delete permanently"),
}


@dataclass
class RunOutcome:
    """Per-voucher results; ``remaining`` codes were not tried because of a long 429."""

    results: list[VoucherResult] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    retry_after: float | None = None
    #: Codes not tried because Voucherify could not be reached (``stop_when_unreachable``).
    not_sent: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> list[VoucherResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[VoucherResult]:
        return [r for r in self.results if not r.ok]


def _client(client: Any) -> Any:
    if client is None:
        from .. import client as shared_client

        return shared_client
    return client


def apply(action: Action, code: str, *, client: Any = None) -> VoucherResult:
    """Run ``action`` on one voucher in Voucherify and update its mirror from the answer."""
    api = _client(client)
    try:
        if action in (Action.ENABLE, Action.DISABLE):
            store(dict(getattr(api.vouchers, action.value)(code)))
        else:
            api.vouchers.delete(code, force=action == Action.DELETE_PERMANENTLY)
            Voucher.objects.filter(code=code).delete()
    except VoucherifyError as exc:
        result = failure(code, exc)
        if isinstance(exc, NotFoundError):
            # Voucherify has no such voucher any more: the mirror is stale, drop it.
            Voucher.objects.filter(code=code).delete()
        elif not result.rate_limited:
            record_error(result)
        return result
    except Exception as exc:  # not Voucherify's answer: this voucher's failure, never the run's
        if _caller_transaction_broken(exc):
            raise
        return _unexpected(action, code, exc)
    return VoucherResult(code=code, ok=True)


def _caller_transaction_broken(exc: Exception) -> bool:
    """A database error inside the caller's transaction (an ``ATOMIC_REQUESTS`` view): on
    PostgreSQL every later query of it fails, so the next vouchers would be changed in
    Voucherify and none recorded, and whatever was recorded is rolled back. The run stops
    there: the error reaches the caller (outside a transaction, the background task's case,
    the voucher's failure is recorded and the run goes on)."""
    using = router.db_for_write(Voucher)
    return isinstance(exc, DatabaseError) and transaction.get_connection(using).in_atomic_block


def _unexpected(action: Action, code: str, exc: Exception) -> VoucherResult:
    """A bug on an odd answer, a database error: logged once (one line, secrets masked, no
    traceback), kept on the voucher's mirror like a refusal; the run goes on with the next
    voucher (a background run used to stop there, the rest of its selection never run)."""
    background.log_unexpected(logger, f"Voucherify {action.value} of voucher {code} failed unexpectedly", exc)
    result = unexpected_failure(code, exc)
    try:
        record_error(result)
    except Exception as again:  # the database is down too: the result still says it
        background.log_unexpected(logger, f"Voucherify {action.value} of voucher {code}: not recorded", again)
    return result


def record_error(result: VoucherResult) -> None:
    """Keep a failure on the mirror, where the admin shows it (background runs have no page)."""
    Voucher.objects.filter(code=result.code).update(
        last_error=result.message, last_error_key=result.key, last_request_id=result.request_id
    )


#: What a voucher of a background run says when the run's user may no longer run it.
NOT_PERMITTED = _(
    "Not done: the user who started this action may no longer run it (deleted, inactive, no "
    "longer staff or without the permission)."
)


def record_not_permitted(codes: Sequence[str]) -> None:
    """Say on each of ``codes`` (one UPDATE: a list is at most a page, or what a 429 left over)
    that a background run stopped before them because its user may no longer run it."""
    Voucher.objects.filter(code__in=list(codes)).update(
        last_error=str(NOT_PERMITTED), last_error_key="not_permitted", last_request_id=""
    )


def rate_limited(code: str) -> VoucherResult:
    """The result of a voucher a run gave up on because Voucherify kept answering 429."""
    return VoucherResult(
        code=code,
        ok=False,
        key="too_many_requests",
        message=str(_("Voucherify's rate limit was hit; try again shortly.")),
    )


def run(
    action: Action,
    codes: Sequence[str],
    *,
    max_wait: float,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    stop_when_unreachable: bool = False,
) -> RunOutcome:
    """Apply ``action`` to every code in order; see the module docstring for 429 handling and
    outages."""
    outcome = RunOutcome()
    for index, code in enumerate(codes):
        for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
            result = apply(action, code, client=client)
            if not result.rate_limited or attempt == RATE_LIMIT_ATTEMPTS:
                break
            assert result.retry_after is not None
            if result.retry_after > max_wait:
                break
            sleep(result.retry_after)
        if result.rate_limited:
            outcome.remaining = list(codes[index:])
            outcome.retry_after = result.retry_after
            return outcome
        outcome.results.append(result)
        if stop_when_unreachable and result.unreachable:
            outcome.not_sent = list(codes[index + 1 :])
            return outcome
    return outcome
