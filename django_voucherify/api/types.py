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


# --- SCOPE-2: the offers a shop runs ----------------------------------------------------------

CampaignType = Literal[
    "DISCOUNT_COUPONS", "GIFT_VOUCHERS", "LOYALTY_PROGRAM", "PROMOTION", "REFERRAL_PROGRAM"
]


class Campaign(TypedDict, total=False):
    id: str
    object: Literal["campaign"]
    name: str
    description: str | None
    campaign_type: CampaignType
    type: Literal["AUTO_UPDATE", "STATIC", "STANDALONE"]
    voucher: dict[str, Any]
    promotion: dict[str, Any]
    auto_join: bool | None
    join_once: bool | None
    active: bool | None
    start_date: str | None
    expiration_date: str | None
    category: str | None
    category_id: str | None
    vouchers_count: int | None
    creation_status: str
    vouchers_generation_status: str
    validation_rules_assignments: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None


class CampaignSummary(TypedDict, total=False):
    object: Literal["campaign_summary"]
    campaign: dict[str, Any]
    redemptions: int
    redemptions_succeeded: int
    redemptions_failed: int
    validations: int
    publications: int
    vouchers_created: int
    discounted_amount: int
    orders_amount: int


class PromotionTier(TypedDict, total=False):
    id: str
    object: Literal["promotion_tier"]
    name: str
    banner: str | None
    action: dict[str, Any]  # {"discount": Discount}
    active: bool
    hierarchy: int
    campaign: dict[str, Any]
    campaign_id: str
    promotion_id: str
    start_date: str | None
    expiration_date: str | None
    validation_rule_assignments: dict[str, Any]
    summary: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None


class PromotionStack(TypedDict, total=False):
    id: str
    object: Literal["promotion_stack"]
    name: str
    tiers: dict[str, Any]  # {"ids": [...], "hierarchy_mode": "MANUAL"}
    campaign_id: str
    category_id: str | None
    created_at: str
    updated_at: str | None


class ValidationRule(TypedDict, total=False):
    id: str
    object: Literal["validation_rules"]
    name: str
    type: Literal["basic", "advanced", "complex", "expression"]
    rules: dict[str, Any]
    applicable_to: dict[str, Any]
    error: dict[str, Any] | None  # {"message": ...}: what a refusal shows the customer
    context_type: str
    assignments_count: int | None
    created_at: str
    updated_at: str | None


class ValidationRuleAssignment(TypedDict, total=False):
    id: str
    object: Literal["validation_rules_assignment"]
    rule_id: str
    related_object_id: str
    related_object_type: str
    created_at: str


class Product(TypedDict, total=False):
    id: str
    object: Literal["product"]
    source_id: str | None
    name: str | None
    price: int | None
    attributes: list[str]
    image_url: str | None
    skus: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None


class Sku(TypedDict, total=False):
    id: str
    object: Literal["sku"]
    source_id: str | None
    product_id: str
    sku: str | None
    price: int | None
    currency: str | None
    attributes: dict[str, Any]
    image_url: str | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None


class Category(TypedDict, total=False):
    id: str
    object: Literal["category"]
    name: str
    hierarchy: int
    created_at: str
    updated_at: str | None


class Publication(TypedDict, total=False):
    id: str
    object: Literal["publication"]
    result: Literal["SUCCESS", "FAILURE"]
    customer_id: str | None
    tracking_id: str | None
    source_id: str | None
    channel: str
    voucher: Voucher
    vouchers: list[str]
    vouchers_id: list[str]
    metadata: dict[str, Any]
    created_at: str


class Qualification(TypedDict, total=False):
    redeemables: dict[str, Any]  # a list object: data, total, has_more, more_starting_after
    order: Order
    tracking_id: str | None
    stacking_rules: dict[str, Any]


class CustomEvent(TypedDict, total=False):
    object: Literal["event"]
    type: str
    customer: Customer
    referral: dict[str, Any] | None
    loyalty: dict[str, Any] | None
    metadata: dict[str, Any]
