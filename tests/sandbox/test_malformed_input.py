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


# ---- nested values where the spec declares a scalar, on every operation --------------------
def _scalar_members(schema: dict, spec: dict) -> list[tuple[str, ...]]:
    """The members of a query parameter the spec types as a string/integer/boolean."""
    while "$ref" in schema:
        schema = _at(spec, schema["$ref"])
    if schema.get("type") in ("string", "integer", "number", "boolean"):
        return [()]
    members: list[tuple[str, ...]] = []
    for key, member in schema.get("properties", {}).items():
        members += [(key, *rest) for rest in _scalar_members(member, spec)]
    return members


def _at(spec: dict, ref: str) -> dict:
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _nested_scalar_probes() -> list[tuple[str, str, str]]:
    from django_voucherify.sandbox.openapi import sandbox_scope, voucherify_spec

    spec = voucherify_spec()
    probes = []
    for operation_id, method, path in sandbox_scope():
        item = spec["paths"][path]
        for param in [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]:
            param = _at(spec, param["$ref"]) if "$ref" in param else param
            if param["in"] != "query":
                continue
            for member in _scalar_members(param["schema"], spec):
                name = param["name"] + "".join(f"[{key}]" for key in member)
                probes.append((method, path.replace("{", "").replace("}", ""), f"{name}[x]=1"))
    return probes


PROBES = _nested_scalar_probes()


def test_every_declared_scalar_query_parameter_is_probed():
    # created_at[before] on list-vouchers (a deepObject member), limit, token, force...
    names = {query.split("[x]")[0] for _, _, query in PROBES}
    assert {
        "created_at[before]",
        "limit",
        "token",
        "force",
        "filters[campaign_name][conditions][$is]",
    } <= names
    assert len(PROBES) > 40


@pytest.mark.parametrize(("method", "path", "query"), PROBES, ids=[f"{m} {p}?{q}" for m, p, q in PROBES])
def test_a_nested_value_where_the_spec_declares_a_scalar_is_a_400(api, method, path, query):
    body = _assert_error(api.call(method, f"{path}?{query}"), 400, "invalid_query_params")
    assert body["details"].endswith("must be a single value")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        *[(path, "created_at[before][x]=1") for path in ("/v1/vouchers", "/v1/redemptions")],
        # a list in a deepObject member
        *[(path, "created_at[after][]=2024-01-01") for path in ("/v1/vouchers", "/v1/redemptions")],
        # a value where the spec declares an object
        *[(path, "created_at=2024-01-01") for path in ("/v1/vouchers", "/v1/redemptions")],
        ("/v1/vouchers", "ids[x]=1"),  # nested keys where the spec declares a list
        ("/v1/customers", "created_at[before][x]=1"),  # declared as a flat created_at[before]
    ],
)
def test_misshapen_list_filters_are_a_400_on_list_endpoints(api, path, query):
    _assert_error(api.get(f"{path}?{query}"), 400, "invalid_query_params")


def test_repeating_a_top_level_filter_still_gives_several_values(api):
    # "You can provide multiple values by repeating the param" (list-redemptions' result).
    assert api.get("/v1/redemptions?result=SUCCESS&result=FAILURE").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "created_at[before]=2024-01-01&created_at[before][x]=1",
        "created_at[before][x]=1&created_at[before]=2024-01-01",
        "order=code&order[x]=1",
        "ids[]=a&ids[x]=b",
    ],
)
def test_a_name_given_both_as_a_value_and_with_nested_keys_is_a_400(api, query):
    body = _assert_error(api.get(f"/v1/vouchers?{query}"), 400, "invalid_query_params")
    assert body["details"].endswith("given both as a value and with nested keys")


def test_a_voucher_filter_whose_conditions_are_not_an_object_is_a_400(api):
    _assert_error(api.get("/v1/vouchers?filters[code][conditions]=1"), 400, "invalid_query_params")
    api.voucher("KEEP")  # checked once, not per voucher listed (a 500 on each, before)
    _assert_error(api.get("/v1/vouchers?filters[code][conditions]=1"), 400, "invalid_query_params")
    resp = api.get("/v1/vouchers?filters[code][conditions][$is]=KEEP")
    assert [v["code"] for v in resp.json()["vouchers"]] == ["KEEP"]


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


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 20_000])
def test_a_query_string_nested_past_the_limit_is_a_quick_400(api, levels):
    started = time.monotonic()
    body = _assert_error(api.get("/v1/vouchers?a" + "[x]" * levels + "=1"), 400, "invalid_query_params")
    assert body["details"] == f"a: nested deeper than {MAX_DEPTH} levels"
    assert time.monotonic() - started < 2


def test_a_query_string_at_the_depth_limit_is_accepted(api):
    assert api.get("/v1/vouchers?a" + "[x]" * MAX_DEPTH + "=1").status_code == 200


# ---- methods a path does not declare -------------------------------------------------------
def _declared_methods() -> dict[str, set[str]]:
    """Each spec path (parameters filled with "x") -> the methods of every spec template it
    matches: /v1/customers/importCSV is also /v1/customers/{customerId}."""
    from django_voucherify.sandbox.openapi import sandbox_scope

    templates = [(method, path.strip("/").split("/")) for _, method, path in sandbox_scope()]
    concrete = {"/".join("x" if s.startswith("{") else s for s in segs) for _, segs in templates}
    return {
        "/" + path: {
            method
            for method, segs in templates
            if len(segs) == len(path.split("/"))
            and all(t.startswith("{") or t == s for t, s in zip(segs, path.split("/"), strict=True))
        }
        for path in concrete
    }


DECLARED = _declared_methods()


@pytest.mark.parametrize("path", sorted(DECLARED))
def test_an_undeclared_method_is_a_405_whose_allow_header_lists_the_declared_ones(api, path):
    resp = api.call("PATCH", path)  # no operation in scope uses PATCH
    _assert_error(resp, 405, "method_not_allowed")
    assert set(resp.headers["Allow"].split(", ")) == DECLARED[path]


def test_allow_lists_every_template_the_path_matches(api):
    # /v1/vouchers/import is import-vouchers (POST), and get-voucher etc. with code "import".
    resp = api.call("PATCH", "/v1/vouchers/import")
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "DELETE, GET, POST, PUT"
