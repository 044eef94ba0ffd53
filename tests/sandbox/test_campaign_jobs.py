"""update-campaign's propagation to the campaign's vouchers runs as a chunked
CAMPAIGN.VOUCHERS_UPDATE async action (review 17: it ran in the request, 817 ms under the state
lock at 50k vouchers)."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.handlers import campaign_vouchers
from tests.support.sandbox import Api

COUNT = 450


def _campaign(api: Api, count: int) -> dict[str, Any]:
    r = api.post(
        "/v1/campaigns",
        json={
            "name": "Prop",
            "campaign_type": "DISCOUNT_COUPONS",
            "type": "STATIC",
            "vouchers_count": count,
            "voucher": {"discount": {"type": "AMOUNT", "amount_off": 100}, "code_config": {"length": 10}},
        },
    )
    assert r.status_code == 200, r.text
    api.sandbox.wait_for_jobs(timeout=60)
    body: dict[str, Any] = r.json()
    return body


def _expirations(api: Api, campaign_id: str) -> set[Any]:
    state = api.sandbox.state
    codes = state.vouchers.bucket("campaign_id").keys_of.get(campaign_id, set())
    return {state.vouchers[c].get("expiration_date") for c in codes}


def test_propagation_lets_other_requests_in_between_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    api = Api(Sandbox())
    camp = _campaign(api, COUNT)
    breaths: list[int] = []
    real = campaign_vouchers.breathe
    monkeypatch.setattr(campaign_vouchers, "breathe", lambda state: (breaths.append(1), real(state))[1])
    r = api.put(f"/v1/campaigns/{camp['id']}", json={"expiration_date": "2099-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    api.sandbox.wait_for_jobs(timeout=60)
    assert len(breaths) >= COUNT // campaign_vouchers.CHUNK
    assert _expirations(api, camp["id"]) == {"2099-01-01T00:00:00Z"}
    actions = api.get("/v1/async-actions").json()["async_actions"]
    listed = next(a for a in actions if a["type"] == "CAMPAIGN.VOUCHERS_UPDATE")
    update = api.get(f"/v1/async-actions/{listed['id']}").json()
    assert update["status"] == "DONE" and update["result"]["done_count"] == COUNT


def test_two_updates_in_a_row_end_with_the_later_values() -> None:
    api = Api(Sandbox())
    camp = _campaign(api, COUNT)
    api.sandbox.state.jobs_may_run.clear()  # both jobs queued before either runs
    for year in ("2097", "2098"):
        r = api.put(f"/v1/campaigns/{camp['id']}", json={"expiration_date": f"{year}-01-01T00:00:00Z"})
        assert r.status_code == 200
    api.sandbox.state.jobs_may_run.set()
    api.sandbox.wait_for_jobs(timeout=60)
    assert _expirations(api, camp["id"]) == {"2098-01-01T00:00:00Z"}


def test_an_update_that_changes_no_voucher_field_starts_no_action() -> None:
    api = Api(Sandbox())
    camp = _campaign(api, 3)
    api.put(f"/v1/campaigns/{camp['id']}", json={"description": "only the campaign"})
    types = [a["type"] for a in api.get("/v1/async-actions").json()["async_actions"]]
    assert "CAMPAIGN.VOUCHERS_UPDATE" not in types
