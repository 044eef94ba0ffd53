"""The job page follows the job by itself: a JSON status view under the admin (always JSON,
even refused), the page's live fields and script, locally refused rows shown as soon as they
are stored, and jobs read-only unless the user may delete them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from django_voucherify.models import Job, JobFailedRow, JobKind, JobPart, JobState, PartState
from tests.support.admin import login_staff

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def status_url(job):
    return reverse("admin:django_voucherify_job_status", args=[job.pk])


def change_url(job):
    return reverse("admin:django_voucherify_job_change", args=[job.pk])


def running_job():
    job = Job.objects.create(
        kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.RUNNING, total_rows=300, progress=33
    )
    JobPart.objects.create(
        job=job, index=0, state=PartState.DONE, row_count=100, progress=100, done_count=100
    )
    JobPart.objects.create(job=job, index=1, state=PartState.SUBMITTED, row_count=100, progress=0)
    return job


def test_status_json_reports_progress_counts_and_parts(admin_client):
    job = running_job()
    response = admin_client.get(status_url(job))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]  # a poll never reads a cached answer
    status = response.json()
    assert (status["state"], status["finished"], status["progress"], status["total_rows"]) == (
        "running",
        False,
        33,
        300,
    )
    assert [(p["index"], p["state"], p["progress"]) for p in status["parts"]] == [
        (0, "done", 100),
        (1, "submitted", 0),
    ]


def test_rows_refused_locally_show_before_the_job_counts_them(admin_client):
    job = running_job()  # failed_count still 0: the job's totals were not recomputed yet
    JobFailedRow.objects.create(job=job, row=7, code="<b>BAD</b>", reason="Value is not a number")
    JobFailedRow.objects.create(job=job, row=3, code="ALSO-BAD", reason="duplicate code")
    status = admin_client.get(status_url(job)).json()
    assert status["failed_count"] == 2
    assert [r["row"] for r in status["failed_rows"]] == [3, 7]
    page = admin_client.get(change_url(job)).content.decode()
    assert "Value is not a number" in page and "&lt;b&gt;BAD&lt;/b&gt;" in page  # escaped, not markup
    assert '<span data-job-field="failed_count">2</span>' in page


def test_page_carries_the_live_fields_and_its_script(admin_client):
    job = running_job()
    page = admin_client.get(change_url(job)).content.decode()
    assert f'data-job-status-url="{status_url(job)}"' in page and 'data-job-finished="0"' in page
    assert "django_voucherify/job_progress.js" in page
    for field in ("progress", "done_count", "failed_count", "total_rows", "state_label"):
        assert f'data-job-field="{field}"' in page
    job.state = JobState.DONE
    job.save()
    assert 'data-job-finished="1"' in admin_client.get(change_url(job)).content.decode()


def test_status_is_json_even_when_refused(client, admin_client):
    job = running_job()
    missing = admin_client.get(reverse("admin:django_voucherify_job_status", args=[job.pk + 1000]))
    assert missing.status_code == 404 and "error" in missing.json()
    login_staff(client, "view_voucher")
    refused = client.get(status_url(job))
    assert refused.status_code == 403 and "error" in refused.json()


def test_jobs_are_read_only_unless_the_user_may_delete(client):
    job = running_job()
    login_staff(client, "view_job")
    page = client.get(change_url(job))
    assert page.status_code == 200
    assert page.context["has_delete_permission"] is False and page.context["has_change_permission"] is False
    assert (
        client.post(reverse("admin:django_voucherify_job_delete", args=[job.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Job.objects.filter(pk=job.pk).exists()
    actions = client.get(reverse("admin:django_voucherify_job_changelist")).context["action_form"]
    assert actions is None or "delete_selected" not in dict(actions.fields["action"].choices)

    client.logout()
    login_staff(client, "view_job", "delete_job")
    assert client.get(change_url(job)).context["has_delete_permission"] is True
    client.post(reverse("admin:django_voucherify_job_delete", args=[job.pk]), {"post": "yes"})
    assert not Job.objects.filter(pk=job.pk).exists()


def test_the_parts_table_shows_each_part_and_the_status_carries_its_cells(admin_client):
    """Progress moves part by part: the page lists each part (rows, state, progress, counts)
    and the status JSON carries the same cells, which job_progress.js redraws."""
    from django_voucherify.admin import job_status

    job = running_job()
    JobPart.objects.filter(job=job, index=1).update(first_row=101, progress=40, done_count=3)
    page = admin_client.get(change_url(job)).content.decode()
    assert page.count("<tr data-job-part=") == 2
    assert '<td data-part-field="state_label">submitted</td>' in page
    assert '<progress value="40" max="100"></progress> <span>40</span>%' in page
    parts = admin_client.get(status_url(job)).json()["parts"]
    assert [(p["index"], p["first_row"], p["row_count"], p["state_label"], p["progress"]) for p in parts] == [
        (0, 1, 100, "done", 100),
        (1, 101, 100, "submitted", 40),
    ]
    assert all(set(job_status.PART_CELLS) <= set(p) for p in parts)
    script = (ROOT / "django_voucherify/static/django_voucherify/job_progress.js").read_text()
    assert "var PART_CELLS = " + json.dumps(list(job_status.PART_CELLS)) in script


def test_finish_time_and_error_are_live_and_an_export_shows_no_parts_or_refused_rows(admin_client):
    from django.utils import timezone

    job = running_job()
    page = admin_client.get(change_url(job)).content.decode()
    assert '<span data-job-field="finished_at_text">-</span>' in page and 'data-job-field="error"' in page
    assert admin_client.get(status_url(job)).json()["finished_at_text"] == "-"
    finished = timezone.now().replace(year=2030, month=1, day=2)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, error="part 1: gone", finished_at=finished)
    status = admin_client.get(status_url(job)).json()
    assert status["error"] == "part 1: gone" and "2030" in status["finished_at_text"]
    script = (ROOT / "django_voucherify/static/django_voucherify/job_progress.js").read_text()
    assert '"finished_at_text"' in script and '"error"' in script  # the page's fields it updates

    export = Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.RUNNING)
    JobPart.objects.create(job=export, index=1, state=PartState.SUBMITTED)
    page = admin_client.get(change_url(export)).content.decode()
    assert "data-job-parts" not in page and "Download all failed rows" not in page


@pytest.mark.parametrize(
    "segment", ["abc", "-1", "1.5", "%00", "%20" + "1", "", "9" * 19, "9" * 5000, "\u0661"]
)
def test_status_of_what_names_no_job_is_a_json_404_not_the_admins_html(client, admin_client, segment):
    # <int:pk> let a non-numeric segment fall through to the admin's catch-all: a redirect to an
    # HTML change page (then the index) that the page's script read as JSON. The digits past a
    # bigint and past int()'s 4300-digit limit, and a non-ASCII digit, are no id either.
    running_job()
    url = f"/admin/django_voucherify/job/{segment}/status.json"
    missing = admin_client.get(url)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json() == {"error": "No bulk job with this id."}
    assert client.get(url).status_code == 401  # signed out comes first, JSON too
    login_staff(client, "view_voucher")
    assert client.get(url).json() == {"error": "You may not view bulk jobs."}


@pytest.mark.parametrize("who", ["anonymous", "shopper", "inactive staff"])
def test_status_answers_json_401_to_who_is_not_signed_in_as_staff(client, who):
    """Behind admin_view it answered a 302 to the HTML login page, which the page's script
    polled for ever; now a JSON 401 the script explains (and stops)."""
    job = running_job()
    if who != "anonymous":
        user = User.objects.create_user("someone", password="pw", is_staff=who != "shopper")
        user.is_active = who != "inactive staff"
        user.save()
        client.force_login(user)
    response = client.get(status_url(job))
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response.json()["signed_out"] is True
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_script_stops_and_says_so_when_signed_out():
    static = ROOT / "django_voucherify/static/django_voucherify"
    poller = (static / "live_status.js").read_text()  # the poller the job page shares
    assert "response.status === 401" in poller and "options.stopped(" in poller
    assert "live.stoppedNote(root" in (static / "job_progress.js").read_text()


@pytest.mark.parametrize(
    "kind,needed",
    [
        (JobKind.IMPORT_CUSTOMERS_CSV, "view_customer"),
        (JobKind.BULK_UPDATE_CUSTOMERS, "view_customer"),
        (JobKind.IMPORT_VOUCHERS_CSV, "view_voucher"),
        (JobKind.IMPORT_ORDERS, "view_order"),
    ],
)
def test_failed_rows_need_the_permission_to_view_what_the_job_carried(client, kind, needed):
    """The export download needed the exported model's permission; the failed rows (customer
    source ids are often e-mail addresses) were served, in the CSV, on the page and in the
    status JSON, with view_job alone."""
    job = Job.objects.create(kind=kind, state=JobState.RUNNING)
    JobFailedRow.objects.create(job=job, row=2, source_id="ann@example.com", reason="refused")
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    csv_url = reverse("admin:django_voucherify_job_failed_rows", args=[job.pk])
    assert client.get(csv_url).status_code == 403
    assert "ann@example.com" not in client.get(change_url(job)).content.decode()
    assert client.get(status_url(job)).json()["failed_rows"] == []

    user.user_permissions.add(Permission.objects.get(codename=needed))
    user = User.objects.get(pk=user.pk)  # permissions are cached on the instance
    client.force_login(user)
    body = b"".join(client.get(csv_url).streaming_content)
    assert b"ann@example.com" in body
    assert "ann@example.com" in client.get(change_url(job)).content.decode()
    assert client.get(status_url(job)).json()["failed_rows"][0]["code"] == "ann@example.com"


def test_errors_need_the_permission_to_view_what_the_job_carried(client):
    """Voucherify's messages quote what they refused (a code, a source id): the job's error and
    the parts' last errors were shown, on the page and in the status JSON, with view_job alone."""
    job = Job.objects.create(
        kind=JobKind.IMPORT_CUSTOMERS_CSV, state=JobState.FAILED, error="Refused: ann@example.com"
    )
    JobPart.objects.create(job=job, index=0, state=PartState.FAILED, last_error="409 bob@example.com")
    JobPart.objects.create(job=job, index=1, state=PartState.DONE)  # no error: nothing hidden
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_job", "view_jobpart"]))
    client.force_login(user)
    hidden = "Hidden: an error may quote what this job carried"
    page = client.get(change_url(job)).content.decode()
    assert "@example.com" not in page and page.count(hidden) == 2  # the job's, the failed part's
    assert 'data-job-field="error"' in page  # still live
    assert client.get(status_url(job)).json()["error"].startswith(hidden)

    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(User.objects.get(pk=user.pk))  # permissions are cached on the instance
    page = client.get(change_url(job)).content.decode()
    assert "Refused: ann@example.com" in page and "409 bob@example.com" in page and hidden not in page
    assert client.get(status_url(job)).json()["error"] == "Refused: ann@example.com"


def test_every_job_kind_names_the_permission_for_its_rows():
    """A new kind without an entry would show its rows with view_job alone."""
    from django_voucherify.admin.jobs import ROW_DATA_PERMISSIONS

    assert set(ROW_DATA_PERMISSIONS) == set(JobKind)
    codenames = {p.split(".", 1)[1] for p in ROW_DATA_PERMISSIONS.values()}
    assert codenames <= set(Permission.objects.values_list("codename", flat=True))


def test_a_card_code_in_the_job_parameters_is_shown_only_to_who_may_see_vouchers(client):
    """A transactions export keeps the card's code in ``params``: it spends the card's balance."""
    job = Job.objects.create(
        kind=JobKind.EXPORT_VOUCHER_TRANSACTIONS, state=JobState.DONE, params={"code": "GIFT-SECRET-42"}
    )
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(user)
    assert "GIFT-SECRET-42" not in client.get(change_url(job)).content.decode()
    user.user_permissions.add(Permission.objects.get(codename="view_voucher"))
    client.force_login(User.objects.get(pk=user.pk))
    assert "GIFT-SECRET-42" in client.get(change_url(job)).content.decode()
