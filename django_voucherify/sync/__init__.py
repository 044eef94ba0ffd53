"""Keeping customer and order mirrors in step with Voucherify (flow 2 of docs/architecture.md).

::

    from django_voucherify import sync

    sync.resync(Customer.objects.filter(email__endswith="@example.com"))
    sync.erase_customer(customer)          # a data-erasure request
    sync.connect(ShopOrder, Order, order_to_mirror, delete=False)

- :mod:`.outbox`: write an outbox row in the saving transaction, enqueue on commit, re-drive.
- :mod:`.delivery`: send one entry (claim, HTTP outside any transaction, record the outcome).
- :mod:`.receivers`: the receivers on the mirror models.
- :mod:`.mirrors`: erase a customer; save mirrors without queueing anything (``muted``).
- :mod:`.registry`: connect a shop's own user/order models to the mirrors.
- :mod:`.bulk`: pull Voucherify's customers and orders into the mirrors (a push of the mirrors
  is a job: :func:`django_voucherify.jobs.push_mirrors`).
"""

from .bulk import forget_remote, pull, store_remote
from .mirrors import erase_customer, muted
from .outbox import redrive, resync
from .registry import connect, disconnect, refresh

__all__ = [
    "connect",
    "disconnect",
    "erase_customer",
    "forget_remote",
    "muted",
    "pull",
    "redrive",
    "refresh",
    "resync",
    "store_remote",
]
