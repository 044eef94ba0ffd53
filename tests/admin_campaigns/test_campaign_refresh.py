"""The campaign and validation-rule refresh: stores, updates, removes what Voucherify no longer
lists only after a complete walk, and runs one at a time per subject beside the voucher refresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from django_voucherify.api.paging import PaginationLimitError
from django_voucherify.models import Campaign, RefreshSubject, ValidationRule, VoucherRefreshRun
from django_voucherify.vouchers import campaigns as mirrors
from django_voucherify.vouchers import refresh_runs
from tests.support.campaigns import MIN_100, campaign_body

pytestmark = pytest.mark.django_db


def test_a_refresh_mirrors_updates_and_prunes(sandbox, api, campaigns):
    spring, summer = campaigns("Spring", "Summer")
    rule = api.validation_rules.create({"name": "Over 100", "rules": MIN_100})
    api.validation_rules.create_assignment(rule["id"], "campaign", spring.voucherify_id)
    api.campaigns.disable(summer.voucherify_id)
    api.campaigns.delete(spring.voucherify_id, force=True)
    stats = mirrors.refresh_all()
    assert stats["error"] == "" and stats["removed"] == 1 and stats["rules"] == 1
    assert list(Campaign.objects.values_list("name", "active")) == [("Summer", False)]
    assert ValidationRule.objects.get().assignments_count == 1


class ShortWalk:
    """A client whose campaign walk stops with Voucherify's page limit."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.validation_rules = api.validation_rules
        self.promotions = api.promotions
        self.vouchers = api.vouchers

        class Campaigns:
            def list(self, **params: Any) -> dict[str, Any]:
                return {"total": 20_000, "campaigns": []}

            def iterate(self) -> Any:
                yield from api.campaigns.iterate()
                raise PaginationLimitError("More campaigns match than Voucherify pages through")

        self.campaigns = Campaigns()


def test_an_incomplete_walk_stores_what_it_saw_and_removes_nothing(sandbox, api, campaigns):
    spring, _summer = campaigns("Spring", "Summer")
    api.campaigns.delete(spring.voucherify_id, force=True)
    stats = mirrors.refresh_all(client=ShortWalk(api))
    assert "PaginationLimitError" in stats["error"]
    assert set(Campaign.objects.values_list("name", flat=True)) == {"Spring", "Summer"}  # nothing removed


def test_campaign_and_voucher_refreshes_are_one_at_a_time_each(sandbox):
    voucher_run, created = refresh_runs.queue_unless_running()
    assert created
    campaign_run, created = refresh_runs.queue_unless_running(RefreshSubject.CAMPAIGNS)
    assert created, "a voucher refresh under way does not block the campaigns'"
    again, created = refresh_runs.queue_unless_running(RefreshSubject.CAMPAIGNS)
    assert not created and again.pk == campaign_run.pk
    assert refresh_runs.last() == voucher_run
    assert refresh_runs.last(RefreshSubject.CAMPAIGNS) == campaign_run
    stats = refresh_runs.run(campaign_run.pk, subject=RefreshSubject.CAMPAIGNS)
    assert stats["error"] == ""
    assert VoucherRefreshRun.objects.get(pk=campaign_run.pk).state == "succeeded"
    assert VoucherRefreshRun.objects.get(pk=voucher_run.pk).state == "queued"  # untouched


def test_an_older_copy_never_overwrites_a_newer_mirror(sandbox, api, campaigns):
    (spring,) = campaigns("Spring")
    now = sandbox.state.clock()
    sandbox.state.clock = lambda: now
    api.campaigns.disable(spring.voucherify_id)
    stale = dict(api.campaigns.get(spring.voucherify_id))  # read by a walk (inactive)...
    sandbox.state.clock = lambda: now + timedelta(seconds=1)
    api.campaigns.enable(spring.voucherify_id)  # ...then enabled from the admin
    newer = api.campaigns.get(spring.voucherify_id)
    assert newer["updated_at"] > stale["updated_at"]
    mirrors.store(newer)
    stats: dict = {"created": 0, "updated": 0, "skipped": 0}
    mirrors._store_campaigns([stale], stats)  # the walk's batch lands late
    assert mirrors.store(stale).active is True
    assert Campaign.objects.get(pk=spring.pk).active is True
    assert stats["kept_newer"] == 1


def test_voucherify_pull_campaigns_fills_the_mirrors_as_a_recorded_run(sandbox, api):
    """``voucherify_pull campaigns`` (the demo's first start runs it): campaigns, their promotion
    tiers and validation rules mirrored, recorded as a campaign refresh run; one at a time."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    from django_voucherify.models import (
        Campaign,
        PromotionTier,
        RefreshState,
        RefreshSubject,
        ValidationRule,
        VoucherRefreshRun,
    )

    api.campaigns.create(campaign_body("Spring"))
    api.campaigns.create(
        {
            "name": "Big basket",
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [{"name": "10% off", "action": {"discount": {"type": "PERCENT", "percent_off": 10}}}]
            },
        }
    )
    api.validation_rules.create({"name": "Over 100", "rules": MIN_100})
    out = StringIO()
    call_command("voucherify_pull", "campaigns", "--no-progress", stdout=out)
    assert "campaigns: 2 created" in out.getvalue() and "1 promotion tiers" in out.getvalue(), out.getvalue()
    assert sorted(Campaign.objects.values_list("name", flat=True)) == ["Big basket", "Spring"]
    assert list(PromotionTier.objects.values_list("name", flat=True)) == ["10% off"]
    assert list(ValidationRule.objects.values_list("name", flat=True)) == ["Over 100"]
    run = VoucherRefreshRun.objects.get()
    assert (run.subject, run.state) == (RefreshSubject.CAMPAIGNS, RefreshState.SUCCEEDED)

    VoucherRefreshRun.objects.create(subject=RefreshSubject.CAMPAIGNS, state=RefreshState.QUEUED)
    with pytest.raises(CommandError, match="already under way"):
        call_command("voucherify_pull", "campaigns", "--no-progress", stdout=StringIO())
