"""POST /api/vouchers/publications/: a signed-in customer gets their own code of a campaign
listed in ``SELF_SERVICE_CAMPAIGNS`` (by name or id); anyone else's, or any campaign, needs
``django_voucherify.add_customerpublication`` (never ``is_staff``); a campaign not listed and an
unknown one get the same 403; bad input is JSON."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import Customer, CustomerPublication
from tests.support.checkout import PUBLISH, client_for, published_codes, static_campaign
from tests.support.sandbox import options

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]


def test_a_customer_gets_their_own_code_once(sandbox, ann):
    campaign = static_campaign(sandbox)
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[campaign]):
        first = client_for(ann).post(PUBLISH, {"campaign": campaign}, format="json")
        again = client_for(ann).post(
            PUBLISH, {"campaign": campaign, "customer_source_id": "user-ann"}, format="json"
        )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["customer_source_id"] == "user-ann" and body["new"] is True and body["code"]
    assert body["campaign_name"] == campaign and body["campaign"].startswith("camp_")
    assert again.status_code == 200 and again.json() == {**body, "new": False}
    assert published_codes(campaign, "user-ann") == [body["code"]]


@pytest.mark.parametrize(
    ("role", "allowed"), [("plain", False), ("staff", False), ("permitted", True), ("superuser", True)]
)
def test_someone_elses_code_needs_the_permission(sandbox, ann, django_user_model, role, allowed):
    campaign = static_campaign(sandbox)
    if role == "superuser":
        user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    else:
        user = django_user_model.objects.create_user(
            role, f"{role}@example.com", "pw", is_staff=role == "staff"
        )
        if role == "permitted":
            user.user_permissions.add(Permission.objects.get(codename="add_customerpublication"))
    answer = client_for(user).post(
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
    answer = client_for(None).post(PUBLISH, {"campaign": "Welcome"}, format="json")
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
    answer = client_for(ann).post(PUBLISH, body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    assert sandbox.calls.count("POST", "/v1/publications") == 0


def test_a_user_without_a_customer_and_a_refusal_are_json(sandbox, ann, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", "n@example.com", "pw")
    answer = client_for(nobody).post(PUBLISH, {"campaign": "Welcome"}, format="json")
    assert answer.status_code == 400 and answer.json()["key"] == "no_customer"
    campaign = static_campaign(sandbox, codes=1)
    checkout.publish(campaign, "someone-else")
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[campaign]):
        refused = client_for(ann).post(PUBLISH, {"campaign": campaign}, format="json")
    assert refused.status_code == 400 and refused.json()["key"] == "no_voucher_suitable_for_publication"


@pytest.mark.parametrize("path", ["/v1/publications", "/v1/campaigns/*"])
def test_an_outage_is_a_json_503(sandbox, ann, path):
    campaign = static_campaign(sandbox)
    sandbox.faults.add(path=path, status=503, times=20)
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[campaign]):
        answer = client_for(ann).post(PUBLISH, {"campaign": campaign}, format="json")
    assert answer.status_code == 503 and answer.json()["key"] == "unavailable"


# -- which campaigns a shopper may ask a code of (review 18) -------------------------------------


@pytest.mark.parametrize(("listed", "asked"), [("name", "id"), ("id", "name"), ("id", "id")])
def test_a_listed_campaign_is_matched_by_name_and_by_id(sandbox, ann, listed, asked):
    name = static_campaign(sandbox)
    forms = {"name": name, "id": django_voucherify.client.campaigns.get(name)["id"]}
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=["Something else", forms[listed]]):
        first = client_for(ann).post(PUBLISH, {"campaign": forms[asked]}, format="json")
        assert first.status_code == 201, first.content
        for again in ("name", "id"):  # later calls, in either form: the same row
            answer = client_for(ann).post(PUBLISH, {"campaign": forms[again]}, format="json")
            assert answer.status_code == 200 and answer.json()["code"] == first.json()["code"]
    assert published_codes(name, "user-ann") == [first.json()["code"]]
    assert CustomerPublication.objects.count() == 1


def test_an_unknown_campaign_gets_the_answer_of_one_not_listed(sandbox, ann):
    offered, internal = static_campaign(sandbox), static_campaign(sandbox, codes=3)
    internal_id = django_voucherify.client.campaigns.get(internal)["id"]
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[offered]):
        answers = [
            client_for(ann).post(PUBLISH, {"campaign": asked}, format="json")
            for asked in (internal, internal_id, "No such campaign", "camp_NoSuchId")
        ]
    assert {(a.status_code, a.content) for a in answers} == {(answers[0].status_code, answers[0].content)}
    assert answers[0].status_code == 403 and answers[0]["Content-Type"].startswith("application/json")
    assert answers[0].json()["key"] == "campaign_not_offered"
    assert not CustomerPublication.objects.exists()
    assert (
        sandbox.calls.count("POST", "/v1/publications") == 0 and published_codes(internal, "user-ann") == []
    )


def test_nothing_listed_by_default_and_voucherify_is_not_asked(sandbox, ann):
    campaign = static_campaign(sandbox)
    calls = len(sandbox.calls.calls)
    answer = client_for(ann).post(PUBLISH, {"campaign": campaign}, format="json")
    assert answer.status_code == 403 and answer.json()["key"] == "campaign_not_offered"
    assert len(sandbox.calls.calls) == calls


def test_a_code_the_shop_gave_of_a_campaign_not_listed_is_not_shown(sandbox, ann):
    internal = static_campaign(sandbox)
    checkout.publish(internal, "user-ann")  # the shop's own code: not limited
    answer = client_for(ann).post(PUBLISH, {"campaign": internal}, format="json")
    assert answer.status_code == 403 and "code" not in answer.json()


def test_the_permission_holder_is_not_limited(sandbox, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw")
    Customer.objects.create(source_id="user-clerk", email="clerk@example.com", user=clerk)
    clerk.user_permissions.add(Permission.objects.get(codename="add_customerpublication"))
    internal, offered = static_campaign(sandbox), static_campaign(sandbox)
    with options(sandbox, SELF_SERVICE_CAMPAIGNS=[offered]):
        own = client_for(clerk).post(PUBLISH, {"campaign": internal}, format="json")
        for_bob = client_for(clerk).post(
            PUBLISH, {"campaign": internal, "customer_source_id": "bob"}, format="json"
        )
        unknown = client_for(clerk).post(PUBLISH, {"campaign": "No such campaign"}, format="json")
    assert own.status_code == 201 and for_bob.status_code == 201
    # Unlimited callers are told what Voucherify said: the campaign does not exist.
    assert unknown.status_code == 400 and unknown.json()["key"] in ("not_found", "resource_not_found")
