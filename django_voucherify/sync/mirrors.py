"""What shop code and pulls do to the mirrors beyond a plain save or delete.

- :func:`erase_customer`: a data-erasure request; the customer is deleted here and permanently
  in Voucherify (``permanent-deletion``) whatever ``SYNC_PERMANENT_DELETE`` says.
- :func:`muted`: write mirrors without queueing anything (data that came FROM Voucherify).

The receivers (:mod:`.receivers`) read both marks; this module holds them so that the public
functions do not live in a module of receivers. ``muted`` itself lives with the mirrors'
querysets (:mod:`django_voucherify.models.sync_state`), which read it before a bulk write.
"""

from __future__ import annotations

from django.db import router, transaction

from ..models.customers import Customer
from ..models.sync_state import is_muted, muted

__all__ = ["ERASE_MARK", "erase_customer", "is_muted", "muted"]

#: Set on an instance deleted through :func:`erase_customer`; the delete receiver reads it.
ERASE_MARK = "_voucherify_erase"


def erase_customer(customer: Customer) -> None:
    """Delete ``customer`` here and PERMANENTLY in Voucherify (a data-erasure request)."""
    setattr(customer, ERASE_MARK, True)
    with transaction.atomic(using=router.db_for_write(Customer)):
        customer.delete()
