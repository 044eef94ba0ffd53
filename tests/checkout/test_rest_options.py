"""``OPTIONS`` on the checkout endpoints: the methods (``Allow``) and the media types, never the
views' docstrings. DRF's default metadata answered each view's name and docstring (``"description":
"Redeem codes for an order the shop created ... so a client cannot inflate them for a bigger
discount."``): internal prose handed to anyone who asks (docs/checkout.md, "OPTIONS")."""

from __future__ import annotations

import inspect

import pytest
from rest_framework.test import APIClient

from django_voucherify.rest import views
from tests.support.checkout import PUBLISH, REDEEM, VALIDATE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

ENDPOINTS = {
    VALIDATE: views.ValidateView,
    "/api/vouchers/offers/": views.OffersView,
    REDEEM: views.RedeemView,
    "/api/vouchers/redemptions/1/rollback/": views.RollbackView,
    PUBLISH: views.PublishView,
}


@pytest.mark.parametrize("url", ENDPOINTS)
def test_options_answers_the_methods_and_media_types_only(django_user_model, url):
    clerk = django_user_model.objects.create_superuser("clerk", "clerk@example.com", "pw")
    client = APIClient()
    client.force_authenticate(clerk)  # past every permission: what the view itself answers

    response = client.options(url)

    assert response.status_code == 200, response.content
    assert response["Allow"] == "POST, OPTIONS"
    assert response["Content-Type"].split(";")[0] == "application/json"
    assert response.json() == {"renders": ["application/json"], "parses": ["application/json"]}
    docstrings = [inspect.getdoc(cls) for cls in ENDPOINTS[url].__mro__ if cls.__doc__]
    first_lines = [doc.splitlines()[0] for doc in docstrings if doc]
    assert not any(line[:40] in response.content.decode() for line in first_lines)
