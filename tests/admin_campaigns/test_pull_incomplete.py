"""``voucherify_pull campaigns`` on a walk that stops short: the summary of what was stored is
written, nothing is removed, the run is recorded INCOMPLETE and the command fails with why (cron
sees it), as ``voucherify_pull vouchers`` does."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_voucherify.api.paging import PaginationLimitError
from django_voucherify.models import Campaign, RefreshState, RefreshSubject, VoucherRefreshRun

pytestmark = pytest.mark.django_db


def test_an_incomplete_campaign_pull_fails_after_its_summary_and_removes_nothing(
    sandbox, api, campaigns, monkeypatch
):
    spring, _summer = campaigns("Spring", "Summer")
    api.campaigns.delete(spring.voucherify_id, force=True)  # a complete walk would remove it
    walk = api.campaigns.iterate

    def short(**params):
        yield from walk(**params)
        raise PaginationLimitError("More campaigns match than Voucherify pages through")

    monkeypatch.setattr(api.campaigns, "iterate", short)
    out = StringIO()
    with pytest.raises(CommandError, match=r"not walked to their end \(.*PaginationLimitError.*no mirror"):
        call_command("voucherify_pull", "campaigns", "--no-progress", stdout=out)
    summary = out.getvalue()
    assert summary.startswith("campaigns: 0 created, ") and ", 0 removed, " in summary, summary
    assert set(Campaign.objects.values_list("name", flat=True)) == {"Spring", "Summer"}
    run = VoucherRefreshRun.objects.get()
    assert (run.subject, run.state) == (RefreshSubject.CAMPAIGNS, RefreshState.INCOMPLETE)
