"""Confirming "select all" on 1,200 vouchers, and hidden pks that survive number localisation."""

from __future__ import annotations

import json
import re

import pytest
from django.test import override_settings
from django.urls import reverse

from django_voucherify import client
from django_voucherify.admin.voucher_tasks import SELECTION_CHUNK, run_voucher_action
from django_voucherify.models import Voucher
from django_voucherify.vouchers.refresh import refresh_all
from tests.support.admin import post_action
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")
COUNT = 1200


def hidden_inputs(html: str) -> list[tuple[str, str]]:
    """The hidden fields of the confirmation form, as a browser would post them back."""
    form = html[html.index('<form method="post">') :]
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)


@pytest.fixture
def bulk(sandbox):
    for i in range(COUNT):
        make_voucher(f"L-{i:05d}", category="bulk")
    make_voucher("OTHER-1")
    refresh_all()
    return f"{CHANGELIST}?category=bulk"


@pytest.fixture
def task_messages(monkeypatch):
    """The JSON body of every ``run_voucher_action`` message (eager Celery still runs them)."""
    sent: list[str] = []
    original = run_voucher_action.apply_async

    def record(args=None, **kwargs):
        sent.append(json.dumps(args))
        return original(args=args, **kwargs)

    monkeypatch.setattr(run_voucher_action, "apply_async", record)
    return sent


@pytest.mark.django_db(transaction=True)  # the task is queued when the request commits
def test_select_all_of_1200_vouchers_confirms_and_runs_in_chunks(admin_client, sandbox, bulk, task_messages):
    first = Voucher.objects.filter(category="bulk").order_by("code").first()
    page = post_action(admin_client, bulk, "disable_selected", [first], select_across="1", index="0")
    html = page.content.decode()
    assert page.status_code == 200 and "these 1200 vouchers will change" in html
    assert "L-00000" in html and "L-00099" in html and "L-00100" not in html  # a sample...
    assert "and 1100 more vouchers matching the same filters" in html  # ...and the count
    fields = hidden_inputs(html)
    assert len(fields) < 10 and ("select_across", "1") in fields and ("confirmed_count", "1200") in fields

    resp = admin_client.post(bulk, dict(fields), follow=True)  # the query string keeps the filter
    assert resp.status_code == 200
    assert "Disable of 1200 vouchers runs in the background" in str(list(resp.context["messages"]))
    assert not any(v["active"] for c, v in sandbox.state.vouchers.items() if c.startswith("L-"))
    assert sandbox.state.vouchers["OTHER-1"]["active"] is True  # outside the filter
    assert Voucher.objects.filter(category="bulk", active=True).count() == 0
    assert SELECTION_CHUNK == 500 and len(task_messages) == 3  # 500 + 500 + 200
    assert all(len(body) < 300 and "L-0" not in body for body in task_messages)  # no codes in messages


def test_selection_changed_since_confirmation_does_nothing(admin_client, sandbox, bulk):
    first = Voucher.objects.filter(category="bulk").order_by("code").first()
    html = post_action(
        admin_client, bulk, "disable_selected", [first], select_across="1", index="0"
    ).content.decode()
    client.vouchers.create("L-LATE", {"type": "GIFT_VOUCHER", "gift": {"amount": 1}, "category": "bulk"})
    refresh_all()
    resp = admin_client.post(bulk, dict(hidden_inputs(html)), follow=True)
    assert "The selection changed since the confirmation page (1200 vouchers then, 1201 now)" in str(
        list(resp.context["messages"])
    )
    assert all(v["active"] for v in sandbox.state.vouchers.values())


@override_settings(USE_THOUSAND_SEPARATOR=True)
def test_hidden_pks_are_not_localised(admin_client, sandbox):
    make_voucher("TS-1")
    Voucher.objects.create(pk=12345, code="TS-1")
    page = post_action(admin_client, CHANGELIST, "disable_selected", ["12345"], index="0")
    fields = hidden_inputs(page.content.decode())
    assert ("_selected_action", "12345") in fields
    resp = admin_client.post(CHANGELIST, dict(fields), follow=True)
    assert "Disable: done for TS-1." in [str(m) for m in resp.context["messages"]]
    assert sandbox.state.vouchers["TS-1"]["active"] is False
