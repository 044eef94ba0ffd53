"""The bulk action task on its own (429 resumes, gives up loudly) and the settings checks."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import DatabaseError, connection
from django.test import override_settings

from django_voucherify.admin.voucher_selection import of_codes
from django_voucherify.admin.voucher_tasks import run_voucher_action
from django_voucherify.checks import check_voucherify_settings
from django_voucherify.models import Voucher
from django_voucherify.vouchers import actions

pytestmark = pytest.mark.django_db


def test_task_resumes_at_the_rate_limited_voucher(sandbox, mirrored):
    mirrored("T-1", "T-2", "T-3")
    result = run_voucher_action.apply(args=("delete_permanently", of_codes(["T-1", "T-2", "T-3"]))).get()
    assert result == {"succeeded": ["T-1", "T-2", "T-3"], "failed": {}}
    assert not sandbox.state.vouchers and not Voucher.objects.exists()
    mirrored("U-1", "U-2")
    sandbox.faults.add(path="/v1/vouchers/U-2", method="DELETE", status=429, retry_after=45, times=1)
    deletes = sandbox.calls.count("DELETE")
    result = run_voucher_action.apply(args=("delete", of_codes(["U-1", "U-2"]))).get()
    assert result["succeeded"] == ["U-2"]  # the retry carried only the vouchers not yet done
    assert sandbox.calls.count("DELETE") - deletes == 3  # U-1, U-2 (429), U-2 again


def test_task_gives_up_after_max_retries_and_says_so_on_each_voucher(sandbox, mirrored):
    mirrored("G-1", "G-2")
    sandbox.faults.add(path="/v1/vouchers/*/disable", status=429, retry_after=45)  # for ever
    run_voucher_action.max_retries, saved = 2, run_voucher_action.max_retries
    try:
        run_voucher_action.apply(args=("disable", of_codes(["G-1", "G-2"])))
    finally:
        run_voucher_action.max_retries = saved
    assert set(Voucher.objects.values_list("last_error_key", flat=True)) == {"too_many_requests"}
    assert all(v["active"] for v in sandbox.state.vouchers.values())


def test_run_stops_waiting_after_a_few_short_429s(sandbox, mirrored):
    mirrored("S-1")
    sandbox.faults.add(path="/v1/vouchers/S-1/disable", status=429, retry_after=0.01)
    waits: list[float] = []
    outcome = actions.run(actions.Action.DISABLE, ["S-1"], max_wait=1, sleep=waits.append)
    assert outcome.remaining == ["S-1"] and outcome.results == [] and waits == [0.01, 0.01]  # 3 attempts


@pytest.mark.parametrize(
    ("values", "ids"),
    [
        ({}, []),
        ({"VOUCHER_ACTION_INLINE_LIMIT": -1}, ["voucherify.E030"]),
        (
            {"VOUCHER_ACTION_INLINE_LIMIT": "20", "VOUCHER_RATE_LIMIT_WAIT": -2},
            ["voucherify.E030", "voucherify.E031"],
        ),
    ],
)
def test_settings_checks(settings, values, ids):
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, **values}):
        problems = [p for p in check_voucherify_settings() if p.id.startswith("voucherify.E03")]
    assert [p.id for p in problems] == ids
    assert all(isinstance(p, checks.Error) and p.hint for p in problems)


def test_an_unexpected_error_on_one_voucher_is_kept_on_it_and_the_task_runs_the_rest(
    sandbox, mirrored, monkeypatch, caplog
):
    # A bug on one odd answer (here: storing it) raised out of the task: the vouchers after it
    # in the selection, and every later chunk, were never run, and nothing was on the voucher.
    mirrored("E-1", "E-2", "E-3")
    real_store = actions.store

    def store(payload):
        if payload.get("code") == "E-2":
            raise TypeError("odd answer")
        return real_store(payload)

    monkeypatch.setattr(actions, "store", store)
    result = run_voucher_action.apply(args=("disable", of_codes(["E-1", "E-2", "E-3"]))).get()
    assert result["succeeded"] == ["E-1", "E-3"] and list(result["failed"]) == ["E-2"]
    broken = Voucher.objects.get(code="E-2")
    assert broken.last_error_key == "TypeError" and "TypeError: odd answer (at " in broken.last_error
    (logged,) = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert logged.exc_info is None and "E-2" in logged.getMessage()


def test_a_database_error_inside_the_callers_transaction_stops_the_run(sandbox, mirrored, monkeypatch):
    """ATOMIC_REQUESTS (here: the test's transaction): after a database error the caller's
    transaction is aborted on PostgreSQL, so each later voucher was changed in Voucherify, its
    record failed too, and the run went on through the whole selection, none of it kept."""
    mirrored("D-1", "D-2", "D-3")

    def store(payload):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1/0")

    monkeypatch.setattr(actions, "store", store)
    with pytest.raises(DatabaseError):
        actions.run(actions.Action.DISABLE, ["D-1", "D-2", "D-3"], max_wait=0)
    assert [sandbox.state.vouchers[code]["active"] for code in ("D-1", "D-2", "D-3")] == [False, True, True]
