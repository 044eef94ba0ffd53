"""Voucher management services: the admin, tasks and ``voucherify_pull vouchers`` call these.

::

    from django_voucherify import vouchers

    vouchers.refresh_all()                                # mirror every voucher
    outcome = vouchers.run(vouchers.Action.DISABLE, ["A", "B"], max_wait=30)

- :mod:`.refresh`: mirror every voucher from Voucherify (``refresh_all``) or one (``refresh_one``)
- :mod:`.editing`: create, update, balance adjustment, a voucher's transactions and redemptions
- :mod:`.actions`: enable, disable, delete, delete permanently, with per-voucher results
"""

from .actions import Action, RunOutcome, apply, run
from .editing import Activity, BalanceAlreadyApplied, activity, adjust_balance, create, update
from .refresh import refresh_all, refresh_one
from .results import VoucherResult

__all__ = [
    "Action",
    "Activity",
    "BalanceAlreadyApplied",
    "RunOutcome",
    "VoucherResult",
    "activity",
    "adjust_balance",
    "apply",
    "create",
    "refresh_all",
    "refresh_one",
    "run",
    "update",
]
