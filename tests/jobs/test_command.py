"""``manage.py voucherify_job``: each kind from files, progress, exit status for cron."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_voucherify.models import Job, JobState
from tests.support.jobs import voucher_csv

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("voucherify_job", *args, "--here", "--timeout", "20", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_update_and_export_from_the_command_line(sandbox, tmp_path):
    (tmp_path / "v.csv").write_bytes(voucher_csv(5))
    out, err = run("import-vouchers", str(tmp_path / "v.csv"))
    assert "done, 5 done, 0 failed of 5 rows" in out and "100%" in err
    (tmp_path / "codes.txt").write_text("CODE-0000000\nCODE-0000001\n")
    out, _ = run("update-vouchers-metadata", str(tmp_path / "codes.txt"), "--metadata", '{"b": 1}')
    assert sandbox.state.vouchers["CODE-0000001"]["metadata"]["b"] == 1
    (tmp_path / "o.json").write_text(json.dumps([{"source_id": "co-1", "amount": 100}]))
    run("import-orders", str(tmp_path / "o.json"))
    out, _ = run("export-orders", "--output", str(tmp_path / "orders.csv"))
    assert "co-1" in (tmp_path / "orders.csv").read_text()
    assert "done, 1 row(s) exported" in out and "of 0 rows" not in out  # not the input-row summary
    assert set(Job.objects.values_list("state", flat=True)) == {JobState.DONE}


def test_failed_rows_and_bad_files_exit_non_zero(sandbox, tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"Nope\n1\n")
    with pytest.raises(CommandError, match="no Code column"):
        run("import-vouchers", str(tmp_path / "bad.csv"))
    (tmp_path / "c.csv").write_bytes(b"Source_id,Birthdate\nc-1,1990-13-45\nc-2,1990-01-01\n")
    with pytest.raises(CommandError, match="1 row"):
        run("import-customers", str(tmp_path / "c.csv"))


def test_status_of_a_queued_job(sandbox, tmp_path):
    out = StringIO()
    (tmp_path / "u.json").write_text(json.dumps([{"source_id": "s-1", "name": "S"}]))
    call_command("voucherify_job", "update-customers", str(tmp_path / "u.json"), "--no-wait", stdout=out)
    job = Job.objects.get()
    call_command("voucherify_job", "status", str(job.pk), stdout=out)
    assert f"{job}: running" in out.getvalue()


def test_here_queues_nothing_on_celery(sandbox, tmp_path, monkeypatch):
    from django_voucherify.tasks import jobs as job_tasks

    sent = []
    for task in (job_tasks.prepare_job, job_tasks.submit_job_part, job_tasks.poll_job_part):
        monkeypatch.setattr(task, "apply_async", lambda *a, _t=task.name, **kw: sent.append(_t))
    (tmp_path / "v.csv").write_bytes(voucher_csv(3))
    out, _ = run("import-vouchers", str(tmp_path / "v.csv"))
    (tmp_path / "codes.txt").write_text("CODE-0000000\n")
    run("update-vouchers-metadata", str(tmp_path / "codes.txt"), "--metadata", '{"b": 1}')
    assert sent == [] and "done, 3 done" in out
    assert set(Job.objects.values_list("state", flat=True)) == {JobState.DONE}


def test_a_codes_file_that_is_not_utf8_is_a_clear_error(sandbox, tmp_path):
    (tmp_path / "codes.txt").write_bytes(b"OK-1\nCAF\xe9\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        run("update-vouchers-metadata", str(tmp_path / "codes.txt"), "--metadata", "{}")
    assert Job.objects.count() == 0


def test_status_counts_rows_refused_locally_before_any_part_is_sent(sandbox, tmp_path):
    """The summary counts the rows refused at the start at once (not "0 failed" until a part
    finishes), and lists them."""
    out = StringIO()
    (tmp_path / "codes.txt").write_text("GOOD-1\n..\nGOOD-2\n" + "X" * 101 + "\n")
    call_command(
        "voucherify_job", "update-vouchers-metadata", str(tmp_path / "codes.txt"), "--metadata", '{"b": 1}',
        "--no-wait", stdout=out,
    )  # fmt: skip
    job = Job.objects.get()
    assert job.state == JobState.RUNNING and job.done_count == 0  # nothing sent yet
    call_command("voucherify_job", "status", str(job.pk), stdout=out)  # unfinished: exit status 0
    text = out.getvalue()
    assert f"{job}: running, 0 done, 2 failed of 4 rows" in text
    assert "  row 2 ..: " in text and "  row 4 XXXX" in text
