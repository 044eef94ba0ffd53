"""System checks of the voucher admin's settings (``voucherify.E030``-``E031``)."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register("voucherify")
def check_voucher_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from ..conf import raw_settings

    try:
        values = raw_settings()
    except Exception:  # reported as voucherify.E000 by the main check
        return []
    problems: list[checks.CheckMessage] = []
    limit = values.get("VOUCHER_ACTION_INLINE_LIMIT")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        problems.append(checks.Error(
            f"settings.VOUCHERIFY['VOUCHER_ACTION_INLINE_LIMIT'] must be an integer >= 0 (got {limit!r}).",
            hint="Admin actions on more vouchers than this run in Celery; 20 is the default, "
                 "0 sends every action to Celery.",
            id="voucherify.E030",
        ))  # fmt: skip
    wait = values.get("VOUCHER_RATE_LIMIT_WAIT")
    if not isinstance(wait, int | float) or isinstance(wait, bool) or wait < 0:
        problems.append(checks.Error(
            f"settings.VOUCHERIFY['VOUCHER_RATE_LIMIT_WAIT'] must be a number of seconds >= 0 "
            f"(got {wait!r}).",
            hint="The longest Retry-After an admin request waits out; keep it short (5 s default).",
            id="voucherify.E031",
        ))  # fmt: skip
    return problems
