"""Mirrors of Voucherify customers and orders, and the sync outbox.

The sync signal receivers are connected in ``DjangoVoucherifyConfig.ready()``.
"""

from .admin_pages import Overview, RefreshState, RefreshSubject, VoucherRefreshRun
from .campaigns import Campaign, ValidationRule
from .customers import Customer
from .jobs import Job, JobFailedRow, JobKind, JobPart, JobState, JobSubmitLock, PartState
from .ledger import CheckoutRedemption, LedgerState
from .orders import Order, OrderItem, OrderStatus
from .outbox import OutboxAction, OutboxEntry, OutboxState
from .products import Product, Sku
from .promotion_tiers import PromotionTier
from .publications import CustomerPublication, PublicationState
from .sync_state import SyncedMirror, SyncState
from .vouchers import DiscountType, Voucher, VoucherType
from .webhooks import WebhookEvent, WebhookEventState

__all__ = [
    "Campaign",
    "CheckoutRedemption",
    "Customer",
    "CustomerPublication",
    "DiscountType",
    "Job",
    "JobFailedRow",
    "JobKind",
    "JobPart",
    "JobState",
    "JobSubmitLock",
    "LedgerState",
    "Order",
    "OrderItem",
    "OrderStatus",
    "OutboxAction",
    "OutboxEntry",
    "OutboxState",
    "Overview",
    "PartState",
    "Product",
    "PromotionTier",
    "PublicationState",
    "RefreshState",
    "RefreshSubject",
    "Sku",
    "SyncState",
    "SyncedMirror",
    "ValidationRule",
    "Voucher",
    "VoucherRefreshRun",
    "VoucherType",
    "WebhookEvent",
    "WebhookEventState",
]
