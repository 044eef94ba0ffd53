"""Custom events in the sandbox: stored on the customer's activity, customer matched or created."""

from __future__ import annotations

import pytest

from tests.support.sandbox import Api


def test_an_event_creates_the_unknown_customer_and_lands_on_its_activity(api: Api):
    r = api.post(
        "/v1/events",
        json={
            "event": "cart_abandoned",
            "customer": {"source_id": "ann", "email": "a@x.io"},
            "metadata": {"n": 1},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "event" and body["type"] == "cart_abandoned"
    assert body["customer"]["source_id"] == "ann" and body["customer"]["email"] == "a@x.io"
    assert body["loyalty"] is None and body["referral"] is None and body["metadata"] == {"n": 1}
    activity = api.get("/v1/customers/ann/activity", params={"type": "customer.custom_event"}).json()["data"]
    assert len(activity) == 1
    event = activity[0]["data"]["data"]["event"]
    assert event["type"] == "cart_abandoned" and event["metadata"] == {"n": 1}
    assert event["customer"]["id"] == body["customer"]["id"]


def test_a_known_customer_is_matched_not_duplicated(api: Api):
    cust = api.post("/v1/customers", json={"source_id": "bob"}).json()
    for ident in ({"source_id": "bob"}, {"id": cust["id"]}):
        assert (
            api.post("/v1/events", json={"event": "e", "customer": ident}).json()["customer"]["id"]
            == cust["id"]
        )
    assert api.get("/v1/customers").json()["total"] == 1
    events = api.get("/v1/customers/bob/activity", params={"type": "customer.custom_event"}).json()["data"]
    assert len(events) == 2
    # the same event name shares one event schema
    assert len({e["data"]["data"]["event_schema"]["id"] for e in events}) == 1
    # permanent deletion counts the tracked events
    deleted = api.post("/v1/customers/bob/permanent-deletion").json()
    assert deleted["data_json"]["events"] == 2


def test_unknown_customer_id_loyalty_code_and_referrer_are_404(api: Api):
    assert api.post("/v1/events", json={"event": "e", "customer": {"id": "cust_nope"}}).status_code == 404
    assert (
        api.post(
            "/v1/events", json={"event": "e", "customer": {"source_id": "c"}, "loyalty": {"code": "NOPE"}}
        ).status_code
        == 404
    )
    api.post("/v1/vouchers/GIFT", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1}})
    r = api.post(
        "/v1/events", json={"event": "e", "customer": {"source_id": "c"}, "loyalty": {"code": "GIFT"}}
    )
    assert r.status_code == 404  # not a loyalty card
    r = api.post(
        "/v1/events",
        json={
            "event": "e",
            "customer": {"source_id": "c"},
            "referral": {"code": "GIFT", "referrer_id": "nobody"},
        },
    )
    assert r.status_code == 404
    # nothing half-done: the customer was not created by the refused requests
    assert api.get("/v1/customers/c").status_code == 404


def test_loyalty_and_referral_are_recorded_on_the_event(api: Api):
    api.post(
        "/v1/vouchers/CARD", json={"type": "LOYALTY_CARD", "campaign": "Club", "loyalty_card": {"points": 0}}
    )
    referrer = api.post("/v1/customers", json={"source_id": "ref"}).json()
    r = api.post(
        "/v1/events",
        json={
            "event": "e",
            "customer": {"source_id": "c"},
            "loyalty": {"code": "CARD"},
            "referral": {"code": "CARD", "referrer_id": "ref"},
        },
    )
    assert r.status_code == 200, r.text
    event = api.get("/v1/customers/c/activity").json()["data"][0]["data"]["data"]["event"]
    assert event["loyalty"] == {"code": "CARD"}
    assert event["referral"] == {"code": "CARD", "referrer_id": referrer["id"]}


@pytest.mark.parametrize(
    "body",
    [
        {"customer": {"source_id": "c"}},
        {"event": "", "customer": {"source_id": "c"}},
        {"event": "e"},
        {"event": "e", "customer": {"source_id": "c"}, "metadata": [1]},
        {"event": "x" * 301, "customer": {}},
    ],
)
def test_bad_events_are_400(api: Api, body):
    r = api.post("/v1/events", json=body)
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload", r.text
