"""The Python API shops use to start bulk jobs; each function returns the :class:`Job`.

JSON inputs are split here (they are in memory already); CSV sources are stored through Django
storage and split by the ``prepare_job`` task, row by row. Work is queued after the creating
transaction commits, so a job never starts on rows that were rolled back.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from django.core.files import File
from django.db import DataError, IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import conf, validation
from ..api.batching import MAX_ORDERS_PER_IMPORT, ItemTooLarge, json_batches
from ..models import Job, JobFailedRow, JobKind, JobPart, JobState, PartState
from ..validation import visible
from . import csvfiles, dispatch

User = Any
logger = logging.getLogger("django_voucherify.jobs")


def max_bytes() -> int:
    """``BULK_CHUNK_BYTES``: the size limit of one request body."""
    return conf.settings().bulk_chunk_bytes


#: A CSV import is split into about this many parts, so that its progress (rows-weighted over
#: the parts) moves part by part instead of jumping from 0 to 100 %...
PROGRESS_PARTS = 10
#: ...but no part is made smaller than this for it (about 3,000 short rows): tiny parts would
#: only add requests and polls. A big file keeps parts of ``BULK_CHUNK_BYTES``.
MIN_PROGRESS_PART_BYTES = 64 * 1024


def csv_part_bytes(source_size: int | None) -> int:
    """The size limit of one CSV part for a source of ``source_size`` bytes: a tenth of the
    file, at least :data:`MIN_PROGRESS_PART_BYTES`, at most ``BULK_CHUNK_BYTES``. A 20,000-row
    file of ~400 KB makes 7 parts (a ~220 KB ``Code,Value`` one 4); a 1,000,000-row one
    (~20 MB) 10 parts of 2 MB (not 3 of 9 MB): the part count stays at most 10 or
    ``size / BULK_CHUNK_BYTES``."""
    limit = max_bytes()
    if not source_size or source_size <= 0:
        return limit
    return min(limit, max(MIN_PROGRESS_PART_BYTES, -(-source_size // PROGRESS_PARTS)))


class Rejects:
    """Collects rows refused locally into :class:`JobFailedRow` in batches (bounded memory)."""

    def __init__(self, job: Job) -> None:
        self.job, self.count = job, 0
        self.batch: list[JobFailedRow] = []

    def __call__(self, row: dict[str, Any]) -> None:
        self.batch.append(
            JobFailedRow(
                job=self.job,
                row=row.get("row"),
                code=visible(row.get("code") or "")[:300],
                source_id=visible(row.get("source_id") or "")[:300],
                reason=visible(row.get("reason") or ""),
            )
        )
        self.count += 1
        if len(self.batch) >= 1000:
            self.flush()

    def flush(self) -> None:
        JobFailedRow.objects.bulk_create(self.batch)
        self.batch = []


def _body_size(batch: list[Any], params: Mapping[str, Any]) -> int:
    """Bytes of the request body a part becomes, encoded as the client sends it (``requests``'
    ``json=``: default separators, ASCII); metadata updates send ``{"codes": .., "metadata": ..}``."""
    body: Any = {"codes": batch, "metadata": params["metadata"]} if "metadata" in params else batch
    return len(json.dumps(body))


def _chunks(
    rows: Iterable[tuple[int, Any]], budget: int, max_items: int | None
) -> Iterator[tuple[int, list[Any]]]:
    """``(last row, items)`` whose JSON list (as the client encodes it) is at most ``budget`` bytes."""
    try:
        yield from json_batches(rows, budget, max_items)
    except ItemTooLarge as exc:
        raise ValueError(
            _("Row %(row)d alone is %(size)d bytes, over the %(limit)d byte limit.")
            % {"row": exc.key, "size": exc.size, "limit": exc.limit}
        ) from None


def _create_json_job(
    kind: str,
    items: Iterable[Any],
    *,
    ident: str,
    started_by: User | None,
    params: Mapping[str, Any] | None = None,
    max_items: int | None = None,
    check: Any = None,
) -> Job:
    params = dict(params or {})
    budget = max_bytes() - 1024 - _body_size([], params)  # the metadata goes into every body
    if budget < 256:
        raise ValueError(
            _("The metadata alone (%(size)d bytes) leaves no room in a request under %(limit)d bytes.")
            % {"size": _body_size([], params), "limit": max_bytes()}
        )

    with transaction.atomic():
        job = Job.objects.create(kind=kind, state=JobState.PREPARING, started_by=started_by, params=params)
        rejects = Rejects(job)

        def rows() -> Iterable[tuple[int, Any]]:
            for row, item in enumerate(items, start=1):
                problem = check(item) if check else None
                if problem:
                    value = (
                        item.get(ident) if isinstance(item, dict) else (item if isinstance(item, str) else "")
                    )
                    rejects({"row": row, ident: str(value or ""), "reason": problem})
                else:
                    yield row, item

        previous = 0
        parts = []
        for index, (last_row, batch) in enumerate(_chunks(rows(), budget, max_items), start=1):
            parts.append(
                JobPart(
                    job=job,
                    index=index,
                    payload=batch,
                    first_row=previous + 1,
                    row_count=len(batch),
                    size_bytes=_body_size(batch, params),
                )
            )
            previous = last_row
        rejects.flush()
        JobPart.objects.bulk_create(parts)
        start_job(job, parts_rows=sum(p.row_count for p in parts), rejected=rejects.count)
    return job


def start_job(job: Job, *, parts_rows: int, rejected: int, empty_is_done: bool = False) -> None:
    """Turn a prepared job ``running`` and queue its parts once the transaction commits.

    A job without parts fails (every row was refused), or, with ``empty_is_done`` and no row
    refused, is done at once (a push with nothing to send).
    """
    from .results import failed_rows_sample

    job.total_rows = parts_rows + rejected
    job.result = {**job.result, "rejected_count": rejected}
    # The rows refused here are failed rows from now on: the job's count and sample say so at
    # once (the admin, the command's summary), not only once a part has finished.
    job.failed_count = rejected
    if rejected:
        job.failed_rows = failed_rows_sample(job)
    job.state = JobState.RUNNING
    job.save()
    if not job.parts.exists():
        from .results import fail_job, refresh_job

        if empty_is_done and not rejected:
            refresh_job(job.pk)
        else:
            fail_job(job, _("No row could be sent: every row was refused (see failed rows)."))
        return
    dispatch.after_commit_start(job)


def _voucher_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return _("Each voucher must be an object.")
    if not item.get("code"):
        return _("code is required.")
    return _item_problem(item, "code", validation.code_problem)


def _item_problem(item: dict[str, Any], key: str, ident_problem: Any) -> str | None:
    """The shared validator on an item's identity, metadata and every other value (no NUL)."""
    return (
        ident_problem(item.get(key))
        or validation.metadata_problem(item.get("metadata"))
        or validation.text_problem(item)
    )


