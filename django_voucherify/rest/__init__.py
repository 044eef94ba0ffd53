"""Django REST framework endpoints for storefront front ends: validate, redeem, staff rollback.

``path("api/vouchers/", include("django_voucherify.rest.urls"))``; see docs/checkout.md.
"""
