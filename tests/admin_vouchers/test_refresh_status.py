"""The refresh block's status JSON (issue 16): what the changelists' block shows, asked by its
script while a run is unfinished. One per changelist (vouchers, campaigns, promotion tiers),
checked with that changelist's view permission; JSON for every state and every refusal; one
row read whatever the number of runs and mirrors; never a call to Voucherify."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_voucherify.models import RefreshState, RefreshSubject, Voucher, VoucherRefreshRun
from tests.support.admin import login_staff

pytestmark = pytest.mark.django_db

STATUS = {
    "voucher": reverse("admin:django_voucherify_voucher_refresh_status"),
    "campaign": reverse("admin:django_voucherify_campaign_refresh_status"),
    "promotiontier": reverse("admin:django_voucherify_promotiontier_refresh_status"),
}
SUBJECT = {
    "voucher": RefreshSubject.VOUCHERS,
    "campaign": RefreshSubject.CAMPAIGNS,
    "promotiontier": RefreshSubject.CAMPAIGNS,
}


def make_run(subject: str = RefreshSubject.VOUCHERS, **fields: Any) -> VoucherRefreshRun:
    run = VoucherRefreshRun.objects.create(subject=subject)
    VoucherRefreshRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


def status(client: Any, model: str = "voucher") -> dict[str, Any]:
    response = client.get(STATUS[model])
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    return dict(response.json())


def test_never_refreshed_is_finished_and_says_how_to_load(admin_client):
    body = status(admin_client)
    assert body["state"] == "none" and body["finished"] is True and body["id"] is None
    assert "never been refreshed" in body["message"] and body["error"] == ""
    assert "campaigns, promotion tiers" in status(admin_client, "campaign")["message"]


def test_queued_then_waiting_to_retry(admin_client):
    run = make_run()
    body = status(admin_client)
    assert body["id"] == run.pk and body["state"] == "queued" and body["finished"] is False
    assert "queued" in body["message"] and body["css"] == "is-running" and not body["show_progress"]
    run.error = "waiting to retry: RateLimited: slow down"
    run.save()
    assert status(admin_client)["error"] == "waiting to retry: RateLimited: slow down"


def test_running_with_and_without_a_total(admin_client):
    now = timezone.now()
    run = make_run(state=RefreshState.RUNNING, started_at=now, heartbeat_at=now, done=1500)
    body = status(admin_client)
    assert body["state"] == "running" and body["finished"] is False
    assert "1500 vouchers stored" in body["message"] and not body["show_progress"]
    VoucherRefreshRun.objects.filter(pk=run.pk).update(total=4000)
    body = status(admin_client)
    assert "1500 of 4000 vouchers stored" in body["message"]
    assert body["show_progress"] and (body["done"], body["total"]) == (1500, 4000)


def test_succeeded_incomplete_and_failed(admin_client):
    finished = timezone.now() - timedelta(minutes=5)
    stats = {"created": 3, "updated": 2, "removed": 1, "skipped": 0, "seen": 5, "error": None}
    run = make_run(state=RefreshState.SUCCEEDED, done=5, total=5, stats=stats, finished_at=finished)
    body = status(admin_client)
    assert body["finished"] is True and body["css"] == "is-ok" and body["state_label"] == "done"
    assert "5\u00a0minutes ago: 5 vouchers (3 new, 2 updated, 1 removed, 0 skipped)" in body["message"]
    assert body["stats"] == {"created": 3, "updated": 2, "removed": 1, "skipped": 0, "seen": 5}
    assert str(finished.year) in body["when_text"]

    VoucherRefreshRun.objects.filter(pk=run.pk).update(state=RefreshState.INCOMPLETE, error="page 3: 503")
    body = status(admin_client)
    assert body["finished"] is True and body["error"] == "Incomplete, nothing was removed: page 3: 503"

    VoucherRefreshRun.objects.filter(pk=run.pk).update(state=RefreshState.FAILED, error="broker unreachable")
    body = status(admin_client)
    assert body["finished"] is True and body["css"] == "is-failed"
    assert "failed 5\u00a0minutes ago" in body["message"] and body["error"] == "broker unreachable"


def test_campaign_runs_count_campaigns_tiers_and_rules(admin_client):
    now = timezone.now()
    run = make_run(RefreshSubject.CAMPAIGNS, state=RefreshState.RUNNING, started_at=now, done=7)
    make_run(state=RefreshState.RUNNING, started_at=now, done=99)  # the vouchers' run: not this one
    for model in ("campaign", "promotiontier"):
        body = status(admin_client, model)
        assert body["id"] == run.pk and "7 of ? campaigns, promotion tiers" in body["message"]
    stats = {"created": 2, "updated": 1, "removed": 0, "tiers": 4, "rules": 3}
    done = {"state": RefreshState.SUCCEEDED, "stats": stats, "finished_at": now}
    VoucherRefreshRun.objects.filter(pk=run.pk).update(**done)
    body = status(admin_client, "promotiontier")
    said = "2 new campaigns, 1 updated, 0 removed, 0 skipped; 4 promotion tiers; 3 validation rules"
    assert said in body["message"]


@pytest.mark.parametrize("model", sorted(STATUS))
def test_403_json_without_the_changelists_view_permission(client, model):
    login_staff(client, "view_job")  # staff, but not allowed to see this list
    response = client.get(STATUS[model])
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.parametrize("model", sorted(STATUS))
def test_allowed_with_the_changelists_own_view_permission(client, model):
    login_staff(client, f"view_{model}")
    make_run(SUBJECT[model])
    assert status(client, model)["state"] == "queued"
    # Another list's permission is not enough: each endpoint is checked like its changelist.
    other = "campaign" if model == "voucher" else "voucher"
    assert client.get(STATUS[other]).status_code == 403


@pytest.mark.parametrize("model", sorted(STATUS))
def test_401_json_when_signed_out(client, model):
    response = client.get(STATUS[model])
    assert response.status_code == 401 and response.json()["signed_out"] is True
    assert "follow the refresh" in response.json()["error"]


def _queries(client: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        status(client)
    return len(queries)


def test_query_count_is_flat_and_voucherify_is_never_asked(client, sandbox):
    login_staff(client, "view_voucher")
    make_run(state=RefreshState.RUNNING, started_at=timezone.now(), done=1)
    few = _queries(client)
    Voucher.objects.bulk_create(Voucher(code=f"FLAT-{i}") for i in range(50))
    for _ in range(30):
        make_run(state=RefreshState.SUCCEEDED, finished_at=timezone.now(), stats={"created": 1})
    make_run(state=RefreshState.RUNNING, started_at=timezone.now(), done=20, total=50)
    assert _queries(client) == few
    assert sandbox.calls.calls == []


def test_the_block_and_the_json_say_the_same_and_only_an_unfinished_run_is_followed(admin_client):
    changelist = reverse("admin:django_voucherify_voucher_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "django_voucherify/live_status.js" in page and "django_voucherify/refresh_progress.js" in page
    assert 'data-refresh-finished="1"' in page  # nothing runs: the script asks nothing
    run = make_run(state=RefreshState.RUNNING, started_at=timezone.now(), done=3, total=9)
    page = admin_client.get(changelist).content.decode()
    assert 'data-refresh-finished="0"' in page and f'data-refresh-status-url="{STATUS["voucher"]}"' in page
    assert status(admin_client)["message"] in page
    assert '<progress data-refresh-field="progress" value="3" max="9">' in page
    VoucherRefreshRun.objects.filter(pk=run.pk).update(state=RefreshState.FAILED, error="gone <b>")
    page = admin_client.get(changelist).content.decode()
    assert "gone &lt;b&gt;" in page and 'data-refresh-finished="1"' in page
    for model in ("campaign", "promotiontier"):
        page = admin_client.get(reverse(f"admin:django_voucherify_{model}_changelist")).content.decode()
        assert f'data-refresh-status-url="{STATUS[model]}"' in page


@pytest.mark.parametrize("model", ["voucher", "campaign", "promotiontier"])
def test_numbers_in_the_blocks_attributes_are_not_localised(admin_client, settings, model):
    """With thousand separators on (``USE_THOUSAND_SEPARATOR``), the block wrote its poll
    interval as ``data-refresh-poll-ms="2,000"``, which the script reads as 2: every open
    changelist asked the status JSON every 2 ms while a refresh ran; the bar's ``value`` and
    ``max`` (``1,500``) were no numbers either (the admin review)."""
    settings.USE_THOUSAND_SEPARATOR = True
    now = timezone.now()
    make_run(
        SUBJECT[model], state=RefreshState.RUNNING, started_at=now, heartbeat_at=now, done=1500, total=4000
    )
    page = admin_client.get(reverse(f"admin:django_voucherify_{model}_changelist")).content.decode()
    assert 'data-refresh-poll-ms="2000"' in page
    assert 'value="1500" max="4000"' in page
