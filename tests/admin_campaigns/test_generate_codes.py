""" "Generate N codes": the form's bounds and permission, the job it starts (one async action,
polled to the end) and the new codes reaching the voucher mirror."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from django_voucherify import jobs
from django_voucherify.admin import submit_once
from django_voucherify.models import Job, JobKind, JobState, Voucher
from tests.support.admin import UNREACHABLE_CACHES

pytestmark = pytest.mark.django_db


def generate_url(campaign) -> str:
    return reverse("admin:django_voucherify_campaign_generate", args=[campaign.pk])


@pytest.mark.parametrize("count", ["0", "1", "100001", "-5", "abc", "", "2.5"])
def test_out_of_bounds_counts_are_form_errors_and_start_nothing(client, sandbox, campaigns, staff, count):
    (spring,) = campaigns("Spring")
    staff("view_campaign", "generate_campaign_codes")
    response = client.post(generate_url(spring), {"count": count})
    assert response.status_code == 200
    assert response.context["form"].errors["count"]
    assert not Job.objects.exists()


def test_the_service_refuses_bad_counts_too():
    for bad in (0, 1, 100_001, True, "10", None, 2.0):
        with pytest.raises(ValueError):
            jobs.generate_campaign_codes("camp_x", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        jobs.generate_campaign_codes("  ", 10)
    assert not Job.objects.exists()


def test_generate_needs_its_permission(client, sandbox, campaigns, staff):
    (spring,) = campaigns("Spring")
    staff("view_campaign", "change_campaign", "change_campaign_state", "add_job")
    assert client.get(generate_url(spring)).status_code == 403
    assert client.post(generate_url(spring), {"count": "10"}).status_code == 403
    detail = client.get(reverse("admin:django_voucherify_campaign_change", args=[spring.pk]))
    assert b'id="generate-codes"' not in detail.content
    assert not Job.objects.exists()


def test_a_campaign_without_codes_cannot_generate(client, sandbox, api, staff):
    from django_voucherify.models import Campaign
    from django_voucherify.vouchers import campaigns as mirrors

    promo = api.campaigns.create(
        {
            "name": "Cart promo",
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [{"name": "10 off", "action": {"discount": {"type": "AMOUNT", "amount_off": 1000}}}]
            },
        }
    )
    mirrors.refresh_all()
    campaign = Campaign.objects.get(voucherify_id=promo["id"])
    staff("view_campaign", "generate_campaign_codes")
    response = client.post(generate_url(campaign), {"count": "10"})
    assert response.status_code == 302
    assert not Job.objects.exists()


def test_form_starts_a_job_that_generates_and_mirrors_the_codes(
    client, sandbox, api, campaigns, staff, django_capture_on_commit_callbacks
):
    (spring,) = campaigns("Spring")
    staff("view_campaign", "generate_campaign_codes", "view_job")
    form = client.get(generate_url(spring))
    assert form.status_code == 200
    token = form.context["form"]["submission"].value()
    response = client.post(generate_url(spring), {"count": "25", "submission": token})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:django_voucherify_job_change", args=[job.pk])
    assert job.kind == JobKind.GENERATE_CAMPAIGN_CODES and job.total_rows == 25
    again = client.post(generate_url(spring), {"count": "25", "submission": token})  # a double click
    assert again.status_code == 302 and Job.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.drive(job, timeout=60)
    assert job.state == JobState.DONE, job.error
    assert (job.done_count, job.failed_count, job.progress) == (25, 0, 100)
    assert job.async_action_id.startswith("aa_")
    generated = Voucher.objects.filter(campaign="Spring")
    assert generated.count() == 25  # mirrored once the job ended
    assert all(code.startswith("GEN-") for code in generated.values_list("code", flat=True))
    assert api.campaigns.get(spring.voucherify_id)["vouchers_count"] == 25
    spring.refresh_from_db()
    assert spring.vouchers_count == 25  # the campaign mirror re-read too
    page = client.get(reverse("admin:django_voucherify_job_change", args=[job.pk]))
    assert page.status_code == 200  # the job page, with view_campaign as its row permission


def test_without_view_job_the_form_returns_to_the_campaign(client, sandbox, campaigns, staff):
    (spring,) = campaigns("Spring")
    staff("view_campaign", "generate_campaign_codes")
    response = client.post(generate_url(spring), {"count": "5"})
    assert response["Location"] == reverse("admin:django_voucherify_campaign_change", args=[spring.pk])
    assert Job.objects.get().params["count"] == 5


def test_without_view_job_a_form_sent_twice_returns_to_the_campaign(client, sandbox, campaigns, staff):
    """The second send of a double click (the answer the browser shows) went to the job list,
    which refused them (403) though their job had started."""
    (spring,) = campaigns("Spring")
    staff("view_campaign", "generate_campaign_codes")
    token = client.get(generate_url(spring)).context["form"]["submission"].value()
    client.post(generate_url(spring), {"count": "5", "submission": token}, follow=True)  # its message shown
    again = client.post(generate_url(spring), {"count": "5", "submission": token}, follow=True)
    assert again.redirect_chain == [
        (reverse("admin:django_voucherify_campaign_change", args=[spring.pk]), 302)
    ]
    assert again.status_code == 200 and Job.objects.count() == 1
    assert [str(m) for m in again.context["messages"]] == [str(submit_once.ALREADY_SENT_MESSAGE)]


def test_a_generation_voucherify_refuses_fails_the_job_with_its_reason(sandbox, api, campaigns):
    (spring,) = campaigns("Spring")
    api.campaigns.delete(spring.voucherify_id, force=True)
    job = jobs.drive(jobs.generate_campaign_codes(spring.voucherify_id, 10), timeout=30)
    assert job.state == JobState.FAILED
    assert "404" in job.error


def test_with_the_cache_down_the_form_generates_nothing_and_says_so(
    client, sandbox, campaigns, staff, django_capture_on_commit_callbacks, caplog
):
    """The one-time token's cache unreachable: no job, no call to Voucherify, the form again with
    why (it was a 500 page); once the cache is back the same form starts its job."""
    (spring,) = campaigns("Spring")
    staff("view_campaign", "generate_campaign_codes", "view_job")
    token = client.get(generate_url(spring)).context["form"]["submission"].value()
    calls = sandbox.calls.count()
    with override_settings(CACHES=UNREACHABLE_CACHES), django_capture_on_commit_callbacks(execute=True):
        response = client.post(generate_url(spring), {"count": "25", "submission": token})
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [str(submit_once.UNAVAILABLE_MESSAGE)]
    assert response.context["form"]["submission"].value() == token
    assert not Job.objects.exists() and sandbox.calls.count() == calls
    assert [r.levelname for r in caplog.records if r.name == submit_once.__name__] == ["WARNING"]

    response = client.post(generate_url(spring), {"count": "25", "submission": token})
    assert response.status_code == 302 and Job.objects.count() == 1
