"""Admin for the Voucherify mirrors: sync state, last error with ``request_id``, re-sync action.

One module per model group, so other features (vouchers...) add their own module here.
"""

from . import customers, jobs, ledger, orders, outbox, vouchers, webhooks  # noqa: F401
