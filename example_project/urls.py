from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/vouchers/", include("django_voucherify.rest.urls")),
    # Voucherify (here: the sandbox, started by ./scripts/demo) posts its events here.
    path("voucherify/webhooks/", include("django_voucherify.webhooks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("example_project.shop.urls")),
]
