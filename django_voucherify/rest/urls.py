"""``path("api/vouchers/", include("django_voucherify.rest.urls"))``.

Any other path below the endpoints' own names (``validate/...``, ``offers/...``, ``redeem/...``,
``redemptions/...``, ``publications/...``) answers a JSON 404 (:func:`.errors.not_found`), and
so does a rollback id that is not a ledger id (the view checks it, so
``/redemptions/abc/rollback/`` or a 30-digit id never reaches the site's HTML 404 page or the
database). The catch-all is limited to those
names so that including these URLs at the site's root cannot swallow the site's other paths.

The views are :class:`.lazy.LazyView` callbacks: loading these URLs imports neither the views
nor DRF's ``views`` module (and its ``schemas`` and ``compat`` imports); the first request to one
of them, or a schema generator, does.
"""

from django.urls import path, re_path

from .lazy import LazyView

app_name = "voucherify_checkout"

VIEWS = "django_voucherify.rest.views"

urlpatterns = [
    path("validate/", LazyView(VIEWS, "ValidateView"), name="validate"),
    path("offers/", LazyView(VIEWS, "OffersView"), name="offers"),
    path("redeem/", LazyView(VIEWS, "RedeemView"), name="redeem"),
    path("redemptions/<str:pk>/rollback/", LazyView(VIEWS, "RollbackView"), name="rollback"),
    path("publications/", LazyView(VIEWS, "PublishView"), name="publish"),
    re_path(
        r"^(?:validate|offers|redeem|redemptions|publications)(?:/.*)?$",
        LazyView("django_voucherify.rest.errors", "not_found"),
        name="not_found",
    ),
]
