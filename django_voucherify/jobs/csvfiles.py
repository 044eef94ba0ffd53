"""CSV sources of voucher and customer imports: header check, row checks, streaming split.

The source is read row by row from Django storage and written into part files under the body
limit; memory stays flat whatever the file size. Rows that would certainly be refused (no code,
a date that is not ISO 8601, bytes that are not UTF-8, a value that is not a number...) are not
sent: they are listed as failed rows with their reason, so nothing is silently dropped.

Codes, source ids and column names (metadata keys) go through the shared validator
(:mod:`django_voucherify.validation`), exactly as the REST API, the admin and JSON imports do;
no cell may hold a NUL character.

Reading is bounded: the source is read in chunks of :data:`READ_CHUNK` bytes, and a row (all
its lines) longer than :data:`MAX_ROW_BYTES` is not held in memory: the rest of its line is
skipped, the row is listed as failed with the reason, and the next line is read. A field over
the csv module's ``field_size_limit`` fails its row the same way. Memory stays flat and the time
linear whatever the longest line (Django's ``File`` line iterator re-joins the chunks of a long
line again and again: quadratic, so it is not used here).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.files import File
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .. import conf, validation
from ..errors import DjangoVoucherifyError

#: Room left in a part for the multipart envelope around the CSV.
MULTIPART_OVERHEAD = 1024
HEADER_PEEK_BYTES = 64 * 1024
#: Longest row (all its lines, in bytes) the splitter reads; a longer one fails on its own.
MAX_ROW_BYTES = 1024 * 1024
#: Bytes read from the source at a time.
READ_CHUNK = 64 * 1024


class CsvError(DjangoVoucherifyError, ValueError):
    """The file cannot be imported at all (nothing was sent); the message says why."""


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "").replace("_", "")


VOUCHER_TYPES = {"DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD", "DISCOUNT", "GIFT"}
DISCOUNT_TYPES = {"AMOUNT", "PERCENT", "FIXED", "UNIT"}
BOOLEANS = {"true", "false", "1", "0", "yes", "no"}


def _is_date(value: str) -> bool:
    try:
        return bool(parse_datetime(value) or parse_date(value))
    except ValueError:  # well formed but impossible, e.g. 2024-02-30
        return False


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _cells_problem(row: dict[str, str]) -> str | None:
    """A cell no database can store (NUL): the shared validator's rule for free text."""
    for value in row.values():
        if problem := validation.text_problem(value):
            return problem
    return None


#: Characters of a refused value quoted in its row's reason: a cell can hold 131,072, and the
#: reason is stored per row and shown (200 of them) on the job page and in its status JSON.
SHOWN_VALUE_CHARS = 60


def _shown(value: str) -> str:
    """``value`` for a reason (quoted there with ``%r``), cut to its start when it is long."""
    return value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "…"


def voucher_row_problem(row: dict[str, str]) -> str | None:
    """Why Voucherify would refuse this voucher row, or None (columns by normalised header)."""
    if not row.get("code"):
        return _("Code is empty.")
    if problem := validation.code_problem(row["code"]) or _cells_problem(row):
        return problem
    for column, label in (("startdate", "Start Date"), ("expirationdate", "Expiration Date")):
        value = row.get(column)
        if value and not _is_date(value):
            return _("%(column)s is not an ISO 8601 date: %(value)r.") % {
                "column": label,
                "value": _shown(value),
            }
    if row.get("value") and not _is_number(row["value"]):
        return _("Value is not a number: %(value)r.") % {"value": _shown(row["value"])}
    limit = row.get("redemptionlimit")
    if limit and not limit.isdigit():
        return _("Redemption Limit is not a whole number: %(value)r.") % {"value": _shown(limit)}
    vtype = row.get("vouchertype")
    if vtype and vtype.upper() not in VOUCHER_TYPES:
        return _("Voucher Type %(value)r is not one of %(allowed)s.") % {
            "value": _shown(vtype),
            "allowed": ", ".join(sorted(VOUCHER_TYPES)),
        }
    dtype = row.get("discounttype")
    if dtype and dtype.upper() not in DISCOUNT_TYPES:
        return _("Discount Type %(value)r is not one of %(allowed)s.") % {
            "value": _shown(dtype),
            "allowed": ", ".join(sorted(DISCOUNT_TYPES)),
        }
    active = row.get("active")
    if active and active.lower() not in BOOLEANS:
        return _("Active must be true or false, not %(value)r.") % {"value": _shown(active)}
    return None


