"""The ledger admin's "Roll back selected redemptions" when Voucherify hangs. The action rolled
back each selected row in the request, one call per row, and went on after a timeout: a hung
Voucherify held the page CHECKOUT_TIMEOUT (plus retries) per row, for every row selected,
past any WSGI worker timeout (which kills the request with nothing said), as the campaign and
tier actions did before review 20 (the admin review). Now the first answer saying Voucherify
cannot be reached stops the calls: the rows left get their rollback asked for (with the reason)
and handed to Celery, which sends them, and the page says so."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages

from django_voucherify import checkout
from django_voucherify.api.errors import RequestTimeout
from django_voucherify.api.resources.redemptions import Redemptions
from django_voucherify.checkout import schedule
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.admin import post_action
from tests.support.vouchers import make_voucher

URL = "/admin/django_voucherify/checkoutredemption/"


@pytest.mark.django_db(transaction=True)  # the hand-over to Celery is sent when the request commits
@pytest.mark.urls("tests.checkout.urls")
def test_a_hung_voucherify_stops_the_calls_and_hands_the_rest_to_celery(sandbox, admin_client, monkeypatch):
    rows = []
    for n in range(3):
        make_voucher(f"HANG-{n}")
        rows.append(checkout.redeem([f"HANG-{n}"], {"source_id": f"ORD-H{n}", "amount": 1000}).ledger)
    calls: list[str] = []

    def hang(self: Redemptions, redemption_id: str, **kwargs: Any) -> Any:
        calls.append(redemption_id)
        raise RequestTimeout("Voucherify read timeout", method="POST", path="/v1/redemptions/x/rollback")

    handed: list[int] = []
    monkeypatch.setattr(Redemptions, "rollback", hang)
    # What would reach a worker: recorded, not run (eager mode would run it inline).
    monkeypatch.setattr(schedule, "send", lambda task, ledger_id, *args, **kwargs: handed.append(ledger_id))
    response = post_action(admin_client, URL, "rollback_selected", rows, post="yes", reason="goodwill")
    assert response.status_code == 302
    assert len(calls) == 1  # one call in the request, not one per row
    for row in CheckoutRedemption.objects.all():
        assert row.state == LedgerState.SUCCEEDED and row.rollback_pending, row
        assert row.rollback_reason == "goodwill"
    assert sorted(handed) == sorted(r.pk for r in rows)  # every row goes on in Celery
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 rollback could not be confirmed yet; it is retried in the background." in shown, shown
    assert "2 more rollbacks were asked for; they are sent in the background." in shown, shown


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.checkout.urls")
def test_a_large_selection_is_confirmed_by_count_and_sent_from_celery(sandbox, admin_client, monkeypatch):
    """A large selection: the confirmation page listed every row with one hidden input each
    (past DATA_UPLOAD_MAX_NUMBER_FIELDS, 1000, confirming was a 400) and the action then rolled
    every row back in the request, one call each. Now the page lists a sample and posts "select
    all" back as ``select_across``; ROLLBACK_INLINE_LIMIT rows are done in the request, the
    others asked for and sent from Celery."""
    from django_voucherify.admin import confirmation, ledger

    for n in range(3):
        make_voucher(f"MANY-{n}")
        checkout.redeem([f"MANY-{n}"], {"source_id": f"ORD-M{n}", "amount": 1000})
    rows = list(CheckoutRedemption.objects.order_by("pk"))
    monkeypatch.setattr(confirmation, "CONFIRM_LIST_LIMIT", 2)
    monkeypatch.setattr(ledger, "ROLLBACK_INLINE_LIMIT", 1, raising=False)
    handed: list[int] = []
    monkeypatch.setattr(schedule, "send", lambda task, ledger_id, *args, **kwargs: handed.append(ledger_id))

    page = post_action(admin_client, URL, "rollback_selected", rows[:1], select_across="1", index="0")
    html = page.content.decode()
    assert page.status_code == 200 and "These 3 redemptions will be rolled back" in html
    assert "…and 1 more redemption matching the same filters." in html
    form = html[html.index('<form method="post">') :]
    assert form.count('name="_selected_action"') == 1 and 'name="select_across" value="1"' in form

    rollbacks = sandbox.calls.count("POST")
    response = post_action(
        admin_client,
        URL,
        "rollback_selected",
        rows[:1],
        select_across="1",
        index="0",
        post="yes",
        confirmed_count="3",
        reason="goodwill",
    )
    assert response.status_code == 302
    assert sandbox.calls.count("POST") - rollbacks == 1  # one rollback in the request
    states = dict(CheckoutRedemption.objects.values_list("pk", "state"))
    assert states[rows[0].pk] == LedgerState.ROLLED_BACK
    assert sorted(handed) == [rows[1].pk, rows[2].pk]  # the others go on in Celery
    for row in rows[1:]:
        row.refresh_from_db()
        assert row.rollback_pending and row.rollback_reason == "goodwill"
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert "2 more rollbacks were asked for; they are sent in the background." in shown, shown


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.checkout.urls")
def test_the_rows_left_are_asked_for_before_the_first_call(sandbox, admin_client, monkeypatch):
    """Review s1: the rows past ROLLBACK_INLINE_LIMIT were asked for after the calls in the
    request. A request killed during them (the WSGI worker's timeout, Voucherify answering each
    just within CHECKOUT_TIMEOUT) left them never asked for, with nothing said. Now they are
    asked for (and handed to Celery) before the first call; those the request calls itself are
    marked too, so the sweep sends them if the request dies."""
    from django_voucherify.admin import ledger

    rows = []
    for n in range(3):
        make_voucher(f"KILL-{n}")
        rows.append(checkout.redeem([f"KILL-{n}"], {"source_id": f"ORD-K{n}", "amount": 1000}).ledger)
    monkeypatch.setattr(ledger, "ROLLBACK_INLINE_LIMIT", 2)
    handed: list[int] = []
    monkeypatch.setattr(schedule, "send", lambda task, ledger_id, *args, **kwargs: handed.append(ledger_id))

    def killed(self: Redemptions, redemption_id: str, **kwargs: Any) -> Any:
        raise SystemExit("worker timeout")  # what gunicorn's timeout does to the request

    monkeypatch.setattr(Redemptions, "rollback", killed)
    with pytest.raises(SystemExit):
        post_action(admin_client, URL, "rollback_selected", rows, post="yes", reason="goodwill")
    for row in rows:  # the second, never called in the request, too: the sweep sends it
        row.refresh_from_db()
        assert row.rollback_pending and row.rollback_reason == "goodwill", row
    assert handed == [rows[2].pk]  # past the inline limit: handed to Celery at once
    from django_voucherify.checkout import schedule as checkout_schedule

    handed.clear()
    monkeypatch.setattr(
        schedule, "send", lambda task, ledger_id, *args, **kwargs: handed.append(ledger_id) or True
    )
    checkout_schedule.sweep()
    assert rows[1].pk in handed
