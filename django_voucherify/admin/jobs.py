"""Admin for bulk jobs: progress and failed rows on the job page, a CSV upload form that checks
the header before anything is sent, and a "check Voucherify now" action. All read-only: jobs
are started through :mod:`django_voucherify.jobs` (this form, commands, shop code)."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from ..models import Job, JobFailedRow, JobKind, JobPart
from ..models.jobs import FAILED_ROWS_SAMPLE
from . import job_export, job_status, submit_once
from .mixins import VoucherifyModelAdmin

UPLOAD_TEMPLATE = "admin/django_voucherify/job/upload.html"
EXPORT_TEMPLATE = "admin/django_voucherify/job/export.html"


#: The permission a user needs, beside ``view_job``, to see a job's rows: an export's file and
#: the failed rows of an import or update (customer source ids are often e-mail addresses, an
#: order export holds customers and amounts). Seeing jobs is not seeing what they carried.
ROW_DATA_PERMISSIONS: dict[str, str] = {
    JobKind.IMPORT_VOUCHERS: "django_voucherify.view_voucher",
    JobKind.IMPORT_VOUCHERS_CSV: "django_voucherify.view_voucher",
    JobKind.BULK_UPDATE_VOUCHERS: "django_voucherify.view_voucher",
    JobKind.UPDATE_VOUCHERS_METADATA: "django_voucherify.view_voucher",
    JobKind.EXPORT_VOUCHER_TRANSACTIONS: "django_voucherify.view_voucher",
    JobKind.IMPORT_CUSTOMERS_CSV: "django_voucherify.view_customer",
    JobKind.BULK_UPDATE_CUSTOMERS: "django_voucherify.view_customer",
    JobKind.UPDATE_CUSTOMERS_METADATA: "django_voucherify.view_customer",
    JobKind.PUSH_CUSTOMERS: "django_voucherify.view_customer",
    JobKind.IMPORT_ORDERS: "django_voucherify.view_order",
    JobKind.EXPORT_ORDERS: "django_voucherify.view_order",
    JobKind.PUSH_ORDERS: "django_voucherify.view_order",
    JobKind.PUSH_PRODUCTS: "django_voucherify.view_product",
    JobKind.GENERATE_CAMPAIGN_CODES: "django_voucherify.view_campaign",
}


def may_see_rows(request: HttpRequest, job: Job) -> bool:
    """Whether the user may see the data rows of ``job`` (see ROW_DATA_PERMISSIONS)."""
    needed = ROW_DATA_PERMISSIONS.get(job.kind)
    return needed is None or bool(request.user.has_perm(needed))


#: What a CSV import writes in Voucherify, and the permissions to write it there: an import
#: writes vouchers or customers, so ``add_job`` alone (which also starts exports) is not enough.
#: Voucherify's customer import also updates the customers whose source id exists ("Import and
#: Update Customers using CSV"): it needs ``change_customer`` too (review 20).
IMPORT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "vouchers": ("django_voucherify.add_voucher",),
    "customers": ("django_voucherify.add_customer", "django_voucherify.change_customer"),
}
IMPORT_CHOICES = [("vouchers", _("Vouchers")), ("customers", _("Customers"))]


def importable(request: HttpRequest) -> list[tuple[str, Any]]:
    """The CSV imports the user may start (none without ``add_job``)."""
    user = request.user
    if not user.has_perm("django_voucherify.add_job"):
        return []
    return [(value, label) for value, label in IMPORT_CHOICES if user.has_perms(IMPORT_PERMISSIONS[value])]


#: What each export writes into its file, and the permission to see that (the download's own
#: rule, ROW_DATA_PERMISSIONS): an export nobody starting it may download is not offered.
EXPORT_KINDS: dict[str, str] = {
    job_export.ORDERS: JobKind.EXPORT_ORDERS,
    job_export.VOUCHER_TRANSACTIONS: JobKind.EXPORT_VOUCHER_TRANSACTIONS,
}


def exportable(request: HttpRequest) -> list[tuple[str, str]]:
    """The exports the user may start and then download (none without ``add_job``)."""
    user = request.user
    if not user.has_perm("django_voucherify.add_job"):
        return []
    return [(what, kind) for what, kind in EXPORT_KINDS.items() if user.has_perm(ROW_DATA_PERMISSIONS[kind])]


class ImportCsvForm(forms.Form):
    what = forms.ChoiceField(label=_("Import"), choices=IMPORT_CHOICES)
    file = forms.FileField(label=_("CSV file (UTF-8)"))
    submission = submit_once.token_field()

    def __init__(self, *args: Any, choices: list[tuple[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if choices is not None:  # only what the user may import is offered, and accepted
            what = self.fields["what"]
            assert isinstance(what, forms.ChoiceField)
            what.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            from ..jobs import csvfiles  # the jobs service loads with the first upload, not at start-up

            kind = csvfiles.VOUCHERS if data.get("what") == "vouchers" else csvfiles.CUSTOMERS
            try:
                csvfiles.validate_upload(kind, upload)
            except csvfiles.CsvError as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


class JobPartInline(admin.TabularInline):  # type: ignore[type-arg]
    """Every field of every part, for diagnosis: folded away under the live parts table."""

    model = JobPart
    extra = 0
    can_delete = False
    classes = ("collapse",)
    verbose_name_plural = _("parts in detail (async actions, errors, request ids)")
    fields = readonly_fields = (
        "index",
        "state",
        "async_action_id",
        "first_row",
        "row_count",
        "size_bytes",
        "remote_status",
        "progress",
        "done_count",
        "failed_count",
        "submit_attempts",
        "polls",
        "step_errors",
        "due_at",
        "last_error",
        "last_error_key",
        "last_request_id",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not may_see_rows(request, obj):  # obj: the job
            fields = ["last_error_hidden" if f == "last_error" else f for f in fields]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "last_error_hidden")

    @admin.display(description=_("last error"))
    def last_error_hidden(self, obj: JobPart) -> str:
        return job_status.error_shown(obj.last_error, allowed=False)


@admin.register(Job)
class JobAdmin(VoucherifyModelAdmin):
    # Sized for the ~630 px a 1280 px window leaves between the navigation sidebar and the
    # filters (nine columns pushed Created and Finished out of sight): the state over a short
    # bar, the row counts in one cell, the user's name cut (whole in its title), and when the
    # job was created with when it finished under it (dates do not wrap: one column for both).
    list_display = ("__str__", "state_progress", "row_counts", "started_by_name", "created_finished")
    # "Last changed" also serves the overview's "jobs failed in the last 7 days" link.
    list_select_related = ("started_by",)
    list_filter = ("state", "kind", ("updated_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    inlines = (JobPartInline,)

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}
        js = ("django_voucherify/live_status.js", "django_voucherify/job_progress.js")

    actions = ("check_now",)
    fields = readonly_fields = (
        "kind",
        "live_state",
        "live_progress",
        "live_total_rows",
        "live_done_count",
        "live_failed_count",
        "live_parts",
        "failed_rows_table",
        "live_error",
        "async_action_id",
        "source_file_name",
        "result_download",
        "params",
        "started_by",
        "created_at",
        "updated_at",
        "live_finished_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs start from the upload form, commands or code

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not may_see_rows(request, obj):
            # What carries the job's data is behind its permission: the failed rows (codes,
            # source ids), the parameters (a card's code, a bearer credential for its balance),
            # the uploaded file's name and path, and the error (Voucherify's message may quote
            # a code or a source id; the parts' errors likewise, in JobPartInline).
            hidden = {"params", "source_file_name"}
            swapped = {"failed_rows_table": "failed_rows_hidden", "live_error": "live_error_hidden"}
            fields = [swapped.get(str(f), f) for f in fields if f not in hidden]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "failed_rows_hidden", "live_error_hidden")

    @admin.display(description=_("failed rows"))
    def failed_rows_hidden(self, obj: Job) -> str:
        return str(
            _(
                "Hidden, with the job's parameters and file: seeing them needs the permission to "
                "view what this job carried."
            )
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("state"), ordering="state")
    def state_progress(self, obj: Job) -> SafeString:
        return format_html(
            '{}<br><span class="voucherify-job-progress">'
            '<progress value="{}" max="100"></progress> {}%</span>',
            obj.get_state_display(),
            obj.progress,
            obj.progress,
        )

    @admin.display(description=_("rows"), ordering="total_rows")
    def row_counts(self, obj: Job) -> SafeString:
        failed = format_html(
            '<span class="{}">{}</span>',
            "voucherify-attention" if obj.failed_count else "voucherify-quiet",
            _("%(n)d failed") % {"n": obj.failed_count},
        )
        return format_html(
            '{}<br><span class="voucherify-quiet">{}</span><br>{}',
            obj.total_rows,
            _("%(n)d done") % {"n": obj.done_count},
            failed,
        )

    @admin.display(description=_("created / finished"), ordering="created_at")
    def created_finished(self, obj: Job) -> SafeString:
        return format_html(
            '<span class="voucherify-when">{}</span><br>'
            '<span class="voucherify-when voucherify-quiet">{}</span>',
            display_for_value(obj.created_at, "-"),
            display_for_value(obj.finished_at, "-"),
        )

    @admin.display(description=_("started by"), ordering="started_by")
    def started_by_name(self, obj: Job) -> SafeString:
        name = str(obj.started_by) if obj.started_by_id else "-"
        return format_html('<span class="voucherify-cut is-user" title="{}">{}</span>', name, name)

    # The change page's live fields: job_progress.js updates every [data-job-field] in place
    # from the status JSON while the job runs (see .job_status).
    @admin.display(description=_("state"))
    def live_state(self, obj: Job) -> SafeString:
        return format_html('<span data-job-field="state_label">{}</span>', obj.get_state_display())

    @admin.display(description=_("progress"))
    def live_progress(self, obj: Job) -> SafeString:
        return format_html(
            '<span class="voucherify-progress" data-job-status-url="{}" data-job-poll-ms="{}" '
            'data-job-finished="{}"><progress value="{}" max="100" data-job-field="progress"></progress> '
            '<span data-job-field="progress">{}</span>%</span>',
            reverse("admin:django_voucherify_job_status", args=[obj.pk]),
            job_status.POLL_INTERVAL_MS,
            "1" if obj.is_finished else "0",
            obj.progress,
            obj.progress,
        )

    @admin.display(description=_("rows"))
    def live_total_rows(self, obj: Job) -> SafeString:
        return format_html('<span data-job-field="total_rows">{}</span>', obj.total_rows)

    @admin.display(description=_("done"))
    def live_done_count(self, obj: Job) -> SafeString:
        return format_html('<span data-job-field="done_count">{}</span>', obj.done_count)

    @admin.display(description=_("failed"))
    def live_failed_count(self, obj: Job) -> SafeString:
        _rows, stored = job_status.failed_rows(obj, 0)
        return format_html('<span data-job-field="failed_count">{}</span>', max(obj.failed_count, stored))

    @admin.display(description=_("parts"))
    def live_parts(self, obj: Job) -> SafeString:
        if obj.is_export:
            return format_html("{}", "-")  # one request, the export itself: no rows to split
        return job_status.parts_table(obj)

    @admin.display(description=_("error"))
    def live_error(self, obj: Job) -> SafeString:
        return format_html('<span data-job-field="error">{}</span>', obj.error)

    @admin.display(description=_("error"))
    def live_error_hidden(self, obj: Job) -> SafeString:
        # Still live: the status JSON gives this user the same note once the job fails.
        return format_html(
            '<span data-job-field="error">{}</span>', job_status.error_shown(obj.error, allowed=False)
        )

    @admin.display(description=_("finished"))
    def live_finished_at(self, obj: Job) -> SafeString:
        finished = job_status.when(obj.finished_at)
        return format_html('<span data-job-field="finished_at_text">{}</span>', finished)

    @admin.display(description=_("failed rows"))
    def failed_rows_table(self, obj: Job) -> SafeString:
        if obj.is_export:
            return format_html("{}", "-")  # an export reads rows, it refuses none
        # Read from the failed rows themselves, not the job's cached sample: rows refused
        # locally show as soon as they are stored. The download streams every row.
        rows, stored = job_status.failed_rows(obj, FAILED_ROWS_SAMPLE)
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r["row"], r["code"], r["reason"]) for r in rows),
        )
        more = ""
        url = reverse("admin:django_voucherify_job_failed_rows", args=[obj.pk])
        if stored > len(rows):
            more = format_html(
                "<p>{}</p>", _("%(n)d more rows in the CSV download.") % {"n": stored - len(rows)}
            )
        return format_html(
            "<table{}><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody data-job-failed-rows>{}</tbody></table>"
            '{}<p><a href="{}">{}</a></p>',
            "" if rows else " hidden",
            _("row"),
            _("code / source id"),
            _("reason"),
            body,
            more,
            url,
            _("Download all failed rows (CSV)"),
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "may_import": bool(importable(request)),
            "may_export": bool(exportable(request)),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="django_voucherify_job_upload"),
            path("export/", wrap(self.export_view), name="django_voucherify_job_export"),
            # Any segment, not <int:pk>: a non-numeric one fell through to the admin's HTML
            # catch-all; the view answers it a JSON 404 (job_status.job_id).
            re_path(
                r"^(?P<pk>[^/]*)/status\.json$",
                never_cache(self.status_view),
                name="django_voucherify_job_status",
            ),
            path("<int:pk>/file/", wrap(self.result_file_view), name="django_voucherify_job_result_file"),
            path(
                "<int:pk>/failed-rows.csv",
                wrap(self.failed_rows_view),
                name="django_voucherify_job_failed_rows",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        choices = importable(request)
        if not choices:
            raise PermissionDenied
        form = ImportCsvForm(request.POST or None, request.FILES or None, choices=choices)
        if request.method == "POST" and form.is_valid():
            from .. import jobs

            token = form.cleaned_data["submission"]
            claimed = submit_once.claim_for(self, request, token)  # UNGUARDED: the form again
            if claimed is submit_once.Claim.AGAIN:
                return self._already_sent(request)
            if claimed is submit_once.Claim.FIRST:
                vouchers = form.cleaned_data["what"] == "vouchers"
                start = jobs.import_vouchers_csv if vouchers else jobs.import_customers_csv
                upload = form.cleaned_data["file"]
                with submit_once.released_on_error(token):  # no job: the form may be sent again
                    job = start(upload, name=upload.name, started_by=request.user)
                self.message_user(request, _("Import started as %(job)s.") % {"job": job}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:django_voucherify_job_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": _("Import a CSV into Voucherify"),
        }
        return TemplateResponse(request, UPLOAD_TEMPLATE, context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        choices = exportable(request)
        if not choices:
            raise PermissionDenied
        # Bound on every POST, even an empty one (``request.POST or None`` showed a blank form).
        form = job_export.ExportForm(request.POST if request.method == "POST" else None, choices=choices)
        if form.is_bound and form.is_valid():
            token = form.cleaned_data["submission"]
            claimed = submit_once.claim_for(self, request, token)  # UNGUARDED: the form again
            if claimed is submit_once.Claim.AGAIN:
                return self._already_sent(request)
            if claimed is submit_once.Claim.FIRST:
                with submit_once.released_on_error(token):
                    job = job_export.start_export(form, request.user)
                self.message_user(request, _("Export started as %(job)s.") % {"job": job}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:django_voucherify_job_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": _("Export from Voucherify"),
        }
        return TemplateResponse(request, EXPORT_TEMPLATE, context)

    def _already_sent(self, request: HttpRequest) -> HttpResponse:
        self.message_user(request, submit_once.ALREADY_SENT_MESSAGE, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:django_voucherify_job_changelist"))

    def result_file_view(self, request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job, pk=pk)
        # The file holds the exported objects' data (an order export: customers, amounts,
        # metadata): seeing jobs is not seeing orders. Also the exported model's view permission.
        if not may_see_rows(request, job):
            raise PermissionDenied
        if job.file_expired:  # an old link: say so on the job's page rather than a bare 404
            self.message_user(
                request,
                _("This job's file expired: it was deleted after EXPORT_RETENTION_DAYS."),
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:django_voucherify_job_change", args=[job.pk]))
        return job_export.result_file_response(job)

    @admin.display(description=_("source file"))
    def source_file_name(self, obj: Job) -> str:
        """The upload's name in storage, as text. The FileField's own display linked to its
        storage URL: JOB_STORAGE is private (no MEDIA_URL serves it), so the link was broken
        (relative to the job's page without MEDIA_URL), or would expose customer data if served."""
        return obj.source_file.name or "-"

    @admin.display(description=_("file"))
    def result_download(self, obj: Job) -> SafeString:
        if not obj.is_export and not obj.result_file:
            return format_html("{}", "-")  # imports and updates make no file
        if obj.file_expired:
            return format_html(
                '<span class="voucherify-file-expired" title="{}">{}</span>',
                _("Deleted at the end of its retention (EXPORT_RETENTION_DAYS)."),
                _("expired"),
            )
        url = reverse("admin:django_voucherify_job_result_file", args=[obj.pk])
        # job_progress.js shows the link (and hides "not ready yet") once the file is there.
        return format_html(
            '<a href="{}" data-job-result{}>{}</a><span data-job-result-pending{}>{}</span>',
            url,
            "" if obj.result_file else " hidden",
            _("Download the file"),
            " hidden" if obj.result_file else "",
            _("not ready yet"),
        )

    def status_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        # Not behind admin_view, which redirects to the HTML login page: a script polls this,
        # and a signed-out or non-staff caller gets a JSON 401 the page can explain.
        if not self.admin_site.has_permission(request):
            return job_status.signed_out()
        return job_status.status_view(
            request,
            pk,
            allowed=self.has_view_permission(request),
            rows_allowed=lambda job: may_see_rows(request, job),
        )

    def failed_rows_view(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job, pk=pk)
        if not may_see_rows(request, job):
            raise PermissionDenied
        response = StreamingHttpResponse(_failed_rows_csv(job), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-failed-rows.csv"'
        return response

    def has_check_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("django_voucherify.check_job"))

    @admin.action(
        description=_("Check Voucherify now (queue what unfinished jobs still need)"), permissions=["check"]
    )
    def check_now(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        from .. import jobs

        count = sum(jobs.resume(job) for job in queryset if not job.is_finished)
        message = ngettext("%(n)d step queued.", "%(n)d steps queued.", count) % {"n": count}
        self.message_user(request, message, messages.SUCCESS)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _failed_rows_csv(job: Job) -> Any:
    """Every failed row of the job as CSV lines, read from the database in chunks; text cells
    that a spreadsheet would run as a formula are neutralised (``csvfiles.spreadsheet_safe``)."""
    from ..jobs import csvfiles

    writer = csv.writer(_Echo())
    yield writer.writerow(["row", "code", "source_id", "part", "key", "reason"])
    # The part's index, not the whole part (its request body can be megabytes, read per row).
    rows = JobFailedRow.objects.filter(job=job).annotate(part_index=F("part__index")).order_by("row", "pk")
    for r in rows.iterator(chunk_size=2000):
        part_index = "" if r.part_index is None else r.part_index
        cells = [r.row or "", r.code, r.source_id, part_index, r.key, r.reason]
        yield writer.writerow([csvfiles.spreadsheet_safe(cell) for cell in cells])
