"""The admin's selection task: registered in a worker, queued after commit, a refused broker
shown as a message, explicit lists chunked, and the 0.1.0 task names still run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse

from django_voucherify.admin import voucher_tasks
from django_voucherify.admin.voucher_selection import of_codes
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")
ROOT = Path(__file__).resolve().parents[2]


def confirm(http, vouchers, action="disable_selected"):
    return post_action(http, CHANGELIST, action, vouchers, post="yes", follow=True)


def messages_of(resp):
    return [(m.level_tag, str(m)) for m in resp.context["messages"]]


@pytest.fixture
def sent(monkeypatch):
    """Arguments of every message of the admin task (eager Celery still runs them)."""
    calls: list[tuple] = []
    original = voucher_tasks.run_voucher_action.apply_async

    def record(args=None, **kwargs):
        calls.append(tuple(args))
        return original(args=args, **kwargs)

    monkeypatch.setattr(voucher_tasks.run_voucher_action, "apply_async", record)
    return calls


@pytest.mark.parametrize(
    "settings_module",
    ["tests.sync.worker_settings", "tests.admin_vouchers.simple_admin_worker_settings"],
    ids=["admin autodiscovered", "SimpleAdminConfig"],
)
def test_a_worker_registers_the_admin_task_and_the_old_names(settings_module):
    # What `celery -A tests.sync.celery_app worker` does before it consumes: Django's fixup runs
    # django.setup() (admin autodiscovery), then the task modules are imported.
    script = (
        "import json\n"
        "from tests.sync.celery_app import app\n"
        "app.loader.import_default_modules()\n"
        "print(json.dumps(sorted(app.tasks)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "CELERY_SKIP_CHECKS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    registered = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {
        "django_voucherify.admin.run_voucher_action",
        "django_voucherify.run_voucher_action",
        "django_voucherify.run_voucher_selection",
        "django_voucherify.refresh_vouchers",
    } <= registered


def test_the_task_is_queued_only_when_the_request_commits(
    admin_client, sandbox, mirrored, voucherify_settings, sent, django_capture_on_commit_callbacks
):
    vouchers = mirrored("Q-1", "Q-2")
    with voucherify_settings(VOUCHER_ACTION_INLINE_LIMIT=1):
        with django_capture_on_commit_callbacks() as callbacks:
            confirm(admin_client, vouchers)
        assert sent == [] and len(callbacks) == 1  # nothing on the broker before the commit
        assert all(sandbox.state.vouchers[c]["active"] for c in ("Q-1", "Q-2"))
        callbacks[0]()
    admin = User.objects.get(username="admin").pk
    assert sent == [("disable", {"codes": ["Q-1", "Q-2"], "user": admin, "site": "admin"})]
    assert not any(sandbox.state.vouchers[c]["active"] for c in ("Q-1", "Q-2"))


@pytest.fixture
def atomic_requests(monkeypatch):
    """ATOMIC_REQUESTS on: the enqueue (and its message) happens at the view's commit."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(voucher_tasks.run_voucher_action, "apply_async", refuse)


@pytest.mark.django_db(transaction=True)
def test_queued_message_is_shown_with_atomic_requests(
    admin_client, sandbox, mirrored, voucherify_settings, atomic_requests
):
    vouchers = mirrored("A-1", "A-2")
    with voucherify_settings(VOUCHER_ACTION_INLINE_LIMIT=1):
        resp = confirm(admin_client, vouchers)
    assert resp.status_code == 200
    assert (
        "info",
        "Disable of 2 vouchers runs in the background; failures will show in the 'last error key' column.",
    ) in messages_of(resp)
    assert not any(sandbox.state.vouchers[c]["active"] for c in ("A-1", "A-2"))


@pytest.mark.django_db(transaction=True)
def test_a_refused_broker_is_an_admin_message_not_a_500(
    admin_client, sandbox, mirrored, voucherify_settings, atomic_requests, broker_down
):
    vouchers = mirrored("D-1", "D-2")
    calls = len(sandbox.calls.calls)
    with voucherify_settings(VOUCHER_ACTION_INLINE_LIMIT=1):
        resp = confirm(admin_client, vouchers)
    assert resp.status_code == 200
    assert messages_of(resp) == [("error", "Could not queue the action: [Errno 111] Connection refused")]
    assert len(sandbox.calls.calls) == calls  # nothing was sent to Voucherify


@pytest.mark.django_db(transaction=True)
def test_a_refused_broker_after_a_long_429_names_the_vouchers_not_done(
    admin_client, sandbox, mirrored, broker_down
):
    vouchers = mirrored("R-1", "R-2")
    sandbox.faults.add(path="/v1/vouchers/R-2/disable", status=429, retry_after=60, times=1)
    resp = confirm(admin_client, vouchers)
    assert resp.status_code == 200
    assert ("error", "Voucherify's rate limit was hit; not done: R-2 ([Errno 111] Connection refused).") in (
        messages_of(resp)
    )
    assert sandbox.state.vouchers["R-2"]["active"] is True


def test_a_long_list_of_codes_runs_in_chunks_that_carry_only_the_codes_left(
    sandbox, mirrored, monkeypatch, sent
):
    mirrored("K-1", "K-2", "K-3", "K-4", "K-5")
    monkeypatch.setattr(voucher_tasks, "SELECTION_CHUNK", 2)
    voucher_tasks.run_voucher_action.apply_async(
        args=("disable", of_codes(["K-1", "K-2", "K-3", "K-4", "K-5"]))
    )
    assert [args[1]["codes"] for args in sent] == [
        ["K-1", "K-2", "K-3", "K-4", "K-5"],
        ["K-3", "K-4", "K-5"],
        ["K-5"],
    ]
    assert not any(v["active"] for v in sandbox.state.vouchers.values())


def test_a_changelist_selection_resumes_after_a_429_at_the_voucher_it_stopped_at(
    admin_client, sandbox, mirrored, monkeypatch
):
    vouchers = mirrored("P-1", "P-2", "P-3", "P-4", kind="amount", category="page")
    monkeypatch.setattr(voucher_tasks, "SELECTION_CHUNK", 3)
    sandbox.faults.add(path="/v1/vouchers/P-2/disable", status=429, retry_after=45, times=1)
    selection = {
        "changelist": "category=page",
        "user": User.objects.get(username="admin").pk,
        "site": "admin",
    }
    disables = sandbox.calls.count("POST")
    voucher_tasks.run_voucher_action.apply(args=("disable", selection))
    assert not any(sandbox.state.vouchers[v.code]["active"] for v in vouchers)
    assert sandbox.calls.count("POST") - disables == 5  # P-1, P-2 (429), P-2 again, P-3, P-4


def test_the_0_1_0_task_names_still_run_their_messages(sandbox, mirrored, eager_celery):
    vouchers = mirrored("O-1", "O-2", "O-3")
    sandbox.faults.add(path="/v1/vouchers/O-2/disable", status=429, retry_after=45, times=1)
    # run_voucher_action(action, codes): a 429 retries under the old name with the codes left
    result = (
        eager_celery.tasks["django_voucherify.run_voucher_action"]
        .apply(args=("disable", ["O-1", "O-2"]))
        .get()
    )
    assert result == {"succeeded": ["O-2"], "failed": {}}
    # run_voucher_selection(action, selection, after_pk) with ticked rows as 0.1.0 described them
    selection = {"pks": [vouchers[2].pk]}
    eager_celery.tasks["django_voucherify.run_voucher_selection"].apply(args=("disable", selection, 0)).get()
    assert not any(v["active"] for v in sandbox.state.vouchers.values())
