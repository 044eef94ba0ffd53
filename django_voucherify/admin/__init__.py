"""Admin for the Voucherify mirrors: sync state, last error with ``request_id``, re-sync action.

One module per model group, so other features (vouchers...) add their own module here.

Importing the admin (Django's autodiscovery, at every start-up) registers the ModelAdmins and
nothing more: the services behind the actions (jobs, checkout, the voucher task and with it
Celery, the client and with it requests) are imported inside the actions and views that use
them. ``tests/test_startup.py`` fails if start-up imports the client, requests, urllib3 or Celery.
"""

from . import (  # noqa: F401
    campaigns,
    customers,
    jobs,
    ledger,
    orders,
    outbox,
    overview,
    products,
    promotion_tiers,
    validation_rules,
    vouchers,
    webhooks,
)
