"""Promotion tier admin: the mirrors refreshed with the campaigns; the list, the tier page and
the campaign page's tier table for ``view_promotiontier`` (one query whatever the number of
tiers); enable and disable, each with its own permission (403 without), through the confirmation
page; Voucherify's refusals and 2xx answers in another shape as admin messages, never a 500."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_voucherify.api.resources.promotions import Promotions
from django_voucherify.models import Campaign, PromotionTier, ValidationRule
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.admin import post_action
from tests.support.campaigns import MIN_100

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_promotiontier_changelist")


def tier_body(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "banner": f"{name}!",
        "action": {"discount": {"type": "PERCENT", "percent_off": 10}},
        **extra,
    }


@pytest.fixture
def promotion(api: Any) -> Any:
    """``promotion("Big basket", 3)``: a PROMOTION campaign with that many tiers, mirrored."""

    def create(name: str, tiers: int = 2) -> Campaign:
        made = api.campaigns.create(
            {
                "name": name,
                "campaign_type": "PROMOTION",
                "promotion": {"tiers": [tier_body(f"{name} tier {i}") for i in range(1, tiers + 1)]},
            }
        )
        mirrors.refresh_all()
        return Campaign.objects.get(voucherify_id=made["id"])

    return create


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def change_url(tier: PromotionTier) -> str:
    return reverse("admin:django_voucherify_promotiontier_change", args=[tier.pk])


def tier_url(tier: PromotionTier, action: str) -> str:
    return reverse(f"admin:django_voucherify_promotiontier_{action}", args=[tier.pk])


def remote_active(api: Any, tier: PromotionTier) -> bool:
    return bool(api.promotions.get_tier(tier.voucherify_id)["active"])


# -- the mirror ---------------------------------------------------------------------------------
def test_the_campaign_refresh_mirrors_tiers_linked_to_their_campaign_and_prunes(sandbox, api, promotion):
    basket = promotion("Big basket", 2)
    tiers = list(PromotionTier.objects.order_by("hierarchy"))
    assert [(t.name, t.campaign_id, t.hierarchy) for t in tiers] == [
        ("Big basket tier 1", basket.pk, 1),
        ("Big basket tier 2", basket.pk, 2),
    ]
    assert tiers[0].banner == "Big basket tier 1!" and tiers[0].redemptions_count == 0
    api.promotions.delete_tier(tiers[1].voucherify_id)
    api.promotions.disable_tier(tiers[0].voucherify_id)
    stats = mirrors.refresh_all()
    assert stats["error"] == "" and stats["tiers"] == 1 and stats["removed"] == 0
    assert list(PromotionTier.objects.values_list("name", "active")) == [("Big basket tier 1", False)]
    api.campaigns.delete(basket.voucherify_id, force=True)
    stats = mirrors.refresh_all()
    assert stats["removed"] == 1  # the campaign; its tier went with it, not counted as a campaign
    assert not PromotionTier.objects.exists()


# -- viewing ------------------------------------------------------------------------------------
def test_a_viewer_sees_the_tiers_and_no_button(client, sandbox, api, promotion, staff):
    basket = promotion("Big basket", 2)
    rule = api.validation_rules.create(
        {"name": "Over 100", "rules": MIN_100, "error": {"message": "Spend 100"}}
    )
    first = PromotionTier.objects.get(name="Big basket tier 1")
    api.validation_rules.create_assignment(rule["id"], "promotion_tier", first.voucherify_id)
    mirrors.refresh_all()
    staff("view_promotiontier", "view_campaign")
    page = client.get(CHANGELIST, {"q": '"tier 1"'})  # a phrase: ids hold digits
    assert page.status_code == 200
    assert [t.name for t in page.context["cl"].result_list] == ["Big basket tier 1"]
    body = page.content.decode()
    assert "10%" in body and "Big basket" in body
    assert "Big basket tier 1!" not in body  # the banner is on the tier's page, not in the list
    assert "enable_selected" not in body and "disable_selected" not in body
    filtered = client.get(CHANGELIST, {"campaign__id__exact": basket.pk, "active__exact": "1"})
    assert filtered.context["cl"].result_count == 2
    detail = client.get(change_url(first))
    text = detail.content.decode()
    assert detail.status_code == 200
    assert "Over 100" in text and "Spend 100" in text  # the rule assigned, readable
    assert 'id="enable-tier"' not in text and 'id="disable-tier"' not in text
    assert 'name="_save"' not in text
    campaign_page = client.get(reverse("admin:django_voucherify_campaign_change", args=[basket.pk]))
    inline = campaign_page.context["inline_admin_formsets"][0]
    assert [f.original.name for f in inline] == ["Big basket tier 1", "Big basket tier 2"]
    assert 'id="promotion_tiers-group"' in campaign_page.content.decode()


def test_a_viewer_posting_an_action_gets_403_and_nothing_is_sent(client, sandbox, api, promotion, staff):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    staff("view_promotiontier")
    before = sandbox.calls.count("POST")
    for action in ("enable_selected", "disable_selected"):
        assert post_action(client, CHANGELIST, action, [tier], post="yes").status_code == 403
    assert client.post(tier_url(tier, "disable"), {"post": "yes"}).status_code == 403
    assert client.post(tier_url(tier, "enable")).status_code == 403
    assert sandbox.calls.count("POST") == before
    assert remote_active(api, tier) is True


def test_enable_and_disable_are_separate_permissions(client, sandbox, api, promotion, staff):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    staff("view_promotiontier", "disable_promotiontier")
    page = client.get(change_url(tier)).content.decode()
    assert 'id="disable-tier"' in page and 'id="enable-tier"' not in page
    listing = client.get(CHANGELIST).content.decode()
    assert "disable_selected" in listing and "enable_selected" not in listing
    assert client.post(tier_url(tier, "enable"), {"post": "yes"}).status_code == 403
    done = post_action(client, tier_url(tier, "disable"), None, [tier], post="yes")
    assert done.status_code == 302 and done["Location"] == change_url(tier)
    assert remote_active(api, tier) is False


def test_a_campaign_page_without_view_promotiontier_has_no_tier_table(client, sandbox, promotion, staff):
    basket = promotion("Big basket", 1)
    staff("view_campaign")
    page = client.get(reverse("admin:django_voucherify_campaign_change", args=[basket.pk]))
    assert page.status_code == 200
    assert 'id="promotion_tiers-group"' not in page.content.decode()  # the tier table
    assert client.get(CHANGELIST).status_code == 403


# -- the confirmation flow ----------------------------------------------------------------------
def test_disable_from_the_list_confirms_then_changes_voucherify_and_the_mirror(
    client, sandbox, api, promotion, staff
):
    promotion("Big basket", 2)
    one, two = PromotionTier.objects.order_by("name")
    staff("view_promotiontier", "enable_promotiontier", "disable_promotiontier")
    disable = partial(post_action, client, CHANGELIST, "disable_selected", [one, two])
    confirm = disable()
    assert confirm.status_code == 200
    assert b'id="tier-changes"' in confirm.content and "active → inactive" in confirm.content.decode()
    assert remote_active(api, one) is True  # nothing sent yet
    done = disable(post="yes", confirmed_count="2")
    assert done.status_code == 302
    assert remote_active(api, one) is False and remote_active(api, two) is False
    assert set(PromotionTier.objects.values_list("active", flat=True)) == {False}
    assert any("done for Big basket tier 1, Big basket tier 2" in t for t in texts(done))


def test_enable_from_the_tier_page_confirms_first(client, sandbox, api, promotion, staff):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    api.promotions.disable_tier(tier.voucherify_id)
    mirrors.refresh_all()
    staff("view_promotiontier", "enable_promotiontier")
    confirm = client.post(tier_url(tier, "enable"))
    assert confirm.status_code == 200
    assert "inactive → active" in confirm.content.decode()
    assert remote_active(api, tier) is False
    done = post_action(client, tier_url(tier, "enable"), None, [tier], post="yes", confirmed_count="1")
    assert done.status_code == 302
    assert remote_active(api, tier) is True and PromotionTier.objects.get().active is True


def test_a_selection_changed_since_confirmation_does_nothing(client, sandbox, api, promotion, staff):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    staff("view_promotiontier", "disable_promotiontier")
    response = post_action(client, CHANGELIST, "disable_selected", [tier], post="yes", confirmed_count="2")
    assert any("selection changed" in m for m in texts(response))
    assert remote_active(api, tier) is True


# -- Voucherify's answers -----------------------------------------------------------------------
def test_a_tier_deleted_in_voucherify_is_an_error_message_and_the_others_go_on(
    client, sandbox, api, promotion, staff
):
    promotion("Big basket", 2)
    one, two = PromotionTier.objects.order_by("name")
    api.promotions.delete_tier(one.voucherify_id)
    staff("view_promotiontier", "disable_promotiontier")
    response = post_action(client, CHANGELIST, "disable_selected", [one, two], post="yes")
    assert response.status_code == 302
    messages = texts(response)
    assert any("failed for Big basket tier 1" in m and "no such promotion tier" in m for m in messages)
    assert any("done for Big basket tier 2" in m for m in messages), messages
    assert PromotionTier.objects.get(pk=one.pk).last_error_key  # kept on the mirror
    assert remote_active(api, two) is False


def test_voucherify_unreachable_is_a_message_not_a_500(client, sandbox, api, promotion, staff):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    staff("view_promotiontier", "disable_promotiontier")
    sandbox.faults.add(path="/v1/promotions/tiers/*/disable", status=503, times=5)
    response = post_action(client, tier_url(tier, "disable"), None, [tier], post="yes")
    assert response.status_code == 302
    assert any("Disable failed for Big basket tier 1" in m for m in texts(response))
    assert PromotionTier.objects.get().active is True


def answering(monkeypatch: Any, body: Any) -> None:
    """Voucherify does the disable but answers ``body`` (a 2xx in another shape)."""
    real = Promotions.disable_tier

    def disable(self: Promotions, tier_id: str) -> Any:
        real(self, tier_id)
        return body

    monkeypatch.setattr(Promotions, "disable_tier", disable)


WRONG_SHAPES = [{}, [], {"id": "promo_other", "active": False}, {"object": "promotion_tier"}]


@pytest.mark.parametrize("body", WRONG_SHAPES)
def test_an_answer_in_another_shape_is_not_stored_the_tier_is_re_read(
    client, sandbox, api, promotion, staff, monkeypatch, body
):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    staff("view_promotiontier", "disable_promotiontier")
    answering(monkeypatch, body)
    response = post_action(client, tier_url(tier, "disable"), None, [tier], post="yes")
    assert response.status_code == 302
    messages = texts(response)
    assert any("unexpected shape" in m and "re-read" in m for m in messages), messages
    assert any("done for Big basket tier 1" in m for m in messages)
    stored = PromotionTier.objects.get()
    assert stored.active is False and stored.remote_payload["id"] == tier.voucherify_id
    assert stored.remote_payload != body


def test_an_answer_in_another_shape_and_a_failing_re_read_keep_the_change_with_the_reason(
    client, sandbox, api, promotion, staff, monkeypatch
):
    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    staff("view_promotiontier", "disable_promotiontier")
    answering(monkeypatch, {"unexpected": True})
    sandbox.faults.add(path="/v1/promotions/tiers/*", method="GET", status=503, times=5)
    response = post_action(client, tier_url(tier, "disable"), None, [tier], post="yes")
    assert response.status_code == 302
    assert any("re-reading the tier failed" in m for m in texts(response))
    sandbox.faults.clear()
    stored = PromotionTier.objects.get()
    assert stored.active is False and "not the promotion tier" in stored.last_error
    assert remote_active(api, tier) is False


# -- cost -----------------------------------------------------------------------------------------
def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_the_campaign_page_cost_the_same_queries_for_2_or_12_tiers(
    client, sandbox, promotion, staff
):
    small = promotion("Small", 2)
    staff("view_promotiontier", "view_campaign", "enable_promotiontier", "disable_promotiontier")
    campaign_page = reverse("admin:django_voucherify_campaign_change", args=[small.pk])
    # Warm-up: the first change page in a process also fills Django's ContentType cache (one
    # query), so run alone the first measurement counted one more than the second.
    _queries(client, campaign_page)
    few_list, few_page = _queries(client, CHANGELIST), _queries(client, campaign_page)
    sandbox.calls.calls.clear()
    big = promotion("Big", 10)
    many_list = _queries(client, CHANGELIST)
    many_page = _queries(client, reverse("admin:django_voucherify_campaign_change", args=[big.pk]))
    assert PromotionTier.objects.count() == 12
    assert many_list == few_list
    assert many_page == few_page


def test_rules_assigned_are_named_from_their_mirrors(sandbox, api, promotion):
    from django_voucherify.admin.promotion_tiers import PromotionTierAdmin

    promotion("Big basket", 1)
    tier = PromotionTier.objects.get()
    rule = api.validation_rules.create({"name": "Over 100", "rules": MIN_100})
    api.validation_rules.create_assignment(rule["id"], "promotion_tier", tier.voucherify_id)
    mirrors.refresh_all()
    tier.refresh_from_db()
    assert tier.rule_ids == [rule["id"]]
    assert ValidationRule.objects.filter(voucherify_id=rule["id"]).exists()
    shown = str(PromotionTierAdmin(PromotionTier, None).rules_display(tier))  # type: ignore[arg-type]
    assert "Over 100" in shown and rule["id"] in shown


# -- columns --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("discount", "shown"),
    [
        ({"type": "PERCENT", "percent_off": 12.5, "amount_limit": 2000}, "12.5% (max 20.00\u00a0EUR)"),
        ({"type": "AMOUNT", "amount_off": 500}, "-5.00\u00a0EUR"),
        ({"type": "FIXED", "fixed_amount": 3000}, "fixed 30.00\u00a0EUR"),
        ({"type": "UNIT", "unit_off": 1}, "1 free unit(s)"),
        ({"type": "UNIT", "units": [{"unit_off": 1}, {"unit_off": 2}]}, "3 free unit(s)"),
        ({"type": "SHIPPING"}, "free shipping"),
        ({"type": "NEW_KIND"}, "NEW_KIND"),
        ({}, "-"),
        ("not a discount", "-"),
    ],
)
def test_discount_in_words(settings, discount, shown):
    from django_voucherify.admin.discounts import discount_summary

    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "CURRENCY": "EUR"}
    assert discount_summary(discount) == shown


def test_validity_in_one_column():
    from datetime import UTC, datetime

    from django_voucherify.admin.promotion_tiers import PromotionTierAdmin

    column = PromotionTierAdmin(PromotionTier, None).dates_display  # type: ignore[arg-type]
    start, end = datetime(2026, 1, 2, 12, tzinfo=UTC), datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert column(PromotionTier()) == "always"
    assert column(PromotionTier(start_date=start)).startswith("from ")
    assert column(PromotionTier(expiration_date=end)).startswith("until ")
    both = column(PromotionTier(start_date=start, expiration_date=end))
    assert "\u2013" in both and "2026" in both
