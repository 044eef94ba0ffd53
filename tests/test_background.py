"""The one shape of background work (django_voucherify.background): claiming due rows, leases
with tokens, backoff, enqueueing by task name, eager mode, and the one periodic sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from django_voucherify import background, conf
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.tasks import periodic as sweep_module
from tests.support.leaks import TOKEN, find_token

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = timedelta(minutes=5)


def _row(order: str = "O-1", **fields: Any) -> CheckoutRedemption:
    return CheckoutRedemption.objects.create(
        order_source_id=order, codes=["X"], state=LedgerState.UNKNOWN, **fields
    )


def test_backoff_doubles_is_capped_honours_retry_after_and_jitters_within_bounds():
    assert [background.backoff(n, base=5, cap=30) for n in (1, 2, 3, 4)] == [5, 10, 20, 30]
    assert background.backoff(9, base=5, cap=30, retry_after=2) == 2
    spread = {background.backoff(2, base=10, cap=100, jitter=0.5) for _ in range(50)}
    assert all(10 <= delay <= 30 for delay in spread) and len(spread) > 1


def test_claim_due_takes_due_free_rows_earliest_first_and_never_twice():
    now = timezone.now()
    later = _row("O-later", due_at=now + timedelta(hours=1))
    second = _row("O-second", due_at=now - timedelta(seconds=1))
    first = _row("O-first", due_at=now - timedelta(minutes=1))
    held = _row("O-held", due_at=now - timedelta(hours=1), lease_until=now + LEASE)
    claimed = background.claim_due(CheckoutRedemption.objects.all(), lease_for=LEASE, limit=10)
    assert [row.pk for row in claimed] == [first.pk, second.pk]
    assert len({row.lease_token for row in claimed}) == 2
    assert background.claim_due(CheckoutRedemption.objects.all(), lease_for=LEASE, limit=10) == []
    assert later.pk not in {row.pk for row in claimed} and held.pk not in {row.pk for row in claimed}


def test_a_release_with_a_stale_token_leaves_the_new_holders_lease_alone():
    row = _row()
    old = background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE)
    assert old is not None
    assert background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE) is None  # held
    new = background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE, force=True)
    assert new is not None and new.token != old.token
    assert not background.release(CheckoutRedemption, row.pk, token=old.token)
    assert CheckoutRedemption.objects.get().lease_until is not None
    assert background.release(CheckoutRedemption, row.pk, token=new.token)


def test_a_broker_failure_is_logged_and_leaves_the_leased_row_due_for_the_sweep(eager_celery, monkeypatch):
    from django_voucherify.tasks import checkout as tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.reconcile_checkout_redemption, "apply_async", broker_down)
    row = _row()
    held = background.lease(CheckoutRedemption, row.pk, due_in=60, lease_for=LEASE)
    name = "django_voucherify.reconcile_checkout_redemption"
    assert background.send(name, (row.pk,), countdown=60, lease=held, may_run_early=True) is False
    row.refresh_from_db()
    assert row.lease_until is None and row.due_at <= timezone.now()


def test_eager_mode_leaves_a_wait_to_the_sweep_and_runs_a_retry_inline(eager_celery):
    row = _row()
    name = "django_voucherify.reconcile_checkout_redemption"
    held = background.lease(CheckoutRedemption, row.pk, due_in=600, lease_for=LEASE)
    assert background.send(name, (row.pk,), countdown=600, lease=held) is False  # cannot wait
    row.refresh_from_db()
    assert row.lease_until is None and row.due_at > timezone.now() + timedelta(minutes=9)
    ran: list[int] = []
    task = eager_celery.tasks[name]
    original = task.run
    task.run = lambda pk: ran.append(pk)
    try:
        assert background.send(name, (row.pk,), countdown=600, may_run_early=True) is True
    finally:
        task.run = original
    assert ran == [row.pk]


def test_a_task_name_not_registered_is_sent_by_name(eager_celery, monkeypatch):
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(eager_celery, "send_task", lambda name, **kw: sent.append((name, kw["args"])))
    assert background.send("shop.tasks.elsewhere", (7,)) is True
    assert sent == [("shop.tasks.elsewhere", (7,))]


def test_checkout_rows_are_leased_for_checkout_task_lease(eager_celery):
    from django_voucherify.checkout import schedule

    row = _row()
    with override_settings(VOUCHERIFY={"CHECKOUT_TASK_LEASE": 42.0}):
        leased = background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=schedule.task_lease())
    assert leased is not None
    row.refresh_from_db()
    assert row.lease_until - row.due_at == timedelta(seconds=42)


def test_the_sweep_runs_every_features_due_work_and_one_failure_stops_none(monkeypatch):
    def broken() -> int:
        raise RuntimeError("database hiccup")

    parts = {"outbox": lambda: {"found": 0}, "checkout": broken, "jobs": lambda: 3}
    monkeypatch.setattr(sweep_module, "PARTS", parts)
    assert sweep_module.sweep() == {"outbox": {"found": 0}, "checkout": None, "jobs": 3}


def test_the_sweep_calls_each_features_entry_point():
    assert set(sweep_module.PARTS) == {"outbox", "checkout", "jobs", "job_uploads", "job_files", "webhooks"}
    counts = sweep_module.sweep()
    assert counts["checkout"] == {"reconcile": 0, "rollback": 0} and counts["outbox"]["found"] == 0
    assert counts["webhooks"] == {"sent": 0, "purged": 0}


def test_backoff_grows_by_the_given_factor():
    assert [background.backoff(n, base=2, cap=10, factor=1.5) for n in (1, 2, 3, 6)] == [2, 3, 4.5, 10]


def test_a_lease_held_by_a_token_is_renewed_only_by_that_holder_and_where_it_matches():
    row = _row()
    first = background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE)
    assert first is not None
    second = background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE, holder=first.token)
    assert second is not None and second.token != first.token  # the holder renews (new token)
    # A superseded holder cannot renew, even though the row is leased (``holder`` implies force).
    assert background.lease(CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE, holder=first.token) is None
    from django.db.models import Q

    not_matching = Q(state=LedgerState.SUCCEEDED)
    assert (
        background.lease(
            CheckoutRedemption, row.pk, due_in=0, lease_for=LEASE, force=True, where=not_matching
        )
        is None
    )
    assert CheckoutRedemption.objects.get(pk=row.pk).lease_token == second.token


def test_eager_mode_runs_a_task_that_only_autodiscovery_finds():
    """Autodiscovery is lazy (a worker triggers it): an eager process that never imported the
    tasks module must still run the task, not hand it to a broker nobody reads."""
    from celery import Celery

    app = Celery("lazy", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    app.autodiscover_tasks(["tests.support.lazy_tasks"], related_name="tasks")
    from celery import current_app

    previous = current_app._get_current_object()
    app.set_current()
    try:
        assert background.send("tests.lazy_tasks.ping", (7,))
    finally:
        previous.set_current()
    from tests.support.lazy_tasks import tasks as lazy

    assert lazy.RUNS == [7]


def _raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


def test_an_unexpected_error_is_described_by_type_text_and_place_with_every_secret_masked(settings):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_SECRETS": ["hook-secret-1"]}
    exc = _raised(KeyError("token test-secret-key, hook hook-secret-1"))

    described = background.describe(exc)

    assert described.startswith("KeyError: ")
    assert "test-secret-key" not in described and "hook-secret-1" not in described
    assert described.count("********") == 2
    assert f"(at {__name__}:" in described and "in _raised)" in described
    fields = background.error_fields(exc)
    assert fields["last_error_key"] == "KeyError" and "hook-secret-1" not in fields["last_error"]


def test_an_unexpected_error_is_logged_once_without_a_traceback(caplog):
    exc = _raised(ValueError("odd"))
    background.log_unexpected(background.logger, "step 7 failed", exc)
    (record,) = caplog.records
    assert record.exc_info is None and record.getMessage().startswith("step 7 failed: ValueError: odd (at ")


def test_a_description_is_storable_and_bounded_whatever_the_exception_says():
    """It goes to TEXT columns (a rollback's ``rollback_error``, a redeem's ``last_error``, a
    voucher's mirror) and to log lines: a NUL or a lone surrogate made the recording itself fail
    on PostgreSQL, and a 100 MB message was stored and logged whole."""

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    described = background.describe(_raised(ValueError("a\x00b\udc80c" + "x" * 100_000)))
    assert described.startswith("ValueError: a\ufffdb\ufffdc")
    assert "\x00" not in described and "\udc80" not in described
    assert len(described) <= background.DESCRIBE_CHARS and described.endswith("in _raised)")
    assert background.describe(_raised(Unprintable())).startswith("Unprintable: (no text) (at ")


def test_secrets_are_masked_even_when_an_unrelated_option_is_broken(settings):
    """``settings()`` raises for any wrong option (a staff edit saved at runtime, a rule a shop
    silenced): the text was then returned unmasked, the token a request of the earlier, valid
    settings sent included."""
    settings.VOUCHERIFY = {
        **settings.VOUCHERIFY,
        "WEBHOOK_SECRETS": ["hook-secret-1"],
        "JOB_POLL_INTERVAL": -1,
    }

    described = background.describe(_raised(KeyError("token test-secret-key, hook hook-secret-1")))

    assert "test-secret-key" not in described and "hook-secret-1" not in described
    assert described.count("********") == 2


@pytest.mark.parametrize(
    ("key", "configured"),
    [
        ("WEBHOOK_SECRETS", TOKEN),  # env(...) without the list
        ("WEBHOOK_SECRETS", {"shop": TOKEN}),
        ("WEBHOOK_SECRETS", [[TOKEN]]),
        ("WEBHOOK_SECRETS", ["ok-secret", {"old": [TOKEN]}]),
        ("SECRET_KEY", [TOKEN]),
    ],
)
def test_a_misshapen_secret_setting_is_masked_too(settings, key, configured):
    """A wrong-shaped ``WEBHOOK_SECRETS`` (or a ``SECRET_KEY`` no string) was left out of
    ``conf.credentials()``: the settings refuse it, and the fallback took only what a list of
    strings gives, so an error quoting the secret was logged and stored in clear."""
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, key: configured}

    described = background.describe(_raised(KeyError(f"the secret {TOKEN} was quoted")))

    assert TOKEN not in described and "********" in described
    assert TOKEN not in background.error_fields(_raised(ValueError(TOKEN)))["last_error"]
    assert find_token(conf.raw_settings()) is None  # held as Secrets only
