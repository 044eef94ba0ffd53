"""A double click on the upload or export form starts one job: the form carries a one-time
token, a second POST of it starts nothing (and the page's script disables the button). With the
token's cache unreachable nothing starts either, and the page says so (it was a 500 page)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from django_voucherify.admin import submit_once
from django_voucherify.models import Job
from tests.support.admin import UNREACHABLE_CACHES

pytestmark = pytest.mark.django_db
EXPORT = reverse("admin:django_voucherify_job_export")
UPLOAD = reverse("admin:django_voucherify_job_upload")
ROOT = Path(__file__).resolve().parents[2]


def token_of(page: str) -> str:
    match = re.search(r'name="submission" value="([^"]+)"', page)
    assert match, "the form carries no one-time token"
    return match.group(1)


def test_the_export_form_sent_twice_starts_one_export(admin_client):
    page = admin_client.get(EXPORT).content.decode()
    assert "data-submit-once" in page and "submit_once.js" in page
    token = token_of(page)
    data = {"what": "orders", "export_fields": ["source_id"], "sort": "created_at", "submission": token}
    with mock.patch("django_voucherify.jobs.service.start_job"):  # nothing sent to Voucherify
        first = admin_client.post(EXPORT, data)
        second = admin_client.post(EXPORT, data, follow=True)
    assert first.status_code == 302 and Job.objects.count() == 1
    assert "already sent" in second.content.decode()
    assert token_of(admin_client.get(EXPORT).content.decode()) != token  # a new form, a new token


def test_the_upload_form_sent_twice_starts_one_import(admin_client, media):
    token = token_of(admin_client.get(UPLOAD).content.decode())

    def post():
        upload = SimpleUploadedFile("v.csv", b"Code,Value\nONE-1,10\n", content_type="text/csv")
        return admin_client.post(UPLOAD, {"what": "vouchers", "file": upload, "submission": token})

    with mock.patch("django_voucherify.jobs.service.start_job"):
        post()
        post()
    assert Job.objects.count() == 1


def test_a_refused_form_keeps_its_token_and_can_be_sent_again(admin_client):
    token = token_of(admin_client.get(EXPORT).content.decode())
    refused = admin_client.post(EXPORT, {"what": "voucher_transactions", "code": "", "submission": token})
    assert refused.status_code == 200 and token_of(refused.content.decode()) == token
    assert submit_once.claim(token)  # not used up by the refused attempt


def test_two_requests_at_the_same_moment_claim_a_token_once():
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(submit_once.claim("same-token-for-everyone"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_the_script_disables_the_button_once_sent():
    script = (ROOT / "django_voucherify/static/django_voucherify/submit_once.js").read_text()
    assert "form[data-submit-once]" in script and "button.disabled = true" in script


def test_a_form_whose_job_failed_to_start_can_be_sent_again(admin_client):
    token = token_of(admin_client.get(EXPORT).content.decode())
    data = {"what": "orders", "export_fields": ["source_id"], "sort": "created_at", "submission": token}
    admin_client.raise_request_exception = False
    with mock.patch("django_voucherify.admin.job_export.start_export", side_effect=RuntimeError("db down")):
        assert admin_client.post(EXPORT, data).status_code == 500
    with mock.patch("django_voucherify.jobs.service.start_job"):
        again = admin_client.post(EXPORT, data)
    assert again.status_code == 302 and Job.objects.count() == 1  # started, not "already sent"


def test_a_form_whose_job_failed_to_start_while_the_cache_went_down_goes_through_drawn_anew(
    admin_client, caplog
):
    """Its token could not be given back, so it stays used: a resend of that very form (a reload
    of the error page) is refused, without claiming it started a job (none did: it said so
    before), and the form opened again carries a new token and starts the job."""
    token = token_of(admin_client.get(EXPORT).content.decode())
    admin_client.raise_request_exception = False
    with (
        mock.patch("django_voucherify.admin.job_export.start_export", side_effect=RuntimeError("db down")),
        mock.patch.object(submit_once.cache, "delete", side_effect=ConnectionError("cache down")),
    ):
        assert admin_client.post(EXPORT, export_data(token)).status_code == 500
    [warning] = [r for r in caplog.records if r.name == submit_once.__name__]
    assert "refused as already sent" in warning.getMessage()

    with mock.patch("django_voucherify.jobs.service.start_job"):
        resent = admin_client.post(EXPORT, export_data(token), follow=True)
        assert [str(m) for m in resent.context["messages"]] == [str(submit_once.ALREADY_SENT_MESSAGE)]
        assert not Job.objects.exists()
        fresh = token_of(admin_client.get(EXPORT).content.decode())
        assert fresh != token
        assert admin_client.post(EXPORT, export_data(fresh)).status_code == 302
    assert Job.objects.count() == 1


def export_data(token: str) -> dict[str, object]:
    return {"what": "orders", "export_fields": ["source_id"], "sort": "created_at", "submission": token}


def upload_data(token: str) -> dict[str, object]:
    upload = SimpleUploadedFile("v.csv", b"Code,Value\nDOWN-1,10\n", content_type="text/csv")
    return {"what": "vouchers", "file": upload, "submission": token}


@pytest.mark.parametrize(
    ("url", "data"), [(EXPORT, export_data), (UPLOAD, upload_data)], ids=["export", "upload"]
)
def test_with_the_cache_down_the_form_starts_nothing_and_says_so(
    admin_client, sandbox, django_capture_on_commit_callbacks, caplog, url, data
):
    token = token_of(admin_client.get(url).content.decode())
    with override_settings(CACHES=UNREACHABLE_CACHES), django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data(token))
    assert response.status_code == 200  # the form again, not a 500 page
    assert [str(m) for m in response.context["messages"]] == [str(submit_once.UNAVAILABLE_MESSAGE)]
    assert "nothing was started" in response.content.decode()
    assert token_of(response.content.decode()) == token  # the same form, to send again
    assert not Job.objects.exists() and sandbox.calls.count() == 0
    [warning] = [r for r in caplog.records if r.name == submit_once.__name__]
    assert warning.levelname == "WARNING" and "ConnectionError" in warning.getMessage()
    assert token not in warning.getMessage()

    # The cache is back: the same form starts its job, once (the refused send used nothing up).
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, data(token)).status_code == 302
    assert Job.objects.count() == 1 and sandbox.calls.count() > 0


def test_with_the_cache_down_a_form_without_token_is_not_guarded_and_starts(admin_client):
    with override_settings(CACHES=UNREACHABLE_CACHES), mock.patch("django_voucherify.jobs.service.start_job"):
        response = admin_client.post(EXPORT, export_data(""))  # a script's POST: no cache call
    assert response.status_code == 302 and Job.objects.count() == 1


def test_a_failed_start_keeps_its_own_error_when_giving_the_token_back_fails_too(caplog):
    with (
        override_settings(CACHES=UNREACHABLE_CACHES),
        pytest.raises(RuntimeError, match="db down"),
        submit_once.released_on_error("a-claimed-token"),
    ):
        raise RuntimeError("db down")
    [warning] = [r for r in caplog.records if r.name == submit_once.__name__]
    assert warning.levelname == "WARNING" and "a-claimed-token" not in warning.getMessage()
