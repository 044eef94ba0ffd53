"""Campaign admin pages: list, search, filters and the read-only detail for ``view_campaign``;
403 without it; enable/disable through the confirmation page only with ``change_campaign_state``;
Voucherify's refusals as admin messages, never a 500."""

from __future__ import annotations

from functools import partial

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from django_voucherify.models import Campaign, ValidationRule
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.admin import post_action
from tests.support.campaigns import MIN_100

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_campaign_changelist")


def change_url(campaign: Campaign) -> str:
    return reverse("admin:django_voucherify_campaign_change", args=[campaign.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_list_search_and_detail_for_a_viewer(client, sandbox, api, campaigns, staff):
    spring, _summer = campaigns("Spring sale", "Summer sale")
    rule = api.validation_rules.create(
        {"name": "Over 100", "rules": MIN_100, "error": {"message": "Spend 100"}}
    )
    api.validation_rules.create_assignment(rule["id"], "campaign", spring.voucherify_id)
    mirrors.refresh_all()
    staff("view_campaign")
    page = client.get(CHANGELIST, {"q": "Spring"})
    assert page.status_code == 200
    assert [c.name for c in page.context["cl"].result_list] == ["Spring sale"]
    assert b"enable_selected" not in page.content  # the actions need change_campaign_state
    assert b'id="refresh-campaigns"' not in page.content  # the button needs change_campaign
    filtered = client.get(CHANGELIST, {"active__exact": "1", "campaign_type": "DISCOUNT_COUPONS"})
    assert filtered.context["cl"].result_count == 2
    detail = client.get(change_url(spring))
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "GEN-" in body  # the code configuration, from Voucherify
    assert "Over 100" in body and "Spend 100" in body  # the rule assigned, with its message
    assert 'id="generate-codes"' not in body  # needs generate_campaign_codes
    assert b'name="_save"' not in detail.content  # read-only


def test_refused_without_view_permission(client, sandbox, campaigns, staff):
    (spring,) = campaigns("Spring")
    staff("view_voucher")
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(spring)).status_code == 403
    rules = reverse("admin:django_voucherify_validationrule_changelist")
    assert client.get(rules).status_code == 403


def test_detail_page_shows_voucherify_failing_rather_than_a_500(client, sandbox, campaigns, staff):
    (spring,) = campaigns("Spring")
    staff("view_campaign")
    sandbox.faults.add(path="/v1/validation-rules-assignments", status=503, times=5)
    page = client.get(change_url(spring))
    assert page.status_code == 200
    assert page.context["rules_error"]


def test_disable_confirms_then_changes_voucherify_and_the_mirror(client, sandbox, api, campaigns, staff):
    spring, summer = campaigns("Spring", "Summer")
    staff("view_campaign", "change_campaign_state")
    disable = partial(post_action, client, CHANGELIST, "disable_selected", [spring, summer])
    confirm = disable()
    assert confirm.status_code == 200
    assert b'id="campaign-changes"' in confirm.content and b"active \xe2\x86\x92 inactive" in confirm.content
    assert api.campaigns.get(spring.voucherify_id)["active"] is True  # nothing sent yet
    done = disable(post="yes", confirmed_count="2")
    assert done.status_code == 302
    assert api.campaigns.get(spring.voucherify_id)["active"] is False
    assert api.campaigns.get(summer.voucherify_id)["active"] is False
    assert set(Campaign.objects.values_list("active", flat=True)) == {False}
    assert any("done for Spring, Summer" in t for t in texts(done))
    post_action(client, CHANGELIST, "enable_selected", [spring], post="yes")
    assert api.campaigns.get(spring.voucherify_id)["active"] is True
    assert Campaign.objects.get(pk=spring.pk).active is True


def test_action_refused_without_the_state_permission(client, sandbox, api, campaigns, staff):
    (spring,) = campaigns("Spring")
    staff("view_campaign", "change_campaign")  # is_staff and change are not the state permission
    before = sandbox.calls.count("POST")
    response = post_action(client, CHANGELIST, "disable_selected", [spring], post="yes")
    assert response.status_code in (200, 302)
    assert sandbox.calls.count("POST") == before
    assert api.campaigns.get(spring.voucherify_id)["active"] is True


def test_a_campaign_deleted_in_voucherify_is_an_error_message_not_a_500(
    client, sandbox, api, campaigns, staff
):
    spring, summer = campaigns("Spring", "Summer")
    api.campaigns.delete(spring.voucherify_id, force=True)
    staff("view_campaign", "change_campaign_state")
    response = post_action(client, CHANGELIST, "disable_selected", [spring, summer], post="yes")
    assert response.status_code == 302
    messages = texts(response)
    assert any("failed for Spring" in m and "no such campaign" in m for m in messages), messages
    assert any("done for Summer" in m for m in messages), messages
    assert Campaign.objects.get(pk=spring.pk).last_error_key  # kept on the mirror
    assert api.campaigns.get(summer.voucherify_id)["active"] is False


def test_a_selection_changed_since_confirmation_does_nothing(client, sandbox, api, campaigns, staff):
    spring, _summer = campaigns("Spring", "Summer")
    staff("view_campaign", "change_campaign_state")
    response = post_action(client, CHANGELIST, "disable_selected", [spring], post="yes", confirmed_count="2")
    assert any("selection changed" in m for m in texts(response))
    assert api.campaigns.get(spring.voucherify_id)["active"] is True


def test_refresh_button_needs_change_campaign_and_records_a_run(
    client, sandbox, api, campaigns, staff, django_capture_on_commit_callbacks
):
    from django_voucherify.models import RefreshSubject, VoucherRefreshRun

    campaigns("Spring")
    api.campaigns.create(
        {
            "name": "Made in the dashboard",
            "campaign_type": "DISCOUNT_COUPONS",
            "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
        }
    )
    staff("view_campaign")
    assert client.post(reverse("admin:django_voucherify_campaign_refresh")).status_code == 403
    staff("view_campaign", "change_campaign")
    with django_capture_on_commit_callbacks(execute=True):  # the task starts once the request commits
        response = client.post(reverse("admin:django_voucherify_campaign_refresh"))
    assert response.status_code == 302
    run = VoucherRefreshRun.objects.get(subject=RefreshSubject.CAMPAIGNS)
    assert run.state == "succeeded", run.error
    assert Campaign.objects.filter(name="Made in the dashboard").exists()
    page = client.get(CHANGELIST)
    assert b'id="last-refresh"' in page.content and b"new campaigns" in page.content


def test_validation_rules_are_readable_and_read_only(client, sandbox, api, campaigns, staff):
    (spring,) = campaigns("Spring")
    rule = api.validation_rules.create(
        {"name": "Over 100", "rules": MIN_100, "error": {"message": "Spend 100"}}
    )
    api.validation_rules.create_assignment(rule["id"], "campaign", spring.voucherify_id)
    mirrors.refresh_all()
    staff("view_validationrule")
    listing = client.get(reverse("admin:django_voucherify_validationrule_changelist"))
    assert listing.status_code == 200 and b"Spend 100" in listing.content
    mirrored = ValidationRule.objects.get(voucherify_id=rule["id"])
    assert mirrored.assignments_count == 1
    detail = client.get(reverse("admin:django_voucherify_validationrule_change", args=[mirrored.pk]))
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "order.amount" in body and "$more_than_equal" in body  # the conditions
    assert spring.voucherify_id in body  # the assignment
    assert 'name="_save"' not in body
    assert client.get(reverse("admin:django_voucherify_campaign_changelist")).status_code == 403
