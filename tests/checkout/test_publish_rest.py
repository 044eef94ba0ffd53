"""POST /api/vouchers/publications/: a signed-in customer gets their own code; anyone else's
needs ``django_voucherify.add_customerpublication`` (never ``is_staff``); bad input is JSON."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from django_voucherify.models import Customer, CustomerPublication
from tests.checkout.test_publish import _campaign, _held

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

PUBLISH = "/api/vouchers/publications/"


def _client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def ann(django_user_model):
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    Customer.objects.create(source_id="user-ann", email="ann@example.com", user=user)
    return user


def test_a_customer_gets_their_own_code_once(sandbox, ann):
    campaign = _campaign(sandbox)
    first = _client(ann).post(PUBLISH, {"campaign": campaign}, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["customer_source_id"] == "user-ann" and body["new"] is True and body["code"]
    again = _client(ann).post(
        PUBLISH, {"campaign": campaign, "customer_source_id": "user-ann"}, format="json"
    )
    assert again.status_code == 200 and again.json() == {**body, "new": False}
    assert _held(campaign, "user-ann") == [body["code"]]


@pytest.mark.parametrize(
    ("role", "allowed"), [("plain", False), ("staff", False), ("permitted", True), ("superuser", True)]
)
def test_someone_elses_code_needs_the_permission(sandbox, ann, django_user_model, role, allowed):
    campaign = _campaign(sandbox)
    if role == "superuser":
        user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    else:
        user = django_user_model.objects.create_user(
            role, f"{role}@example.com", "pw", is_staff=role == "staff"
        )
        if role == "permitted":
            user.user_permissions.add(Permission.objects.get(codename="add_customerpublication"))
    answer = _client(user).post(
        PUBLISH, {"campaign": campaign, "customer_source_id": "user-ann"}, format="json"
    )
    if allowed:
        assert answer.status_code == 201 and answer.json()["customer_source_id"] == "user-ann"
    else:
        assert answer.status_code == 403 and answer["Content-Type"].startswith("application/json")
        assert (
            not CustomerPublication.objects.exists() and sandbox.calls.count("POST", "/v1/publications") == 0
        )


def test_anonymous_is_refused(sandbox):
    answer = _client(None).post(PUBLISH, {"campaign": "Welcome"}, format="json")
    assert answer.status_code in (401, 403) and answer["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"campaign": 12},
        {"campaign": ""},
        {"campaign": "x" * 201},
        {"campaign": "We\u200blcome"},
        {"campaign": ["a"]},
        {"campaign": "Welcome", "customer_source_id": "a\x00"},
        [1, 2],
        "text",
    ],
)
def test_bad_input_is_a_json_400(sandbox, ann, body):
    answer = _client(ann).post(PUBLISH, body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    assert sandbox.calls.count("POST", "/v1/publications") == 0


def test_a_user_without_a_customer_and_a_refusal_are_json(sandbox, ann, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", "n@example.com", "pw")
    answer = _client(nobody).post(PUBLISH, {"campaign": "Welcome"}, format="json")
    assert answer.status_code == 400 and answer.json()["key"] == "no_customer"
    refused = _client(ann).post(PUBLISH, {"campaign": "No such campaign"}, format="json")
    assert refused.status_code == 400 and refused.json()["key"] in ("not_found", "resource_not_found")


def test_an_outage_is_a_json_503(sandbox, ann):
    campaign = _campaign(sandbox)
    sandbox.faults.add(path="/v1/publications", status=503, times=20)
    answer = _client(ann).post(PUBLISH, {"campaign": campaign}, format="json")
    assert answer.status_code == 503 and answer.json()["key"] == "unavailable"
