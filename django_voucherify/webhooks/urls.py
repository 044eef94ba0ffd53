"""``path("voucherify/webhooks/", include("django_voucherify.webhooks.urls"))``."""

from django.urls import path

from .views import receive

app_name = "voucherify_webhooks"
urlpatterns = [path("", receive, name="receive")]
