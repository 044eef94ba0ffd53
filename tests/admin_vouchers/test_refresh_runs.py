""" "Refresh from Voucherify" says how it went: queued, running with its progress, done with its
counts, or failed with its error, from a row that outlives the request and the worker."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from django_voucherify.models import RefreshState, Voucher, VoucherRefreshRun
from django_voucherify.tasks.vouchers import refresh_vouchers
from django_voucherify.vouchers import refresh, refresh_runs
from tests.support.voucher_pages import listed_vouchers, paged_client
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")
REFRESH = reverse("admin:django_voucherify_voucher_refresh")


def status_box(client) -> str:
    page = client.get(CHANGELIST).content.decode()
    start = page.index('id="last-refresh"')
    return page[start : page.index("</div>", start)]


def test_never_refreshed_tells_staff_how_to_load_vouchers(admin_client, sandbox):
    assert "never been refreshed" in status_box(admin_client)


def test_button_records_the_run_and_its_counts(admin_client, sandbox, django_capture_on_commit_callbacks):
    for i in range(3):
        make_voucher(f"RUN-{i}")
    Voucher.objects.create(code="GONE")  # no longer in Voucherify: removed by a complete walk
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(REFRESH)
    run = VoucherRefreshRun.objects.get()
    assert run.state == RefreshState.SUCCEEDED and run.done == 3 and run.total == 3
    assert run.stats["created"] == 3 and run.stats["removed"] == 1
    assert run.started_at and run.finished_at and run.finished_at >= run.started_at
    box = status_box(admin_client)
    assert "3 vouchers (3 new, 0 updated, 1 removed, 0 skipped)" in box


def test_queued_run_shows_before_a_worker_takes_it(admin_client, sandbox, django_capture_on_commit_callbacks):
    patched = mock.patch.object(refresh_vouchers, "delay")
    with patched as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(REFRESH)
    run = VoucherRefreshRun.objects.get()
    delay.assert_called_once_with(run.pk)  # the task is told which run to record on
    assert run.state == RefreshState.QUEUED
    assert "queued" in status_box(admin_client)


def test_rolled_back_request_queues_nothing(admin_client, sandbox, django_capture_on_commit_callbacks):
    patched = mock.patch.object(refresh_vouchers, "delay")
    with patched as delay, django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(REFRESH)
    assert len(callbacks) == 1  # sent only when the request's transaction commits
    delay.assert_not_called()


def test_broker_down_fails_the_run_with_the_reason(admin_client, sandbox, django_capture_on_commit_callbacks):
    broker_down = mock.patch.object(
        refresh_vouchers, "delay", side_effect=ConnectionError("broker unreachable")
    )
    with broker_down, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(REFRESH)
    assert response.status_code == 302
    run = VoucherRefreshRun.objects.get()
    assert run.state == RefreshState.FAILED and "broker unreachable" in run.error
    box = status_box(admin_client)
    assert "failed" in box and "broker unreachable" in box


def test_progress_is_visible_while_the_refresh_runs(sandbox, monkeypatch):
    for i in range(5):
        make_voucher(f"PROG-{i}")
    monkeypatch.setattr(refresh, "BATCH_SIZE", 2)
    seen: list[tuple[str, int, int | None]] = []
    store_batch = refresh._store_batch

    def spy(batch, stats):
        run = VoucherRefreshRun.objects.get()  # what another request reads meanwhile
        seen.append((run.state, run.done, run.total))
        store_batch(batch, stats)

    monkeypatch.setattr(refresh, "_store_batch", spy)
    refresh_runs.run(refresh_runs.queue().pk)
    assert seen == [("running", 0, None), ("running", 2, 5), ("running", 4, 5)]
    assert VoucherRefreshRun.objects.get().state == RefreshState.SUCCEEDED


def test_error_mid_walk_fails_the_run_and_is_shown(admin_client, sandbox):
    make_voucher("ERR-1")
    sandbox.faults.add(path="/v1/vouchers", method="GET", status=500, times=50)
    with pytest.raises(Exception):
        refresh_vouchers.apply(throw=True)
    run = VoucherRefreshRun.objects.get()  # the periodic refresh records a run of its own
    assert run.state == RefreshState.FAILED and run.error and run.finished_at
    assert run.error in status_box(admin_client).replace("&#x27;", "'").replace("&quot;", '"')


def test_incomplete_walk_is_reported_as_such(db):
    refresh_runs.run(client=paged_client(listed_vouchers(120), total=150))
    run = VoucherRefreshRun.objects.get()
    assert run.state == RefreshState.INCOMPLETE
    assert "brought 120 vouchers, Voucherify reported 150" in run.error


def test_a_second_click_while_a_refresh_is_under_way_starts_no_other(admin_client, sandbox):
    from datetime import timedelta

    from django.utils import timezone

    from django_voucherify.models import RefreshState, VoucherRefreshRun

    url = reverse("admin:django_voucherify_voucher_refresh")
    running = VoucherRefreshRun.objects.create(state=RefreshState.RUNNING)
    response = admin_client.post(url, follow=True)
    assert "already under way" in response.content.decode()
    assert list(VoucherRefreshRun.objects.values_list("pk", flat=True)) == [running.pk]
    # A run whose worker was lost long ago no longer blocks: it is marked failed, a new one starts.
    VoucherRefreshRun.objects.filter(pk=running.pk).update(requested_at=timezone.now() - timedelta(hours=3))
    admin_client.post(url)
    running.refresh_from_db()
    assert running.state == RefreshState.FAILED and "worker was probably lost" in running.error
    assert VoucherRefreshRun.objects.count() == 2


def test_the_refresh_button_is_shown_only_to_who_may_use_it(client, sandbox):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_voucher"))
    client.force_login(user)
    changelist = reverse("admin:django_voucherify_voucher_changelist")
    assert 'id="refresh-vouchers"' not in client.get(changelist).content.decode()
    user.user_permissions.add(Permission.objects.get(codename="change_voucher"))
    user = User.objects.get(pk=user.pk)  # a fresh permission cache
    client.force_login(user)
    assert 'id="refresh-vouchers"' in client.get(changelist).content.decode()


def _walk_with_a_click_midway(sandbox, monkeypatch, *, silent_for):
    """Walk a claimed run in batches of 2; after the first batch, its heartbeat is moved
    ``silent_for`` into the past and its request 3 hours back, then a click arrives."""
    from datetime import timedelta

    from django.utils import timezone

    for i in range(5):
        make_voucher(f"BEAT-{i}")
    monkeypatch.setattr(refresh, "BATCH_SIZE", 2)
    run_id = refresh_runs.claim(refresh_runs.queue().pk)
    clicks: list[tuple[int, bool]] = []
    store_batch = refresh._store_batch

    def click_after_first_batch(batch, stats):
        store_batch(batch, stats)
        if not clicks:
            now = timezone.now()
            VoucherRefreshRun.objects.filter(pk=run_id).update(
                requested_at=now - timedelta(hours=3), heartbeat_at=now - silent_for
            )
            run, created = refresh_runs.queue_unless_running()
            clicks.append((run.pk, created))

    monkeypatch.setattr(refresh, "_store_batch", click_after_first_batch)
    return run_id, clicks


def test_a_walk_making_progress_is_not_judged_lost_however_long_ago_it_was_requested(sandbox, monkeypatch):
    from datetime import timedelta

    run_id, clicks = _walk_with_a_click_midway(sandbox, monkeypatch, silent_for=timedelta(seconds=1))
    refresh_runs.walk(run_id)
    assert clicks == [(run_id, False)]  # the click saw the walk under way and started nothing
    assert VoucherRefreshRun.objects.get().state == RefreshState.SUCCEEDED


def test_a_silent_run_is_judged_lost_and_its_walk_stops_at_its_next_batch(sandbox, monkeypatch):
    run_id, clicks = _walk_with_a_click_midway(
        sandbox, monkeypatch, silent_for=refresh_runs.RUNNING_STALE_AFTER * 2
    )
    with pytest.raises(refresh_runs.RefreshAbandoned):
        refresh_runs.walk(run_id)
    [(new_id, created)] = clicks
    assert created and new_id != run_id
    lost = VoucherRefreshRun.objects.get(pk=run_id)
    assert lost.state == RefreshState.FAILED and "no sign of life" in lost.error
    assert lost.done == 0  # no progress recorded after it was replaced
    assert VoucherRefreshRun.objects.get(pk=new_id).state == RefreshState.QUEUED


def test_the_periodic_refresh_walks_nothing_while_another_run_is_unfinished(sandbox, monkeypatch):
    walks: list[int] = []
    monkeypatch.setattr(refresh, "refresh_all", lambda **kw: walks.append(1) or {"seen": 0, "total": 0})
    for state in (RefreshState.QUEUED, RefreshState.RUNNING):
        VoucherRefreshRun.objects.all().delete()
        clicked = VoucherRefreshRun.objects.create(state=state, heartbeat_at=None)
        VoucherRefreshRun.objects.filter(pk=clicked.pk).update(heartbeat_at=clicked.requested_at)
        result = refresh_vouchers.apply(throw=True).result  # what beat sends every hour
        assert "skipped" in result and walks == []
        assert list(VoucherRefreshRun.objects.values_list("pk", "state")) == [(clicked.pk, state)]


def test_a_second_delivery_of_the_same_task_walks_once(sandbox, monkeypatch):
    walks: list[int] = []
    monkeypatch.setattr(refresh, "refresh_all", lambda **kw: walks.append(1) or {"seen": 0, "total": 0})
    run = refresh_runs.queue()
    refresh_vouchers.apply(args=(run.pk,), throw=True)
    again = refresh_vouchers.apply(args=(run.pk,), throw=True).result  # the broker redelivered it
    assert walks == [1] and "skipped" in again
    assert VoucherRefreshRun.objects.get().state == RefreshState.SUCCEEDED


def test_a_rate_limited_refresh_is_queued_again_and_its_retry_claims_it(sandbox, monkeypatch):
    from celery.exceptions import Retry

    from django_voucherify.api.errors import RateLimitedError

    calls: list[int] = []

    def limited_once(**kw):
        calls.append(1)
        if len(calls) == 1:
            raise RateLimitedError("slow down", retry_after=30)
        return {"seen": 0, "total": 0}

    monkeypatch.setattr(refresh, "refresh_all", limited_once)
    run = refresh_runs.queue()
    with mock.patch.object(refresh_vouchers, "retry", side_effect=Retry()) as retry, pytest.raises(Retry):
        refresh_vouchers.apply(args=(run.pk,), throw=True)
    assert retry.call_args.kwargs["args"] == (run.pk,)
    run.refresh_from_db()
    assert run.state == RefreshState.QUEUED and "waiting to retry" in run.error
    refresh_vouchers.apply(args=(run.pk,), throw=True)  # the retry
    run.refresh_from_db()
    assert run.state == RefreshState.SUCCEEDED and calls == [1, 1]


def test_the_pull_command_refuses_while_a_refresh_runs(sandbox):
    from django.core.management import CommandError, call_command

    VoucherRefreshRun.objects.create(state=RefreshState.QUEUED)
    with pytest.raises(CommandError, match="already under way"):
        call_command("voucherify_pull", "vouchers", "--no-progress")


def test_a_rate_limited_walk_requested_long_ago_is_not_judged_lost_while_it_waits(sandbox, monkeypatch):
    """requeue() left requested_at as it was and a QUEUED run was stale 2 h after it: the next
    click marked a long, rate-limited walk failed and started another from zero."""
    from datetime import timedelta

    from django.utils import timezone

    from django_voucherify.api.errors import RateLimitedError

    run_id = refresh_runs.claim(refresh_runs.queue().pk)
    VoucherRefreshRun.objects.filter(pk=run_id).update(requested_at=timezone.now() - timedelta(hours=5))
    refresh_runs.requeue(run_id, RateLimitedError(429, None, retry_after=3 * 3600))
    run, created = refresh_runs.queue_unless_running()
    assert (run.pk, created) == (run_id, False)
    assert VoucherRefreshRun.objects.get(pk=run_id).state == RefreshState.QUEUED
    # Once the retry is long overdue (its worker lost), the run is judged lost as before.
    VoucherRefreshRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=3))
    _run, created = refresh_runs.queue_unless_running()
    assert created and VoucherRefreshRun.objects.get(pk=run_id).state == RefreshState.FAILED


@pytest.mark.django_db(transaction=True)
def test_two_first_ever_refresh_requests_at_once_start_one_run():
    """With no run row to lock, two first callers both created a run (PostgreSQL: an advisory
    lock now serialises them). The first waits at a barrier inside its transaction; the
    second, blocked on the lock, times the barrier out, then sees the first's run."""
    import contextlib
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    results: list[bool] = []
    real_queue = refresh_runs.queue

    def slow_queue(*args):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)
        return real_queue(*args)

    def caller():
        try:
            results.append(refresh_runs.queue_unless_running()[1])
        finally:
            connection.close()

    with mock.patch.object(refresh_runs, "queue", slow_queue):
        threads = [threading.Thread(target=caller) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert sorted(results) == [False, True], results
    assert VoucherRefreshRun.objects.count() == 1
