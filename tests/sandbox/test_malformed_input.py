"""Malformed input gets a quick 4xx with Voucherify's error body, never a 500: CSV files that are
not UTF-8 or not readable as CSV, nested values where the spec wants a scalar, bodies and query
strings nested too deeply, and methods a path does not declare (405 with ``Allow``)."""

from __future__ import annotations

import time

import pytest

from django_voucherify.sandbox.limits import MAX_DEPTH

ERROR_KEYS = {"code", "key", "message", "details", "request_id"}


def _csv_upload(api, path, content: bytes):
    return api.post(path, files={"file": ("upload.csv", content, "text/csv")})


def _assert_error(resp, status: int, key: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) >= ERROR_KEYS and body["key"] == key
    assert body["request_id"] == resp.headers["X-Request-Id"]
    return body


# ---- CSV uploads ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/vouchers/importCSV", "/v1/customers/importCSV"])
def test_a_csv_upload_that_is_not_utf8_is_a_400_with_the_reason(api, path):
    latin1 = "Source_id,Name\nc1,Zoë\n".encode("latin-1")
    body = _assert_error(_csv_upload(api, path, latin1), 400, "invalid_payload")
    assert body["details"] == "CSV file is not UTF-8: byte 0xeb at position 20"


def test_the_position_of_a_bad_byte_counts_the_byte_order_mark(api):
    with_bom = b"\xef\xbb\xbfSource_id,Name\nc1,\xff\n"
    body = _assert_error(_csv_upload(api, "/v1/customers/importCSV", with_bom), 400, "invalid_payload")
    assert body["details"] == "CSV file is not UTF-8: byte 0xff at position 21"


def test_a_utf8_csv_with_a_byte_order_mark_is_still_accepted(api):
    resp = _csv_upload(api, "/v1/customers/importCSV", "\ufeffSource_id,Name\nc1,Zoë\n".encode())
    assert resp.status_code == 202, resp.text


@pytest.mark.parametrize("path", ["/v1/vouchers/importCSV", "/v1/customers/importCSV"])
def test_a_csv_field_the_csv_module_cannot_read_is_a_400(api, path):
    huge_field = b'Source_id,Name\nc1,"' + b"x" * 200_000 + b'"\n'
    body = _assert_error(_csv_upload(api, path, huge_field), 400, "invalid_payload")
    assert body["details"].startswith("CSV file cannot be read: field larger than field limit")


# ---- depth ---------------------------------------------------------------------------------
def test_a_100k_deep_json_body_is_a_quick_400(api):
    started = time.monotonic()
    resp = api.post("/v1/customers", data=b"[" * 100_000, headers={"Content-Type": "application/json"})
    body = _assert_error(resp, 400, "invalid_payload")
    assert body["details"] == f"JSON body is nested deeper than {MAX_DEPTH} levels"
    assert time.monotonic() - started < 2


def test_a_json_body_one_level_past_the_limit_is_a_400_and_at_the_limit_is_accepted(api):
    def nested(levels: int) -> str:  # metadata is level 1; each {"a": ...} adds one
        return '{"metadata": ' + '{"a": ' * (levels - 1) + "1" + "}" * (levels - 1) + "}"

    too_deep = api.post(
        "/v1/customers", data=nested(MAX_DEPTH + 1), headers={"Content-Type": "application/json"}
    )
    _assert_error(too_deep, 400, "invalid_payload")
    at_limit = api.post("/v1/customers", data=nested(MAX_DEPTH), headers={"Content-Type": "application/json"})
    assert at_limit.status_code == 200, at_limit.text
