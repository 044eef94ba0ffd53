"""Staff start an export from the admin (kind, filters, fields) and download its file."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils.html import escape

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobKind, JobState

pytestmark = pytest.mark.django_db(transaction=True)
EXPORT = reverse("admin:django_voucherify_job_export")


def download(client, job):
    response = client.get(reverse("admin:django_voucherify_job_result_file", args=[job.pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content).decode()


def test_order_export_with_status_filter_and_fields_is_downloaded(admin_client, sandbox):
    orders = [
        {"source_id": f"x-{i}", "amount": 100, "status": "PAID" if i % 2 else "CREATED"} for i in range(6)
    ]
    runner.drive(jobs.import_orders(orders), timeout=20)
    page = admin_client.get(reverse("admin:django_voucherify_job_changelist")).content.decode()
    assert EXPORT in page  # the changelist offers it
    response = admin_client.post(
        EXPORT,
        {
            "what": "orders",
            "export_fields": ["status", "source_id"],
            "status": ["PAID"],
            "sort": "created_at",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    job = Job.objects.get(kind=JobKind.EXPORT_ORDERS)
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")
    assert job.parts.get().payload == {
        "order": "created_at",
        "fields": ["source_id", "status"],  # the spec's order, whatever order they were ticked in
        "filters": {"junction": "and", "status": {"conditions": {"$in": ["PAID"]}}},
    }
    job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE, job.error
    rows = list(csv.reader(io.StringIO(download(admin_client, job))))
    assert rows[0] == ["source_id", "status"]
    assert sorted(r[0] for r in rows[1:]) == ["x-1", "x-3", "x-5"] and {r[1] for r in rows[1:]} == {"PAID"}
    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    assert reverse("admin:django_voucherify_job_result_file", args=[job.pk]) in page


def test_card_transactions_need_a_valid_code(admin_client, sandbox):
    for code in ("", "BAD\u00a0CODE", ".."):
        page = admin_client.post(
            EXPORT, {"what": "voucher_transactions", "code": code, "sort": "-created_at"}
        )
        assert page.status_code == 200 and page.context["form"].errors.get("code"), code
    assert not Job.objects.exists() and sandbox.calls.calls == []


BAD_EXPORT_FORMS = [
    {},  # an empty POST: every required field missing
    {"what": "voucher_transactions", "code": "", "sort": "-created_at"},
    {"what": "voucher_transactions", "code": "..", "sort": "nope"},
    {"what": "nope", "sort": "nope", "status": ["nope", "NOPE"], "export_fields": ["nope"]},
    {"what": "orders", "code": "A" * 101, "sort": "", "status": ["nope"]},
]


@pytest.mark.parametrize("data", BAD_EXPORT_FORMS)
def test_each_export_form_error_is_said_exactly_once(admin_client, sandbox, data):
    """Every message on the page appears once: no generic sentence repeated for several fields,
    no message both at a field and above the form; an empty POST is answered with its errors."""
    response = admin_client.post(EXPORT, data)
    assert response.status_code == 200
    form = response.context["form"]
    messages = [str(m) for errors in form.errors.values() for m in errors]
    assert messages, data
    page = response.content.decode()
    for message in messages:
        assert page.count(escape(message)) == 1, (message, data)
    assert len(set(messages)) == len(messages), messages
    assert not Job.objects.exists() and sandbox.calls.calls == []


def test_no_file_yet_is_a_404_not_a_500(admin_client, sandbox):
    job = Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.RUNNING)
    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    assert "data-job-result hidden" in page and "not ready yet" in page
    assert (
        admin_client.get(reverse("admin:django_voucherify_job_result_file", args=[job.pk])).status_code == 404
    )


def test_export_and_download_need_their_permissions(client, sandbox):
    job = Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.RUNNING)
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_voucher"))
    client.force_login(user)
    assert client.get(EXPORT).status_code == 403
    assert client.post(EXPORT, {"what": "orders", "sort": "-created_at"}).status_code == 403
    assert client.get(reverse("admin:django_voucherify_job_result_file", args=[job.pk])).status_code == 403
    assert Job.objects.count() == 1


def test_the_download_quotes_formula_cells_and_keeps_numbers(admin_client, sandbox):
    from django.core.files.base import ContentFile

    job = Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.DONE)
    stored = b"source_id,amount,metadata\r\n"
    stored += b'"=HYPERLINK(""http://evil.test"",""x"")",-500,"=cmd|\' /C calc\'!A0"\r\n'
    stored += b"plain,1.5,\xef\xbc\x9dSUM(A1)\r\n"
    job.result_file.save("export.csv", ContentFile(stored))
    rows = list(csv.reader(io.StringIO(download(admin_client, job))))
    assert rows == [
        ["source_id", "amount", "metadata"],
        ['\'=HYPERLINK("http://evil.test","x")', "-500", "'=cmd|' /C calc'!A0"],
        ["plain", "1.5", "'\uff1dSUM(A1)"],
    ]
    with job.result_file.open("rb") as f:  # the stored file stays what Voucherify sent
        assert f.read() == stored


def test_seeing_jobs_is_not_seeing_the_exported_orders(client, sandbox):
    from django.core.files.base import ContentFile

    job = Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.DONE)
    job.result_file.save("export.csv", ContentFile(b"source_id,customer_id\r\nx-1,cust_1\r\n"))
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    url = reverse("admin:django_voucherify_job_result_file", args=[job.pk])
    assert client.get(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(url).status_code == 200