def _has(key: str, label: str) -> Any:
    def check(item: Any) -> str | None:
        if not isinstance(item, dict):
            return _("Each item must be an object.")
        if not item.get(key):
            return _("%(field)s is required.") % {"field": label}
        return _item_problem(item, key, _IDENT_PROBLEMS[key])

    return check


_IDENT_PROBLEMS = {"code": validation.code_problem, "source_id": validation.source_id_problem}


def _string_problem(item: Any) -> str | None:
    return None if isinstance(item, str) and item else _("Must be a non-empty string.")


def _code_problem(item: Any) -> str | None:
    return _string_problem(item) or validation.code_problem(item)


def _source_id_problem(item: Any) -> str | None:
    return _string_problem(item) or validation.source_id_problem(item)


def _checked_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata set on every item, refused up front (ValueError) by the shared validator."""
    validation.check(validation.metadata_problem(metadata))
    return dict(metadata)


def import_vouchers(vouchers: Iterable[Mapping[str, Any]], *, started_by: User | None = None) -> Job:
    """Import standalone vouchers (``POST /v1/vouchers/import``), in requests under 10 MB."""
    return _create_json_job(
        JobKind.IMPORT_VOUCHERS, vouchers, ident="code", started_by=started_by, check=_voucher_problem
    )


def import_orders(orders: Iterable[Mapping[str, Any]], *, started_by: User | None = None) -> Job:
    """Import historical orders: at most 2000 per request, each under 10 MB."""
    return _create_json_job(
        JobKind.IMPORT_ORDERS,
        orders,
        ident="source_id",
        started_by=started_by,
        max_items=MAX_ORDERS_PER_IMPORT,
        check=_has("source_id", "source_id"),
    )


def bulk_update_vouchers(updates: Iterable[Mapping[str, Any]], *, started_by: User | None = None) -> Job:
    """``[{"code": ..., "metadata": {...}}]`` through ``POST /v1/vouchers/bulk/async``."""
    return _create_json_job(
        JobKind.BULK_UPDATE_VOUCHERS, updates, ident="code", started_by=started_by, check=_has("code", "code")
    )


def bulk_update_customers(customers: Iterable[Mapping[str, Any]], *, started_by: User | None = None) -> Job:
    """Upsert customers by ``source_id`` through ``POST /v1/customers/bulk/async``."""
    return _create_json_job(
        JobKind.BULK_UPDATE_CUSTOMERS,
        customers,
        ident="source_id",
        started_by=started_by,
        check=_has("source_id", "source_id"),
    )


def update_vouchers_metadata(
    codes: Iterable[str], metadata: Mapping[str, Any], *, started_by: User | None = None
) -> Job:
    """Set the same ``metadata`` on every code (``POST /v1/vouchers/metadata/async``)."""
    params = {"metadata": _checked_metadata(metadata)}
    return _create_json_job(
        JobKind.UPDATE_VOUCHERS_METADATA,
        codes,
        ident="code",
        started_by=started_by,
        params=params,
        check=_code_problem,
    )


def update_customers_metadata(
    source_ids: Iterable[str], metadata: Mapping[str, Any], *, started_by: User | None = None
) -> Job:
    """Set the same ``metadata`` on customers (``POST /v1/customers/metadata/async``)."""
    return _create_json_job(
        JobKind.UPDATE_CUSTOMERS_METADATA,
        source_ids,
        ident="source_id",
        started_by=started_by,
        params={"metadata": _checked_metadata(metadata)},
        check=_source_id_problem,
    )


def _import_csv(
    kind: str,
    csv_kind: csvfiles.CsvKind,
    source: str | IO[bytes] | File[Any],
    name: str | None,
    started_by: User | None,
) -> Job:
    """Store the source, check its header now (nothing is sent if it is wrong), split later."""
    opened = open(source, "rb") if isinstance(source, str) else source  # noqa: SIM115
    try:
        csvfiles.validate_upload(csv_kind, opened)
        filename = str(name or getattr(opened, "name", None) or "import.csv").rsplit("/", 1)[-1]
        # Stored under a random name (job_upload_to); the name staff know it by is a parameter.
        job = Job(
            kind=kind,
            state=JobState.PREPARING,
            started_by=started_by,
            params={"source_name": visible(filename)[:300]},
        )
        job.source_file.save(filename, File(opened), save=False)
        try:
            with transaction.atomic():
                job.save()
                dispatch.after_commit_prepare(job)
        except BaseException:
            job.source_file.storage.delete(str(job.source_file.name))  # no job row: no stray upload
            raise
    finally:
        if isinstance(source, str):
            opened.close()
    return job


def import_vouchers_csv(
    source: str | IO[bytes] | File[Any], *, name: str | None = None, started_by: User | None = None
) -> Job:
    """Import vouchers from a CSV path or binary file (Voucherify's importCSV columns).

    Raises :class:`~django_voucherify.jobs.CsvError` (nothing stored or sent) when the file is
    empty, not UTF-8, or its header has no ``Code`` column.
    """
    return _import_csv(JobKind.IMPORT_VOUCHERS_CSV, csvfiles.VOUCHERS, source, name, started_by)


def import_customers_csv(
    source: str | IO[bytes] | File[Any], *, name: str | None = None, started_by: User | None = None
) -> Job:
    """Import customers from a CSV (``Source_id`` column required); see :func:`import_vouchers_csv`."""
    return _import_csv(JobKind.IMPORT_CUSTOMERS_CSV, csvfiles.CUSTOMERS, source, name, started_by)


#: Errors that the same input raises again on every attempt (bad data, a bug): retrying cannot
#: help, so they end the job at once with the reason. Anything else (a lost database
#: connection, a storage hiccup) is retried by the task.
DETERMINISTIC_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    csv.Error,
    DataError,
    IntegrityError,
)


def prepare(job_id: int) -> None:
    """Split a stored CSV into parts (idempotent: a re-delivered call after a crash starts over,
    as no part was sent before the parts are committed all at once).

    Runs in one transaction holding the job's row lock (a second ``prepare`` of the same job
    returns at once); the rows refused locally are written in batches inside it. A source file
    that cannot be read fails the job with the reason.
    """
    from .results import fail_job

    with transaction.atomic():
        job = Job.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None or job.state != JobState.PREPARING:
            return  # finished, or being prepared by another worker right now
        try:
            _split_into_parts(job)
        except csvfiles.CsvError as exc:
            fail_job(job, str(exc))
        except OSError as exc:  # missing or unreadable source: retrying cannot help
            fail_job(
                job,
                _("The source file %(name)s cannot be read: %(error)s")
                % {
                    "name": job.params.get("source_name") or job.source_file.name,
                    "error": exc.strerror or exc,
                },
            )
        except DETERMINISTIC_ERRORS as exc:  # the same input fails the same way: never retried
            logger.exception("Voucherify job %s: the source cannot be imported", job_id)
            fail_job(
                job,
                _("The file cannot be imported (%(type)s: %(error)s); nothing was sent.")
                % {"type": type(exc).__name__, "error": visible(exc)[:500]},
            )


def _split_into_parts(job: Job) -> None:
    csv_kind = csvfiles.VOUCHERS if job.kind == JobKind.IMPORT_VOUCHERS_CSV else csvfiles.CUSTOMERS
    part_file = JobPart(job=job).file  # its storage and upload_to name the part files

    saved: list[str] = []

    def save(content: File[Any], index: int) -> str:
        part_file.save(csvfiles.part_filename(str(job.source_file.name), index), content, save=False)
        saved.append(str(part_file.name))
        return str(part_file.name)

    rejects = Rejects(job)
    if not job.source_file:
        raise FileNotFoundError(2, "no source file")
    try:
        _split_and_record(job, csv_kind, save, rejects)
    except BaseException:  # nothing refers to the part files written so far: delete them
        for name in saved:
            part_file.storage.delete(name)
        raise


def _source_size(job: Job) -> int | None:
    """The stored source's size in bytes, or None if the storage cannot say."""
    try:
        return int(job.source_file.size)
    except (OSError, NotImplementedError, TypeError, ValueError):
        return None


