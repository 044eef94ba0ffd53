"""Every job kind end to end against the in-process sandbox (eager Celery, driven in-process)."""

from __future__ import annotations

import io

import pytest

from django_voucherify import jobs
from django_voucherify.api.errors import NotFoundError
from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobKind, JobState, PartState
from tests.support.jobs import voucher_csv

pytestmark = pytest.mark.django_db(transaction=True)


def finish(job: Job) -> Job:
    return runner.drive(job, timeout=20)


def test_voucher_csv_import_reaches_done_and_sends_a_signal(sandbox):
    seen = []

    def receiver(sender, job, **kwargs):
        seen.append((job.pk, job.state))

    jobs.job_finished.connect(receiver)
    try:
        job = finish(jobs.import_vouchers_csv(io.BytesIO(voucher_csv(50)), name="codes.csv"))
    finally:
        jobs.job_finished.disconnect(receiver)
    assert job.state == JobState.DONE, job.error
    assert (job.total_rows, job.done_count, job.failed_count, job.progress) == (50, 50, 0, 100)
    assert job.async_action_id.startswith("aa_")
    assert len(sandbox.state.vouchers) == 50
    assert sandbox.state.vouchers["CODE-0000007"]["discount"]["percent_off"] == 10
    assert seen == [(job.pk, JobState.DONE)]
    assert sandbox.calls.count("POST", "/v1/vouchers/importCSV") == 1
    assert job.params["source_name"] == "codes.csv" and job.source_file.name == ""  # deleted at the end


def test_json_imports_are_split_under_the_limits(sandbox, tune):
    tune(BULK_CHUNK_BYTES=20_000)
    vouchers = [
        {"code": f"J-{i}", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
        for i in range(300)
    ]
    job = finish(jobs.import_vouchers(vouchers))
    assert job.state == JobState.DONE
    parts = list(job.parts.all())
    assert len(parts) > 1 and all(p.size_bytes < 20_000 for p in parts)
    assert job.done_count == 300 and len(sandbox.state.vouchers) == 300
    assert sandbox.calls.count("POST", "/v1/vouchers/import") == len(parts)


def test_orders_import_at_most_2000_per_request(sandbox):
    orders = [{"source_id": f"o-{i}", "amount": 100, "status": "PAID"} for i in range(4500)]
    job = finish(jobs.import_orders(orders))
    assert job.state == JobState.DONE, job.error
    assert [p.row_count for p in job.parts.all()] == [2000, 2000, 500]
    assert job.done_count == 4500 and len(sandbox.state.orders) == 4500


def test_bulk_and_metadata_updates_report_failed_rows(sandbox):
    finish(
        jobs.import_vouchers(
            [{"code": "A", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}]
        )
    )
    job = finish(jobs.update_vouchers_metadata(["A", "MISSING"], {"batch": "spring"}))
    assert job.state == JobState.DONE
    assert (job.done_count, job.failed_count) == (1, 1)
    assert job.failed_rows[0]["code"] == "MISSING" and job.failed_rows[0]["reason"]
    assert sandbox.state.vouchers["A"]["metadata"] == {"batch": "spring"}
    job = finish(jobs.bulk_update_vouchers([{"code": "A", "metadata": {"x": 1}}, {"metadata": {}}]))
    assert job.failed_rows == [{"row": 2, "reason": "code is required."}]
    assert sandbox.state.vouchers["A"]["metadata"] == {"batch": "spring", "x": 1}
    job = finish(jobs.bulk_update_customers([{"source_id": "c1", "name": "C"}]))
    assert job.done_count == 1 and sandbox.state.find_customer("c1")["name"] == "C"
    job = finish(jobs.update_customers_metadata(["c1"], {"tier": "gold"}))
    assert job.state == JobState.DONE and sandbox.state.find_customer("c1")["metadata"] == {"tier": "gold"}


def test_customer_csv_import(sandbox):
    data = (
        b"Name,Email,Source_id,Birthdate\nAnn,ann@example.com,c-ann,1990-01-02\nBob,bob@example.com,c-bob,\n"
    )
    job = finish(jobs.import_customers_csv(io.BytesIO(data), name="customers.csv"))
    assert job.state == JobState.DONE and job.done_count == 2
    assert sandbox.state.find_customer("c-ann")["email"] == "ann@example.com"


def test_exports_are_downloaded_into_storage(sandbox):
    finish(jobs.import_orders([{"source_id": f"e-{i}", "amount": 100, "status": "PAID"} for i in range(3)]))
    job = finish(jobs.export_orders({"fields": ["id", "source_id", "status"]}))
    assert job.state == JobState.DONE, job.error
    with job.result_file.open("rb") as f:
        content = f.read().decode()
    assert content.splitlines()[0] == "id,source_id,status" and content.count("e-") == 3
    assert job.done_count == 3 and job.kind == JobKind.EXPORT_ORDERS
    assert job.total_rows == 3  # the rows exported: the admin said "Rows: 0, Done: 3"


def test_async_action_not_found_fails_the_job_clearly(sandbox):
    job = jobs.import_vouchers(
        [{"code": "N", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}]
    )
    part = job.parts.get()
    assert part.state == PartState.SUBMITTED  # eager submit ran on commit
    sandbox.state.async_actions.pop(part.async_action_id)
    job = finish(job)
    assert job.state == JobState.FAILED
    assert "no async action" in job.error and part.async_action_id in job.error


@pytest.mark.parametrize("kind", ["import", "export"])
def test_a_404_that_is_not_voucherifys_answer_is_polled_again(sandbox, monkeypatch, kind):
    """A gateway's or proxy's 404 page (no Voucherify error key) says nothing about the async
    action or export: the poll tries again later, as after a 5xx, rather than failing the part
    with "outcome unknown" while Voucherify carries it out."""
    resource = runner._client().exports if kind == "export" else runner._client().async_actions
    real_get = resource.get
    pages = []

    def gateway_404_twice(remote_id):
        if len(pages) < 2:
            pages.append(remote_id)  # what the transport makes of an HTML 404 page
            raise NotFoundError(404, {"message": "<html><h1>404 Not Found</h1></html>"}, method="GET")
        return real_get(remote_id)

    monkeypatch.setattr(resource, "get", gateway_404_twice)
    if kind == "export":
        job = jobs.export_orders()
    else:
        job = jobs.import_vouchers(
            [{"code": "G404", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}]
        )
    job = finish(job)
    assert len(pages) == 2 and job.state == JobState.DONE, job.error


def test_refused_submit_fails_with_request_id(sandbox):
    sandbox.faults.add(path="/v1/vouchers/import", status=400, times=1)
    job = finish(jobs.import_vouchers([{"code": "R"}]))
    assert job.state == JobState.FAILED and "400" in job.error and "request_id" in job.error
    assert job.failed_count == 1


def test_a_refused_part_keeps_voucherifys_error_in_the_shared_fields(sandbox):
    sandbox.faults.add(path="/v1/vouchers/import", status=400, times=1)
    part = finish(jobs.import_vouchers([{"code": "R"}])).parts.get()
    assert part.state == PartState.FAILED and "400" in part.last_error
    assert part.last_error_key and part.last_request_id  # Voucherify's key, and the id for support
    assert part.last_request_id in part.last_error
    assert (part.due_at, part.lease_until) == (None, None)  # nothing more is due
