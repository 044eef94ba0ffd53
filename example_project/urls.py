from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView


def no_favicon(request: HttpRequest) -> HttpResponse:
    """The demo has no icon: say so without a 404, which every page's request for it logged as
    "Not Found: /favicon.ico" in the demo's output and as a console error in the browser."""
    return HttpResponse(status=204)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/vouchers/", include("django_voucherify.rest.urls")),
    # Voucherify (here: the sandbox, started by ./scripts/demo) posts its events here.
    path("voucherify/webhooks/", include("django_voucherify.webhooks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("favicon.ico", no_favicon),
    path("", include("example_project.shop.urls")),
]
