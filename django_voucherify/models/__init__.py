"""Mirrors of Voucherify customers and orders, and the sync outbox.

Importing the models also connects the sync signal receivers
(:mod:`django_voucherify.sync.signals`), so the mirrors sync wherever the app is installed.
"""

from .customers import Customer
from .orders import Order, OrderItem, OrderStatus
from .outbox import OutboxAction, OutboxEntry, OutboxState, SyncCheckpoint
from .sync_state import SyncedMirror, SyncState

__all__ = [
    "Customer",
    "Order",
    "OrderItem",
    "OrderStatus",
    "OutboxAction",
    "OutboxEntry",
    "OutboxState",
    "SyncCheckpoint",
    "SyncState",
    "SyncedMirror",
]

from ..sync import signals as _sync_signals  # noqa: F401  (receivers on the models above)
