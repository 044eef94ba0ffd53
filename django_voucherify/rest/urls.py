"""``path("api/vouchers/", include("django_voucherify.rest.urls"))``.

Any other path below the endpoints' own names (``validate/...``, ``redeem/...``,
``redemptions/...``) answers a JSON 404 (:func:`.errors.not_found`), and so does a rollback id
that is not a ledger id (the view checks it, so ``/redemptions/abc/rollback/`` or a 30-digit id
never reaches the site's HTML 404 page or the database). The catch-all is limited to those
names so that including these URLs at the site's root cannot swallow the site's other paths.
"""

from django.urls import path, re_path

from . import views
from .errors import not_found

app_name = "voucherify_checkout"

urlpatterns = [
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("redeem/", views.RedeemView.as_view(), name="redeem"),
    path("redemptions/<str:pk>/rollback/", views.RollbackView.as_view(), name="rollback"),
    re_path(r"^(?:validate|redeem|redemptions)(?:/.*)?$", not_found, name="not_found"),
]
