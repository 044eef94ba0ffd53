"""System checks of the voucher admin's settings (``voucherify.E030``-``E031``)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from ..checks import number_problem


def check_voucher_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Problems in the voucher admin options (run by ``django_voucherify.checks``)."""
    from ..conf import raw_settings

    try:
        values = raw_settings()
    except Exception:  # reported as voucherify.E000 by the main check
        return []
    problems = [
        p
        for p in (
            number_problem(
                values,
                "VOUCHER_ACTION_INLINE_LIMIT",
                integer=True,
                check_id="voucherify.E030",
                hint="Admin actions on more vouchers than this run in Celery; 20 is the "
                "default, 0 sends every action to Celery.",
            ),
            number_problem(
                values,
                "VOUCHER_RATE_LIMIT_WAIT",
                check_id="voucherify.E031",
                hint="The longest Retry-After an admin request waits out; keep it short (5 s default).",
            ),
        )
        if p
    ]
    return problems
