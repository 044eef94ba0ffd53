"""The admin's spreadsheet-safe copy of an export, split into fields by its own streaming
scanner: the same cells as ``csv.reader`` reads, formulas quoted, whatever the cell length
(csv.reader's process-wide 131,072-character limit broke the download mid-response)."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.admin import job_export
from django_voucherify.admin.job_export import _safe_cell, _spreadsheet_safe_lines

CELL = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
) | st.sampled_from(["=HYPERLINK(1)", "-5", "+1", "@x", '"=a",b', "a\r\nb", " =1", "\uff1d1", ""])


def download(data: bytes) -> bytes:
    return b"".join(_spreadsheet_safe_lines(io.BytesIO(data)))


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=5), max_size=8), chunk=st.integers(1, 9))
def test_the_copy_holds_the_same_cells_with_formulas_quoted(rows, chunk):
    """Against csv.reader over any CSV that csv.writer makes, read in tiny chunks so that
    fields, doubled quotes and \\r\\n line ends straddle the chunk boundaries."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    original = out.getvalue().encode("utf-8")
    saved = job_export._READ_CHARS
    job_export._READ_CHARS = chunk
    try:
        copy = download(original)
    finally:
        job_export._READ_CHARS = saved
    expected = [[_safe_cell(cell) for cell in row] for row in cells(original)]
    assert cells(copy) == expected


def test_a_long_cell_and_a_formula_after_it():
    data = ('id,metadata\r\n1,"' + "x" * 200_000 + '"\r\n2,=HYPERLINK(1)\r\n').encode()
    copy = download(data)
    assert copy.endswith(b"2,'=HYPERLINK(1)\r\n")
    assert copy.startswith(data[: -len(b"2,=HYPERLINK(1)\r\n")])  # the long cell as it was


def test_untouched_fields_keep_their_bytes_and_numbers_stay_numbers():
    data = b'a,"b,c",-5,-0.5,"=1+2"\n\xef\xbb\xbfz\r\n'
    assert download(data) == b'a,"b,c",-5,-0.5,\'=1+2\n\xef\xbb\xbfz\r\n'


def test_an_unclosed_quote_and_an_empty_file_end_cleanly():
    assert download(b"") == b""
    assert download(b'a,"unclosed\r\nb') == b'a,"unclosed\r\nb'


def test_a_long_cell_costs_linear_work_and_is_sent_as_it_goes(monkeypatch):
    """A field spanning many chunks was rescanned from its start for every chunk (quadratic: a
    4 MB cell took 9 s); and a long line was held whole until its end."""
    scanned = []
    real_end = job_export._field_end

    def counting(buf, pos, eof):
        end = real_end(buf, pos, eof)
        scanned.append((len(buf) if end is None else end) - pos)  # what the regexes ran over
        return end

    monkeypatch.setattr(job_export, "_field_end", counting)
    monkeypatch.setattr(job_export, "_READ_CHARS", 1024)
    cell = "x" * 2_000_000
    data = f'a,"{cell}",b\r\n'.encode() + b"1," * 100_000 + b"2\r\n"
    pieces = list(_spreadsheet_safe_lines(io.BytesIO(data)))
    assert b"".join(pieces) == data
    assert sum(scanned) < 8 * len(data), sum(scanned) / len(data)
    assert max(len(p) for p in pieces[1:]) < 2 * 1024 + 16  # the short fields' line streamed


def test_a_bom_or_text_after_a_closing_quote_does_not_hide_a_formula():
    assert download(b"\xef\xbb\xbf=HYPERLINK(1),b\r\n") == b"\xef\xbb\xbf'=HYPERLINK(1),b\r\n"
    copy = download(b'"=1"+2,b\r\n')
    assert cells(copy) == [["'=1+2", "b"]]
