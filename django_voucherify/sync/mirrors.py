"""What shop code and pulls do to the mirrors beyond a plain save or delete.

- :func:`erase_customer`: a data-erasure request; the customer is deleted here and permanently
  in Voucherify (``permanent-deletion``) whatever ``SYNC_PERMANENT_DELETE`` says.
- :func:`muted`: save mirrors without queueing anything (data that came FROM Voucherify).

The receivers (:mod:`.receivers`) read both marks; this module holds them so that the public
functions do not live in a module of receivers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import router, transaction

from ..models.customers import Customer

#: Set on an instance deleted through :func:`erase_customer`; the delete receiver reads it.
ERASE_MARK = "_voucherify_erase"

_state = threading.local()


@contextmanager
def muted() -> Iterator[None]:
    """Save mirrors without queueing anything (data that came FROM Voucherify)."""
    previous = getattr(_state, "muted", False)
    _state.muted = True
    try:
        yield
    finally:
        _state.muted = previous


def is_muted() -> bool:
    """Whether this thread is inside :func:`muted`."""
    return bool(getattr(_state, "muted", False))


def erase_customer(customer: Customer) -> None:
    """Delete ``customer`` here and PERMANENTLY in Voucherify (a data-erasure request)."""
    setattr(customer, ERASE_MARK, True)
    with transaction.atomic(using=router.db_for_write(Customer)):
        customer.delete()
