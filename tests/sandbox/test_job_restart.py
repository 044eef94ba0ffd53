"""A chunked job survives a restart: a save taken while it lets the state lock go between two
chunks holds the job and its cursor, and the restarted sandbox finishes it without doing the
saved chunks twice (review 17: the job left the queue before it ran, so such a save held
neither the job nor its result and the async action stayed IN_PROGRESS forever)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.handlers import campaign_vouchers
from django_voucherify.sandbox.persistence import FilePersistence, load_state
from tests.support.sandbox import Api

CampaignMaker = Callable[..., dict[str, Any]]  # the ``coupon_campaign`` fixture (conftest)
COUNT = 450  # several chunks (campaign_vouchers.CHUNK codes at most per hold of the lock)


def _save_at_breath(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, path: Path, nth: int, module: Any = campaign_vouchers
) -> list[int]:
    """Make the persistence save ``path`` at the job's ``nth`` breath (when the lock is let go
    and another thread's save can run: the save takes the lock itself, re-entrant here).
    ``module``: the one whose ``breathe`` the job calls (``campaign_vouchers``, ``jobs``)."""
    real = module.breathe
    breaths: list[int] = []
    saver = FilePersistence(sandbox.state, path, interval=3600)

    def breathe(state: Any) -> None:
        breaths.append(1)
        if len(breaths) == nth:
            saver.save()
        real(state)

    monkeypatch.setattr(module, "breathe", breathe)
    return breaths


def _restart(path: Path) -> Api:
    restarted = Sandbox(state=load_state(path))
    restarted.wait_for_jobs(timeout=60)
    return Api(restarted)


def _action(api: Api, action_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/v1/async-actions/{action_id}").json()
    return body


def _campaign_codes(api: Api, campaign_id: str) -> set[str]:
    return set(api.sandbox.state.vouchers.bucket("campaign_id").keys_of.get(campaign_id, set()))


@pytest.mark.parametrize("nth", [1, 2])
def test_generation_saved_between_chunks_finishes_after_restart_with_exactly_its_count(
    api: Api, coupon_campaign: CampaignMaker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, nth: int
) -> None:
    path = tmp_path / "state.json"
    breaths = _save_at_breath(monkeypatch, api.sandbox, path, nth)
    camp = coupon_campaign()
    r = api.post(f"/v1/campaigns/{camp['id']}/vouchers", params={"vouchers_count": COUNT}, json={})
    assert r.status_code == 202, r.text
    api.sandbox.wait_for_jobs(timeout=60)
    assert len(breaths) >= nth  # the save was taken mid-job

    after = _restart(path)
    action = _action(after, r.json()["async_action_id"])
    assert action["status"] == "DONE", action
    assert action["result"]["done_count"] == COUNT
    assert len(_campaign_codes(after, camp["id"])) == COUNT
    assert after.get(f"/v1/campaigns/{camp['id']}").json()["vouchers_count"] == COUNT


def test_campaign_creation_saved_mid_generation_is_done_after_restart(
    api: Api, coupon_campaign: CampaignMaker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    _save_at_breath(monkeypatch, api.sandbox, path, 1)
    camp = coupon_campaign(COUNT)

    after = _restart(path)
    got = after.get(f"/v1/campaigns/{camp['id']}").json()
    assert got["creation_status"] == "DONE" and got["vouchers_count"] == COUNT


def test_import_saved_between_chunks_imports_each_row_once_after_restart(
    api: Api, coupon_campaign: CampaignMaker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    _save_at_breath(monkeypatch, api.sandbox, path, 1)
    camp = coupon_campaign()
    rows: list[Any] = [{"code": f"IMP-{i:04d}"} for i in range(COUNT)]
    rows[10] = {"code": "IMP-0009"}  # a duplicate before the save: still one failure
    rows[300] = {"code": ""}  # a bad row after it
    r = api.post(f"/v1/campaigns/{camp['id']}/import", json=rows)
    api.sandbox.wait_for_jobs(timeout=60)

    after = _restart(path)
    action = _action(after, r.json()["async_action_id"])
    assert action["status"] == "DONE", action
    assert action["result"]["done_count"] == COUNT - 2
    assert [f["code"] for f in action["result"]["failed"]] == ["IMP-0009", ""]
    assert len(_campaign_codes(after, camp["id"])) == COUNT - 2


def test_campaign_delete_saved_between_chunks_finishes_after_restart(
    api: Api, coupon_campaign: CampaignMaker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    camp = coupon_campaign(COUNT)
    path = tmp_path / "state.json"
    _save_at_breath(monkeypatch, api.sandbox, path, 1)
    r = api.delete(f"/v1/campaigns/{camp['id']}")
    assert r.status_code == 202, r.text
    api.sandbox.wait_for_jobs(timeout=60)

    after = _restart(path)
    action = _action(after, r.json()["async_action_id"])
    assert action["status"] == "DONE", action
    assert action["result"]["done_count"] == COUNT
    assert not _campaign_codes(after, camp["id"])
    assert len(after.sandbox.state.bin) == COUNT


def test_a_finished_job_is_not_run_again_after_restart(
    api: Api, coupon_campaign: CampaignMaker, tmp_path: Path
) -> None:
    camp = coupon_campaign()
    r = api.post(f"/v1/campaigns/{camp['id']}/vouchers", params={"vouchers_count": 5}, json={})
    api.sandbox.wait_for_jobs()
    path = tmp_path / "state.json"
    FilePersistence(api.sandbox.state, path, interval=3600).save()
    assert not api.sandbox.state.extra.get("jobs")

    after = _restart(path)
    assert _action(after, r.json()["async_action_id"])["result"]["done_count"] == 5
    assert len(_campaign_codes(after, camp["id"])) == 5


# ---- the catalog's jobs: chunked and resumable ---------------------------------------------
def test_products_bulk_lets_requests_in_and_finishes_after_a_restart_with_each_item_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    breaths = _save_at_breath(monkeypatch, api.sandbox, path, 1, jobs)
    items: list[Any] = [{"source_id": f"p{i}", "name": f"P{i}", "metadata": {"n": i}} for i in range(COUNT)]
    items[5] = {"name": "no source id"}  # fails before the save
    items[400] = {"name": "no source id either"}  # fails after it
    r = api.post("/v1/products/bulk/async", json=items)
    assert r.status_code == 202, r.text
    api.sandbox.wait_for_jobs(timeout=60)
    assert len(breaths) >= COUNT // 200  # review 17: the whole list in one hold of the lock

    after = _restart(path)
    action = _action(after, r.json()["async_action_id"])
    assert action["status"] == "DONE", action
    assert action["result"]["done_count"] == COUNT - 2
    assert action["result"]["failed_count"] == 2 == len(action["result"]["errors"])
    assert after.get("/v1/products", params={"limit": 1}).json()["total"] == COUNT - 2


def test_catalog_csv_import_finishes_after_a_restart_with_each_row_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    _save_at_breath(monkeypatch, api.sandbox, path, 1, jobs)
    lines = ["name,source_id,price"] + [f"P{i},csv{i},{i}" for i in range(COUNT)]
    lines[300] = ",nameless,1"  # a row that fails (name is required), after the save
    r = api.post("/v1/products/importCSV", files={"file": ("p.csv", "\n".join(lines).encode(), "text/csv")})
    assert r.status_code == 200, r.text
    api.sandbox.wait_for_jobs(timeout=60)

    after = _restart(path)
    action = _action(after, r.json()["async_action_id"])
    assert action["status"] == "DONE", action
    assert action["result"]["done_count"] == COUNT - 1
    assert [f["row"] for f in action["result"]["failed"]] == [300]


def test_a_job_started_twice_runs_once(api: Api, coupon_campaign: CampaignMaker) -> None:
    """The job stays queued while it runs, so resume() on a state whose job is running (a second
    Sandbox over the same state) started it a second time, and both made codes."""
    from django_voucherify.sandbox import jobs

    camp = coupon_campaign()
    api.sandbox.state.jobs_may_run.clear()
    r = api.post(f"/v1/campaigns/{camp['id']}/vouchers", params={"vouchers_count": COUNT}, json={})
    jobs.resume(api.sandbox.state)
    api.sandbox.state.jobs_may_run.set()
    api.sandbox.wait_for_jobs(timeout=60)
    assert _action(api, r.json()["async_action_id"])["result"]["done_count"] == COUNT
    assert len(_campaign_codes(api, camp["id"])) == COUNT