def customer_row_problem(row: dict[str, str]) -> str | None:
    if not row.get("sourceid") and not row.get("id"):
        return _("Source_id is empty.")
    if problem := validation.source_id_problem(row.get("sourceid") or row["id"]) or _cells_problem(row):
        return problem
    birthdate = row.get("birthdate")
    if birthdate and not _is_date(birthdate):
        return _("Birthdate is not an ISO 8601 date: %(value)r.") % {"value": _shown(birthdate)}
    return None


@dataclass(frozen=True)
class CsvKind:
    label: str
    required: tuple[str, ...]  # one of these normalised columns must be present
    row_problem: Callable[[dict[str, str]], str | None]
    ident: str  # normalised column identifying a row in failed-row lists
    ident_key: str  # its key in failed rows ("code" / "source_id")


VOUCHERS = CsvKind("vouchers", ("code",), voucher_row_problem, "code", "code")
CUSTOMERS = CsvKind("customers", ("sourceid", "id"), customer_row_problem, "sourceid", "source_id")


def check_header(kind: CsvKind, header_line: bytes) -> list[str]:
    """The header's columns; raises :class:`CsvError` when the file cannot be imported."""
    if not header_line.strip():
        raise CsvError(_("The file is empty: a CSV with a header line is expected."))
    if len(header_line) > HEADER_PEEK_BYTES:  # only its start was read: the rest went unchecked
        raise CsvError(_("The header line is longer than %(max)d bytes.") % {"max": HEADER_PEEK_BYTES})
    try:
        text = header_line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError(
            _("The file is not UTF-8 encoded; save it as CSV UTF-8 and upload it again.")
        ) from None
    try:
        # Parsed with its line end: a quoted name left open at the end of the line keeps it and
        # is refused below (stripped, it was cut at the line break and sent under that name).
        columns = next(csv.reader([text]), [])
    except csv.Error as exc:  # e.g. lines ending with CR only (old Mac), which csv cannot split
        raise CsvError(
            _(
                "The header line is not valid CSV (%(error)s). If the file's lines end with CR only, "
                "save it again as CSV UTF-8."
            )
            % {"error": exc}
        ) from None
    for number, column in enumerate(columns, start=1):
        if "\n" in column or "\r" in column:
            raise CsvError(
                _(
                    "Column %(n)d of the header (%(name)s) is quoted and holds a line break: a "
                    "column name must fit on the header line."
                )
                % {"n": number, "name": validation.visible(column.rstrip("\r\n"))}
            )
    names = [_norm(c) for c in columns]
    if any(not n for n in names):
        raise CsvError(_("The header has an empty column name (column %(n)d).") % {"n": names.index("") + 1})
    for number, column in enumerate(columns, start=1):  # other columns become metadata keys
        if problem := validation.metadata_key_problem(column.strip()):
            raise CsvError(
                _("Column %(n)d of the header (%(name)s): %(problem)s")
                % {"n": number, "name": validation.visible(column), "problem": problem}
            )
    duplicates = sorted({c for c, n in zip(columns, names, strict=True) if names.count(n) > 1})
    if duplicates:
        raise CsvError(_("The header repeats columns: %(columns)s.") % {"columns": ", ".join(duplicates)})
    if not any(r in names for r in kind.required):
        wanted = " or ".join({"code": "Code", "sourceid": "Source_id", "id": "Id"}[r] for r in kind.required)
        message = _("The header has no %(wanted)s column (found: %(found)s). Is this a %(kind)s CSV?")
        raise CsvError(message % {"wanted": wanted, "found": ", ".join(columns), "kind": kind.label})
    return columns


