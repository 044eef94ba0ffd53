"""Objects of the campaign refresh (campaigns, promotion tiers, validation rules) that the
database cannot store: a NUL anywhere (PostgreSQL refuses it in text and JSON), a date that does
not exist, a value of the wrong shape (:func:`~django_voucherify.validation.applied_problem`).

One such object must not abort the walk (every later refresh would fail the same way): it is
skipped and counted in ``skipped``, logged with its id, and an existing mirror of it is kept as
it was, with the reason in ``last_error`` when the model has one, and marked seen (it exists in
Voucherify: the prune after a complete walk must not remove it).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext as _

logger = logging.getLogger("django_voucherify.vouchers")

#: ``last_error_key`` of a mirror whose newer copy could not be stored (the voucher refresh's).
KEY = "unstorable"


def skip(stats: dict[str, Any], what: str, ident: str, problem: str) -> None:
    """Count and log one object the walk skipped."""
    stats["skipped"] += 1
    logger.warning("Campaign refresh: skipped %s %a, which cannot be stored: %s", what, ident[:100], problem)


def keep(mirror: Any, problem: str, now: Any) -> None:
    """Mark an existing ``mirror`` (no save) seen by the walk, with the reason when it has a
    last-error field."""
    mirror.refreshed_at = now
    if hasattr(mirror, "last_error"):
        mirror.last_error = (
            _("Voucherify's copy of this object cannot be stored here: %(problem)s") % {"problem": problem}
        )[:2000]
        mirror.last_error_key = KEY
