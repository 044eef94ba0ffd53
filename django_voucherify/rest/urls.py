"""``path("api/vouchers/", include("django_voucherify.rest.urls"))``."""

from django.urls import path

from . import views

app_name = "voucherify_checkout"

urlpatterns = [
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("redeem/", views.RedeemView.as_view(), name="redeem"),
    path("redemptions/<int:pk>/rollback/", views.RollbackView.as_view(), name="rollback"),
]
