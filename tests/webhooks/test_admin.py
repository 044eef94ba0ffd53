"""Webhook events in the admin: read-only, parked ones findable, reprocessed only by staff with
the permission and after a confirmation page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from django_voucherify.models import WebhookEvent, WebhookEventState
from django_voucherify.webhooks import record
from tests.support.admin import post_action
from tests.support.webhooks import envelope

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_voucherify/webhookevent/"


@pytest.fixture
def parked() -> WebhookEvent:
    row, _ = record(envelope("voucher.updated", {"voucher": {"code": "P"}}))
    WebhookEvent.objects.filter(pk=row.pk).update(
        state=WebhookEventState.PARKED, needs_attention=True, attempts=8, last_error="boom"
    )
    return row


def staff(django_user_model: Any, *perms: str) -> Any:
    user = django_user_model.objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    for codename in ("view_webhookevent", *perms):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_staff_with_view_permission_only_cannot_reprocess(
    client: Any, django_user_model: Any, parked: Any
) -> None:
    client.force_login(staff(django_user_model))
    page = client.get(CHANGELIST + "?needs_attention__exact=1")
    assert page.status_code == 200 and parked.event_id in page.content.decode()
    assert "reprocess_selected" not in page.content.decode()
    response = post_action(client, CHANGELIST, "reprocess_selected", [parked], post="yes")
    parked.refresh_from_db()
    assert parked.state == WebhookEventState.PARKED  # refused: no permission
    assert response.status_code in (200, 302)


def test_reprocess_asks_for_confirmation_then_processes(
    client: Any, django_user_model: Any, parked: Any
) -> None:
    client.force_login(staff(django_user_model, "reprocess_webhookevent"))
    confirm = post_action(client, CHANGELIST, "reprocess_selected", [parked])
    assert confirm.status_code == 200 and "confirm-reprocess" in confirm.content.decode()
    parked.refresh_from_db()
    assert parked.state == WebhookEventState.PARKED  # nothing done before confirming
    done = post_action(client, CHANGELIST, "reprocess_selected", [parked], post="yes")
    assert done.status_code == 302
    parked.refresh_from_db()
    assert parked.state == WebhookEventState.PENDING and parked.attempts == 0 and not parked.needs_attention


def test_events_are_read_only(client: Any, django_user_model: Any, parked: Any) -> None:
    client.force_login(staff(django_user_model, "change_webhookevent"))
    page = client.get(f"{CHANGELIST}{parked.pk}/change/")
    assert page.status_code == 200
    assert 'name="payload"' not in page.content.decode()
    assert client.get(CHANGELIST + "add/").status_code == 403


@pytest.mark.django_db(transaction=True)  # the processing is sent when the request commits
def test_the_confirmation_posts_back_pks_unlocalised(
    client: Any, django_user_model: Any, parked: Any, settings: Any
) -> None:
    """With thousand separators on (``USE_THOUSAND_SEPARATOR``), the confirmation page wrote
    event 12345 as ``12,345`` in its hidden input: confirming matched no event (nothing
    reprocessed, nothing said) from the 1000th event on (the admin review)."""
    settings.USE_THOUSAND_SEPARATOR = True
    WebhookEvent.objects.filter(pk=parked.pk).update(id=12345)
    client.force_login(staff(django_user_model, "reprocess_webhookevent"))
    page = post_action(client, CHANGELIST, "reprocess_selected", [12345]).content.decode()
    form = page[page.index('<form method="post">') :]
    assert 'name="_selected_action" value="12345"' in form
    post_action(client, CHANGELIST, "reprocess_selected", [12345], post="yes")
    assert WebhookEvent.objects.get(pk=12345).state != WebhookEventState.PARKED


@pytest.mark.django_db(transaction=True)  # the processing is sent when the request commits
def test_select_all_parked_events_is_confirmed_by_count_not_one_input_per_event(
    client: Any, django_user_model: Any, monkeypatch: Any
) -> None:
    """After an outage thousands of events are parked and staff "select all" to reprocess them:
    the confirmation page listed every event with one hidden input each, so confirming more
    than DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) was a 400 and nothing was reprocessed (the admin
    review). It is now the admin's shared confirmation page: a sample, the count, and "select
    all" posted back as ``select_across``."""
    from django_voucherify.admin import confirmation

    events = []
    for n in range(3):
        row, _ = record(envelope("voucher.updated", {"voucher": {"code": f"P{n}"}}))
        WebhookEvent.objects.filter(pk=row.pk).update(state=WebhookEventState.PARKED, attempts=8)
        events.append(row)
    monkeypatch.setattr(confirmation, "CONFIRM_LIST_LIMIT", 2)
    client.force_login(staff(django_user_model, "reprocess_webhookevent"))
    page = post_action(client, CHANGELIST, "reprocess_selected", events[:1], select_across="1", index="0")
    html = page.content.decode()
    assert page.status_code == 200 and "These 3 events will be processed again" in html
    form = html[html.index('<form method="post">') :]
    assert form.count('name="_selected_action"') == 1 and 'name="select_across" value="1"' in form
    assert 'id="confirm-reprocess"' in form
    post_action(
        client,
        CHANGELIST,
        "reprocess_selected",
        events[:1],
        select_across="1",
        index="0",
        post="yes",
        confirmed_count="3",
    )
    assert not WebhookEvent.objects.filter(state=WebhookEventState.PARKED).exists()