def read_header_line(stream: IO[bytes]) -> bytes:
    """The first line of a binary stream: at most 64 KiB, and one byte more when it is longer
    (:func:`check_header` refuses it)."""
    return stream.readline(HEADER_PEEK_BYTES + 1)


def validate_upload(kind: CsvKind, uploaded: Any) -> list[str]:
    """Check an uploaded file's size (``JOB_UPLOAD_MAX_BYTES``) and header without reading the
    rest; rewinds the file. The one check of every door (the admin's form, the Python API)."""
    check_size(uploaded)
    uploaded.seek(0)
    try:
        return check_header(kind, read_header_line(uploaded))
    finally:
        uploaded.seek(0)


def check_size(uploaded: Any) -> None:
    """Raise :class:`CsvError` when the file is over ``JOB_UPLOAD_MAX_BYTES``: it would be
    stored, split into as many bytes again and sent, whatever its size."""
    limit = conf.settings().job_upload_max_bytes
    size = getattr(uploaded, "size", None)  # an UploadedFile or File knows it
    if not isinstance(size, int):
        size = uploaded.seek(0, os.SEEK_END)  # a stream: its end, without reading it
    if size > limit:
        raise CsvError(
            _(
                "The file is %(size)s bytes, over the %(max)s byte limit of an import "
                "(JOB_UPLOAD_MAX_BYTES); split it into smaller files."
            )
            % {"size": size, "max": limit}
        )


@dataclass
class SplitResult:
    parts: list[dict[str, Any]] = field(default_factory=list)  # file, rows, bytes, first row, skipped
    failed_count: int = 0
    rows: int = 0


#: A part's map back to source rows lists the rows left out of it; past this many the part is
#: closed early, so the map (stored on the part) stays small whatever the file.
MAX_SKIPPED_PER_PART = 1000


class RowTooLong(Exception):
    """The row being read is over :data:`MAX_ROW_BYTES`; the rest of its line was skipped."""


