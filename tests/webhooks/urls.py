from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/voucherify/", include("django_voucherify.webhooks.urls")),
]