@pytest.mark.django_db(transaction=True)  # the tasks are sent when the transaction commits
def test_reprocess_of_select_all_sends_a_bounded_number_from_the_request(
    client: Any, django_user_model: Any, monkeypatch: Any
) -> None:
    """Review s1: "select all" made the reprocess send one task per parked event from the
    request (and list every pk twice in its SQL): 20,000 events took 1 s before any broker
    publish, growing with the selection. Now REPROCESS_SEND_LIMIT tasks are sent at once and the
    sweep sends the others, which are pending and due."""
    from django_voucherify import background
    from django_voucherify.webhooks import events

    WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                event_id=f"evt_{n}", type="voucher.updated", payload={}, state=WebhookEventState.PARKED
            )
            for n in range(5)
        ]
    )
    monkeypatch.setattr(events, "REPROCESS_SEND_LIMIT", 2, raising=False)
    sent: list[int] = []
    monkeypatch.setattr(background, "send", lambda name, args, *a, **k: sent.append(args[0]) or True)
    client.force_login(staff(django_user_model, "reprocess_webhookevent"))
    pks = sorted(WebhookEvent.objects.values_list("pk", flat=True))
    response = post_action(
        client, CHANGELIST, "reprocess_selected", pks[:1], select_across="1", post="yes", confirmed_count="5"
    )
    assert response.status_code == 302
    assert WebhookEvent.objects.filter(state=WebhookEventState.PENDING, attempts=0).count() == 5
    assert sent == pks[:2]
    sent.clear()
    events.sweep()  # (the first two again too: no worker ran their tasks here)
    assert set(pks[2:]) <= set(sent)


def test_the_confirmation_lists_only_the_parked_events_it_will_reprocess(
    client: Any, django_user_model: Any, parked: Any
) -> None:
    """The demo walked as staff: "select all" on the events, Reprocess, and the page said "These
    279 events will be processed again", then "0 events sent for processing": only parked events
    are reprocessed and none was. The page now lists only those and says the others stay as
    they are; a selection without a parked event is refused at once."""
    processed, _ = record(envelope("voucher.updated", {"voucher": {"code": "Q"}}))
    WebhookEvent.objects.filter(pk=processed.pk).update(state=WebhookEventState.PROCESSED)
    client.force_login(staff(django_user_model, "reprocess_webhookevent"))
    html = post_action(client, CHANGELIST, "reprocess_selected", [parked, processed]).content.decode()
    assert "This event will be processed again" in html and parked.event_id in html
    assert processed.event_id not in html
    assert "1 selected event is not parked and is left as it is." in html
    refused = post_action(client, CHANGELIST, "reprocess_selected", [processed], follow=True)
    text = refused.content.decode()
    assert "confirm-reprocess" not in text and "Only parked events can be reprocessed" in text
