"""TypedDicts for the main Voucherify objects (names and fields from the OpenAPI spec).

``total=False`` throughout: the client returns the parsed JSON untouched, unknown fields kept,
so these describe what a shop can rely on without promising every key is present.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

VoucherType = Literal["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"]
AsyncStatus = Literal["ENQUEUED", "IN_PROGRESS", "DONE", "FAILED"]


class Discount(TypedDict, total=False):
    type: Literal["AMOUNT", "PERCENT", "FIXED", "UNIT", "SHIPPING"]
    amount_off: int
    percent_off: float
    amount_limit: int
    fixed_amount: int
    effect: str


class Gift(TypedDict, total=False):
    amount: int
    balance: int
    effect: str


class VoucherRedemptionCounters(TypedDict, total=False):
    quantity: int | None
    redeemed_quantity: int
    redeemed_amount: int
    object: str
    url: str


class Voucher(TypedDict, total=False):
    id: str
    code: str
    object: Literal["voucher"]
    type: VoucherType
    campaign: str | None
    campaign_id: str | None
    category: str | None
    category_id: str | None
    discount: Discount | None
    gift: Gift | None
    loyalty_card: dict[str, Any] | None
    start_date: str | None
    expiration_date: str | None
    validity_timeframe: dict[str, Any] | None
    validity_day_of_week: list[int] | None
    active: bool
    additional_info: str | None
    metadata: dict[str, Any]
    redemption: VoucherRedemptionCounters
    created_at: str
    updated_at: str | None


class VoucherTransaction(TypedDict, total=False):
    id: str
    source_id: str | None
    voucher_id: str
    campaign_id: str | None
    source: str | None
    reason: str | None
    type: str
    details: dict[str, Any]
    created_at: str


class Address(TypedDict, total=False):
    city: str | None
    state: str | None
    line_1: str | None
    line_2: str | None
    country: str | None
    postal_code: str | None


class Customer(TypedDict, total=False):
    id: str
    object: Literal["customer"]
    source_id: str | None
    name: str | None
    description: str | None
    email: str | None
    phone: str | None
    birthdate: str | None
    address: Address | None
    metadata: dict[str, Any]
    summary: dict[str, Any]
    loyalty: dict[str, Any]
    created_at: str
    updated_at: str | None


class OrderItem(TypedDict, total=False):
    sku_id: str
    product_id: str
    source_id: str
    related_object: Literal["product", "sku"]
    quantity: int
    price: int
    amount: int
    discount_amount: int
    metadata: dict[str, Any]


class Order(TypedDict, total=False):
    id: str
    object: Literal["order"]
    source_id: str | None
    status: Literal["CREATED", "PAID", "CANCELED", "FULFILLED"]
    amount: int
    initial_amount: int
    discount_amount: int
    items_discount_amount: int
    total_discount_amount: int
    total_amount: int
    applied_discount_amount: int
    items_applied_discount_amount: int
    total_applied_discount_amount: int
    items: list[OrderItem]
    metadata: dict[str, Any]
    customer_id: str | None
    redemptions: dict[str, Any]
    created_at: str
    updated_at: str | None


class Redemption(TypedDict, total=False):
    id: str
    object: Literal["redemption", "redemption_rollback"]
    date: str
    customer_id: str | None
    tracking_id: str | None
    metadata: dict[str, Any]
    amount: int
    redemption: str | None
    result: Literal["SUCCESS", "FAILURE"]
    status: Literal["SUCCEEDED", "FAILED", "ROLLED_BACK"]
    failure_code: str
    failure_message: str
    order: Order | None
    related_object_type: str
    related_object_id: str
    voucher: Voucher | None


class RedeemResult(TypedDict, total=False):
    redemptions: list[Redemption]
    parent_redemption: Redemption
    order: Order
    inapplicable_redeemables: list[dict[str, Any]]
    skipped_redeemables: list[dict[str, Any]]


class RollbackResult(TypedDict, total=False):
    id: str
    object: str
    result: str
    status: str
    redemption: str
    rollbacks: list[Redemption]
    parent_rollback: Redemption
    order: Order


class ValidationResult(TypedDict, total=False):
    id: str
    valid: bool
    redeemables: list[dict[str, Any]]
    skipped_redeemables: list[dict[str, Any]]
    inapplicable_redeemables: list[dict[str, Any]]
    order: Order
    tracking_id: str
    session: dict[str, Any]
    stacking_rules: dict[str, Any]


class AsyncActionCreated(TypedDict):
    async_action_id: str


class AsyncAction(TypedDict, total=False):
    id: str
    object: Literal["async_action"]
    type: str
    status: AsyncStatus
    operation_status: str
    progress: int
    result: dict[str, Any]
    request_id: str
    processing_time: int
    created_at: str
    updated_at: str | None


class Export(TypedDict, total=False):
    id: str
    object: Literal["export"]
    status: Literal["SCHEDULED", "IN_PROGRESS", "DONE", "ERROR"]
    exported_object: str
    parameters: dict[str, Any]
    result: dict[str, Any] | None
    user_id: str | None
    channel: str
    created_at: str