def _split_and_record(job: Job, csv_kind: csvfiles.CsvKind, save: Any, rejects: Rejects) -> None:
    with transaction.atomic():  # a savepoint: a CsvError leaves no failed rows behind
        with job.source_file.open("rb") as stream:
            split = csvfiles.split_csv(
                csv_kind, stream, max_bytes(), save, rejects, part_bytes=csv_part_bytes(_source_size(job))
            )
        rejects.flush()
        JobPart.objects.bulk_create(
            [
                JobPart(
                    job=job,
                    index=i,
                    file=p["file"],
                    first_row=p["first_row"],
                    skipped_rows=p["skipped"],
                    row_count=p["rows"],
                    size_bytes=p["bytes"],
                    state=PartState.PENDING,
                )
                for i, p in enumerate(split.parts, start=1)
            ]
        )
        start_job(job, parts_rows=sum(p["rows"] for p in split.parts), rejected=split.failed_count)


def _export(
    kind: str, parameters: Mapping[str, Any] | None, started_by: User | None, params: dict[str, Any]
) -> Job:
    with transaction.atomic():
        job = Job.objects.create(kind=kind, state=JobState.PREPARING, started_by=started_by, params=params)
        JobPart.objects.create(job=job, index=1, payload=dict(parameters or {}))
        start_job(job, parts_rows=0, rejected=0)
    return job


def export_orders(parameters: Mapping[str, Any] | None = None, *, started_by: User | None = None) -> Job:
    """Export orders to CSV (``POST /v1/orders/export``); the file lands in ``job.result_file``."""
    return _export(JobKind.EXPORT_ORDERS, parameters, started_by, {})


def export_voucher_transactions(
    code: str, parameters: Mapping[str, Any] | None = None, *, started_by: User | None = None
) -> Job:
    """Export a gift or loyalty card's transactions to CSV (``job.result_file``)."""
    validation.check(validation.code_problem(code))
    return _export(JobKind.EXPORT_VOUCHER_TRANSACTIONS, parameters, started_by, {"code": code})
