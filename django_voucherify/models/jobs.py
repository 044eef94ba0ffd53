"""Bulk jobs: one :class:`Job` per import, bulk update or export, split into :class:`JobPart`.

Contract (see :mod:`django_voucherify.jobs`): every part is one request to Voucherify (a body
under 10 MB, at most 2000 orders) and one async action (or export) followed to its end. A
part's ``state`` moves ``pending`` -> ``submitting`` (the marker written *before* the call) ->
``submitted`` (async action id recorded) -> ``done``/``failed``; a part found ``submitting`` by
a re-delivered task had an unknown outcome and is reconciled against Voucherify's list of async
actions instead of being sent again. The job shows the totals across its parts; every failed
row is a :class:`JobFailedRow` (the job keeps counts and a bounded sample).

These models only hold state; the calls are made by :mod:`django_voucherify.jobs`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .background import BackgroundWork


class JobKind(models.TextChoices):
    IMPORT_VOUCHERS = "import_vouchers", _("import vouchers")
    IMPORT_VOUCHERS_CSV = "import_vouchers_csv", _("import vouchers from CSV")
    IMPORT_CUSTOMERS_CSV = "import_customers_csv", _("import customers from CSV")
    IMPORT_ORDERS = "import_orders", _("import historical orders")
    BULK_UPDATE_VOUCHERS = "bulk_update_vouchers", _("update vouchers in bulk")
    UPDATE_VOUCHERS_METADATA = "update_vouchers_metadata", _("update vouchers' metadata")
    BULK_UPDATE_CUSTOMERS = "bulk_update_customers", _("update customers in bulk")
    UPDATE_CUSTOMERS_METADATA = "update_customers_metadata", _("update customers' metadata")
    EXPORT_ORDERS = "export_orders", _("export orders")
    EXPORT_VOUCHER_TRANSACTIONS = "export_voucher_transactions", _("export voucher transactions")
    PUSH_CUSTOMERS = "push_customers", _("push customer mirrors")
    PUSH_ORDERS = "push_orders", _("push order mirrors")
    PUSH_PRODUCTS = "push_products", _("push product mirrors")
    GENERATE_CAMPAIGN_CODES = "generate_campaign_codes", _("generate campaign codes")


EXPORT_KINDS = frozenset({JobKind.EXPORT_ORDERS, JobKind.EXPORT_VOUCHER_TRANSACTIONS})


class JobState(models.TextChoices):
    PREPARING = "preparing", _("preparing")  # the source is being validated and split
    RUNNING = "running", _("running")
    DONE = "done", _("done")  # every part finished (rows may still have failed: see failed_count)
    FAILED = "failed", _("failed")  # a part was refused or its async action failed / vanished


FINAL_JOB_STATES = frozenset({JobState.DONE, JobState.FAILED})


class PartState(models.TextChoices):
    PENDING = "pending", _("pending")
    SUBMITTING = "submitting", _("submitting")  # marker: the call may be in flight
    SUBMITTED = "submitted", _("submitted")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


FINAL_PART_STATES = frozenset({PartState.DONE, PartState.FAILED})

#: Key of ``Job.result`` holding when the job's stored file (an export's CSV) expired and was
#: deleted (ISO 8601; ``jobs.uploads.purge_expired_results``, ``EXPORT_RETENTION_DAYS``).
RESULT_EXPIRED_AT = "file_expired_at"

#: How many failed rows the job row itself carries (the admin page, command output).
FAILED_ROWS_SAMPLE = 200
#: A part's columns that can hold megabytes (the request body, a push's source ids): read
#: only by what uses them (sending, marking a push's rows), never by polls or totals.
BULKY_PART_FIELDS = ("body", "payload")


def job_upload_to(instance: Any, filename: str) -> str:
    """``<JOB_UPLOAD_TO>/<year>/<month>/<random>.<ext>``: uploads and exports hold customer data,
    so their names cannot be guessed (the file's own name is not kept in the path)."""
    import os
    import re
    import secrets

    from django.utils import timezone

    from .. import conf

    ext = os.path.splitext(filename)[1].lower()
    ext = ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ""
    folder = conf.settings().job_upload_to.rstrip("/")
    return f"{folder}/{timezone.now():%Y/%m}/{secrets.token_urlsafe(32)}{ext}"


def _storage() -> Any:
    from django.core.files.storage import storages

    from .. import conf

    return storages[conf.settings().job_storage]


class Job(models.Model):
    kind = models.CharField(_("kind"), max_length=40, choices=JobKind.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=JobState.choices, default=JobState.PREPARING, db_index=True
    )
    #: The async action (or export) of the part submitted last; every part keeps its own.
    async_action_id = models.CharField(_("async action / export id"), max_length=64, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    source_file = models.FileField(
        _("source file"), upload_to=job_upload_to, storage=_storage, max_length=300, blank=True
    )
    result_file = models.FileField(
        _("result file"), upload_to=job_upload_to, storage=_storage, max_length=300, blank=True
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    done_count = models.PositiveIntegerField(_("done"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    #: A sample (the first :data:`FAILED_ROWS_SAMPLE` by row) of the job's :class:`JobFailedRow`:
    #: ``[{"row": n, "code"/"source_id": ..., "reason": ...}]``; ``failed_count`` counts them all.
    failed_rows = models.JSONField(_("failed rows (sample)"), default=list, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    #: Why the job failed, for people: a summary (preparing failed, too old, each failed part's
    #: ``last_error``), not one Voucherify error, so it is not a ``LastVoucherifyError``.
    error = models.TextField(_("error"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk job")
        verbose_name_plural = _("bulk jobs")
        ordering = ["-created_at"]
        permissions = [("check_job", _("Can ask Voucherify about unfinished bulk jobs now"))]
        # The orphan-file walk (jobs/uploads.purge_orphans) looks stored names up here, 500 at
        # a time, every hour: without them, a scan of the whole job history per batch.
        indexes = [
            models.Index(fields=["source_file"], name="dv_job_source_file"),
            models.Index(fields=["result_file"], name="dv_job_result_file"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.state in FINAL_JOB_STATES

    @property
    def is_export(self) -> bool:
        return self.kind in EXPORT_KINDS

    @property
    def file_expired(self) -> bool:
        """True once the job's stored file was deleted at the end of its retention."""
        return not self.result_file and isinstance(self.result, dict) and RESULT_EXPIRED_AT in self.result


class JobPart(BackgroundWork):
    """One request to Voucherify and the async action it started.

    Background work (:mod:`django_voucherify.background`): ``due_at`` is when the part's next
    step (submit or poll) is due, ``lease_until``/``lease_token`` the one live step chain that
    holds it. Every queued step carries the token it was leased with and does nothing once the
    token changed (a superseded chain ends); the periodic sweep claims parts whose step is
    overdue (its message was lost). ``last_error`` (with Voucherify's ``key`` and
    ``request_id`` when it answered) is why the part failed, or the last transient error.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField(_("part"))
    state = models.CharField(_("state"), max_length=16, choices=PartState.choices, default=PartState.PENDING)
    async_action_id = models.CharField(_("async action / export id"), max_length=64, blank=True)
    #: JSON body of the request (JSON kinds), or extra data (mirror pushes: the source ids in
    #: ``body``, in its order).
    payload = models.JSONField(_("payload"), null=True, blank=True)
    #: The request body as sent, JSON encoded once when the part was built (mirror pushes: its
    #: length is the part's size, and these bytes go out as they are).
    body = models.BinaryField(_("request body"), null=True, blank=True)
    file = models.FileField(
        _("CSV part"), upload_to=job_upload_to, storage=_storage, max_length=300, blank=True
    )
    first_row = models.PositiveIntegerField(_("first source row"), default=1)
    #: Source rows after ``first_row`` that are *not* in the part (refused locally), ascending:
    #: maps the part's own row numbers back to the source's (bounded by the CSV splitter).
    skipped_rows = models.JSONField(_("source rows left out"), default=list, blank=True)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    size_bytes = models.PositiveBigIntegerField(_("bytes"), default=0)
    submit_started_at = models.DateTimeField(_("submit started"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    submit_attempts = models.PositiveIntegerField(_("submit attempts"), default=0)
    polls = models.PositiveIntegerField(_("polls"), default=0)
    #: Steps that raised an unexpected error or read an answer the part cannot use (a 2xx
    #: ``{}``) since its last usable answer: each waits a backoff; at ``runner.MAX_STEP_ERRORS``
    #: the part fails.
    step_errors = models.PositiveIntegerField(_("unexpected errors and unusable answers"), default=0)
    remote_status = models.CharField(_("Voucherify status"), max_length=32, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    done_count = models.PositiveIntegerField(_("done"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    result = models.JSONField(_("result"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("job part")
        verbose_name_plural = _("job parts")
        ordering = ["job", "index"]
        indexes = [models.Index(fields=["file"], name="dv_jobpart_file")]  # as Job's files
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="voucherify_jobpart_unique_index"),
            # One async action belongs to one part: two reconciling parts cannot adopt the same.
            models.UniqueConstraint(
                fields=["async_action_id"],
                name="voucherify_jobpart_unique_action",
                condition=~models.Q(async_action_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} part {self.index}"


class JobFailedRow(models.Model):
    """One row refused locally (``part`` is empty) or by Voucherify, numbered as in the source."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="failed_row_set")
    part = models.ForeignKey(JobPart, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    row = models.PositiveIntegerField(_("row"), null=True, blank=True)
    code = models.CharField(_("code"), max_length=300, blank=True)
    source_id = models.CharField(_("source id"), max_length=300, blank=True)
    key = models.CharField(_("error key"), max_length=100, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("failed row")
        verbose_name_plural = _("failed rows")
        indexes = [models.Index(fields=["job", "row"], name="voucherify_jobfailedrow_row")]

    def __str__(self) -> str:
        return f"{self.job} row {self.row}"

    def as_dict(self, part_index: int | None = None) -> dict[str, Any]:
        """The row as shown in ``Job.failed_rows`` and the CSV download."""
        found: dict[str, Any] = {
            k: v
            for k, v in (
                ("row", self.row),
                ("code", self.code),
                ("source_id", self.source_id),
                ("key", self.key),
            )
            if v not in (None, "")
        }
        found["reason"] = self.reason
        if part_index is not None:
            found["part"] = part_index
        return found


class JobSubmitLock(models.Model):
    """One row per Voucherify async action type, locked while a part of that type is claimed:
    at most one part per type is ``submitting`` at a time across the app (see jobs.runner)."""

    async_type = models.CharField(max_length=64, primary_key=True)

    class Meta:
        verbose_name = _("job submit lock")
        verbose_name_plural = _("job submit locks")

    def __str__(self) -> str:
        return self.async_type
