"""Voucherify webhooks: a signed endpoint, events stored once, processed in the background.

::

    # urls.py
    path("voucherify/webhooks/", include("django_voucherify.webhooks.urls")),

    # settings.py
    VOUCHERIFY = {..., "WEBHOOK_SECRETS": [env("VOUCHERIFY_WEBHOOK_SECRET")]}

- :mod:`.views`: the endpoint (signature, size, shape; stores, answers 202, calls nothing).
- :mod:`.events`: storing once, processing in a Celery task, retries, parking, the sweep.
- :mod:`.handlers`, :mod:`.ledger`: what each event type does to the mirrors and the ledger.
- :mod:`.signals`: one signal for every event, one per type, for shop code.
- :mod:`.signature`: Voucherify's signature (also used by the sandbox's sender in tests).

See docs/webhooks.md.
"""

from .events import process, record, reprocess
from .signals import signal_for, webhook_event
from .signature import sign, verify

__all__ = ["process", "record", "reprocess", "sign", "signal_for", "verify", "webhook_event"]