class _Lines:
    """Decoded lines for ``csv.reader``, read in chunks with bounded memory.

    Raises :class:`RowTooLong` (and skips to the next line, never holding more than the limit)
    when the row being read (lines since :meth:`start_row`) grows over ``limit`` bytes. Being
    a plain iterator (not a generator), it keeps working after raising; ``csv.reader`` starts a
    fresh row on its next call. Lines that are not UTF-8 are decoded with replacement and their
    numbers noted in ``bad_line``.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.buffer = bytearray()
        self.number = 0  # physical lines read (or skipped)
        self.row_bytes = 0
        self.bad_line: int | None = None

    def start_row(self) -> None:
        self.row_bytes, self.bad_line = 0, None

    def __iter__(self) -> _Lines:
        return self

    def _fill(self) -> bool:
        chunk = self.stream.read(READ_CHUNK)
        self.buffer += chunk
        return bool(chunk)

    def _skip_rest_of_line(self) -> None:
        while (end := self.buffer.find(b"\n")) < 0:
            self.buffer.clear()
            if not self._fill():
                return
        del self.buffer[: end + 1]

    def __next__(self) -> str:
        searched = 0
        while (end := self.buffer.find(b"\n", searched)) < 0:
            if self.row_bytes + len(self.buffer) > self.limit:
                self.number += 1
                self._skip_rest_of_line()
                raise RowTooLong(self.number)
            searched = len(self.buffer)
            if not self._fill():
                if not self.buffer:
                    raise StopIteration
                end = len(self.buffer) - 1
                break
        raw = bytes(self.buffer[: end + 1])
        del self.buffer[: end + 1]  # amortised O(1): bytearray drops its head in place
        self.number += 1
        self.row_bytes += len(raw)
        if self.row_bytes > self.limit:
            raise RowTooLong(self.number)
        try:
            return raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
        except UnicodeDecodeError:
            self.bad_line = self.bad_line or self.number
            return raw.decode("utf-8", errors="replace")


class _PartWriter:
    """Writes rows into temp files of at most ``max_bytes`` and saves each into storage.

    Each part records its first source row and the source rows after it that were left out, so
    Voucherify's row numbers (counted within the part file) translate back to the source.
    """

    def __init__(
        self,
        header: list[str],
        max_bytes: int,
        save: Callable[[File[Any], int], str],
        part_bytes: int | None = None,
    ) -> None:
        # ``max_bytes`` is the request's limit: a row over it can never be sent. ``part_bytes``
        # (at most that) only says when to close a part, so progress moves part by part; a row
        # between the two goes into a part of its own rather than being refused.
        self.header, self.max_bytes, self.save = header, max_bytes, save
        self.part_bytes = min(part_bytes or max_bytes, max_bytes)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        self.header_bytes = self._encode(header)
        self.tmp: Any = None
        self.size = self.rows = self.first_row = self.last_row = 0
        self.skipped: list[int] = []
        self.parts: list[dict[str, Any]] = []

    def _encode(self, row: list[str]) -> bytes:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerow(row)
        return self.buffer.getvalue().encode()

    def add(self, source_row: int, row: list[str]) -> bool:
        data = self._encode(row)
        if len(self.header_bytes) + len(data) > self.max_bytes:
            return False
        if self.tmp is not None and self.size + len(data) > self.part_bytes:
            self.flush()
        if self.tmp is None:
            self.tmp = tempfile.TemporaryFile()  # noqa: SIM115 - closed in flush()
            self.tmp.write(self.header_bytes)
            self.size, self.rows, self.first_row, self.skipped = len(self.header_bytes), 0, source_row, []
        self.tmp.write(data)
        self.size += len(data)
        self.rows += 1
        self.last_row = source_row
        return True

    def skip(self, source_row: int) -> None:
        """``source_row`` is not sent: remember the gap in the open part (if any)."""
        if self.tmp is None:
            return  # before the part's first row: first_row already accounts for it
        self.skipped.append(source_row)
        if len(self.skipped) >= MAX_SKIPPED_PER_PART:
            self.flush()

    def flush(self) -> None:
        if self.tmp is None:
            return
        self.tmp.seek(0)
        name = self.save(File(self.tmp), len(self.parts) + 1)
        self.parts.append(
            {
                "file": name,
                "rows": self.rows,
                "bytes": self.size,
                "first_row": self.first_row,
                "skipped": [r for r in self.skipped if r < self.last_row],
            }
        )
        self.tmp.close()
        self.tmp = None


def split_csv(
    kind: CsvKind,
    stream: IO[bytes],
    max_bytes: int,
    save: Callable[[File[Any], int], str],
    reject: Callable[[dict[str, Any]], None],
    part_bytes: int | None = None,
) -> SplitResult:
    """Stream ``stream`` into part files under ``max_bytes`` (``save`` stores one, returns its name),
    each closed once it reaches ``part_bytes`` (default ``max_bytes``); only a row over
    ``max_bytes`` (the request's limit) is refused for its size.

    Rows that are not sent go to ``reject`` (``{"row", "code"/"source_id", "reason"}``) one by
    one, never accumulated here. Row numbers count data rows from 1 (the header is not a row;
    neither is a truly empty line). Raises :class:`CsvError` for problems with the whole file
    (empty, header, no data row).
    """
    columns = check_header(kind, read_header_line(stream))
    stream.seek(0)
    names = [_norm(c) for c in columns]
    lines = _Lines(stream, MAX_ROW_BYTES)
    reader = csv.reader(lines)
    try:
        next(reader)  # the header, checked above
    except (RowTooLong, csv.Error):
        raise CsvError(_("The header line is too long.")) from None
    writer = _PartWriter(
        columns,
        max_bytes - MULTIPART_OVERHEAD,
        save,
        None if part_bytes is None else part_bytes - MULTIPART_OVERHEAD,
    )
    result = SplitResult()
    while True:
        lines.start_row()
        first_line = lines.number + 1
        values: list[str] | None
        problem: str | None
        try:
            values = next(reader)
        except StopIteration:
            break
        except RowTooLong:
            values, problem = (
                None,
                _("Line %(line)d: the row is longer than %(max)d bytes; it was skipped.")
                % {"line": first_line, "max": MAX_ROW_BYTES},
            )
        except csv.Error as exc:
            values, problem = (
                None,
                _("Line %(line)d is not valid CSV (%(error)s).")
                % {"line": first_line, "error": _csv_error(exc)},
            )
        if values is not None:
            if not values:
                continue  # an empty line is not a row (spaces or commas are: reported below)
            problem = _values_problem(kind, names, values, lines.bad_line)
        result.rows += 1
        row = {n: v.strip() for n, v in zip(names, values or (), strict=False)}
        ident = {kind.ident_key: validation.visible(row.get(kind.ident, ""))}
        if problem is None and values is not None and not writer.add(result.rows, values):
            problem = _("The row alone is over the request size limit.")
        if problem is not None:
            problem = _spanned(first_line, lines.number, problem)
            writer.skip(result.rows)
            result.failed_count += 1
            reject({"row": result.rows, **ident, "reason": problem})
    writer.flush()
    if result.rows == 0:
        raise CsvError(_("The file has a header but no rows."))
    result.parts = writer.parts
    return result


def _spanned(first: int, last: int, problem: str) -> str:
    """``problem`` of a refused row, naming every line it took when it took more than one: a
    stray double quote opens a field that runs on over the following lines (up to the field or
    row limit, thousands of lines), and all of them are this one row, none imported."""
    if last <= first:
        return problem
    return _(
        "Lines %(first)d to %(last)d are one row (a quoted field runs over them: a stray double "
        "quote?), so none of them was imported: %(problem)s"
    ) % {"first": first, "last": last, "problem": problem}


def _csv_error(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return _("a field is longer than %(max)d characters") % {"max": csv.field_size_limit()}
    return str(exc)


def _values_problem(kind: CsvKind, names: list[str], values: list[str], bad_line: int | None) -> str | None:
    if bad_line is not None:
        return _("Line %(line)d is not valid UTF-8; save the file as CSV UTF-8.") % {"line": bad_line}
    if not any(v.strip() for v in values):
        return _("The row has only empty fields (spaces or commas).")
    if len(values) > len(names):
        return _("The row has %(got)d fields, the header %(want)d.") % {
            "got": len(values),
            "want": len(names),
        }
    return kind.row_problem({n: v.strip() for n, v in zip(names, values, strict=False)})


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A cell for a CSV that staff open in a spreadsheet: text starting with ``=``, ``+``,
    ``-``, ``@``, tab or CR gets a leading single quote (the OWASP advice), so a code or reason
    such as ``=HYPERLINK(...)`` is shown as text, never run. Numbers pass unchanged.

    Also after leading white space (some spreadsheets trim it before parsing) and in the
    full-width and small forms (U+FF1D, U+FE62...: NFKC turns them into ``=``, ``+``, and an
    input method or a locale may do the same): quoting a harmless cell costs one character,
    missing a formula can cost the workstation."""
    if not isinstance(value, str):
        return value
    first = value.lstrip()[:1]
    if value.startswith(FORMULA_STARTS) or (first and unicodedata.normalize("NFKC", first) in FORMULA_STARTS):
        return "'" + value
    return value


def part_filename(source_name: str, index: int) -> str:
    stem = os.path.splitext(os.path.basename(source_name))[0] or "import"
    return f"{stem}.part{index:04d}.csv"
