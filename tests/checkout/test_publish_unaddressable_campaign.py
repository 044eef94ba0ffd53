"""``POST publications/`` and ``checkout.publish`` with a campaign no URL can address (``.``,
``..``): a JSON 400 / ``InvalidCheckoutInput``, never a 500 (review 20)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.models import CustomerPublication
from tests.support.checkout import PUBLISH, static_campaign
from tests.support.sandbox import options

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]


@pytest.mark.parametrize("campaign", [".", ".."])
@pytest.mark.parametrize("permitted", [False, True])
def test_a_campaign_no_url_can_address_is_a_json_400_not_a_500(sandbox, ann, campaign, permitted):
    """``.`` and ``..`` passed the campaign rule, then the client refused to put them in
    ``GET /v1/campaigns/{}`` (HTTP libraries resolve them): a ValueError, a 500."""
    if permitted:
        ann.user_permissions.add(Permission.objects.get(codename="add_customerpublication"))
    client = APIClient(raise_request_exception=False)
    client.force_login(ann)
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[static_campaign(sandbox)]):
        answer = client.post(PUBLISH, {"campaign": campaign}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    assert not CustomerPublication.objects.exists() and not sandbox.calls.count("GET", "/v1/campaigns/.")


@pytest.mark.parametrize("campaign", [".", ".."])
def test_publish_refuses_a_campaign_no_url_can_address(sandbox, campaign):
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.publish(campaign, "ann")
