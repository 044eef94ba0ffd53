"""The compact stored voucher (sandbox/compact.py), the bulk load and the equality buckets
(sandbox/store.py) against plain-dict oracles: a stored voucher reads, changes and renders
exactly as the dict it replaces; a bulk load indexes as one-by-one writes do; a filtered list
narrowed by buckets equals a full pass; and a voucher costs a bounded number of bytes."""

from __future__ import annotations

import copy
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import listing
from django_voucherify.sandbox.compact import (
    _DELETED,
    _NO_METADATA,
    DERIVED,
    FIELDS,
    TIMES,
    Voucher,
    _iso_of,
    _pack_time,
    _unpack_time,
    jsonable,
)
from django_voucherify.sandbox.handlers.vouchers import build_voucher, list_vouchers
from django_voucherify.sandbox.routing import SandboxRequest
from django_voucherify.sandbox.state import SandboxState, iso

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KEYS = ("id", "code", "metadata", "created_at", "updated_at", "assets", "publish", "redemption")
KEYS += ("validity_hours", "discount", "campaign_id", "extra_key", "active")
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=6),
    st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=2),
    st.sampled_from(["2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456Z", "x"]),
)


def voucher(state: SandboxState, code: str = "AB C/1", **payload: Any) -> Any:
    return build_voucher(
        state, code, {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}, **payload}
    )


def test_a_built_voucher_is_compact_and_renders_the_api_object() -> None:
    state = SandboxState(clock=lambda: datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC))
    v = voucher(state)
    assert isinstance(v, Voucher)
    # Stored compactly: the timestamp as an int, the empty metadata as nothing (until read).
    assert isinstance(v.created_at, int) and v.metadata is not None and not isinstance(v.metadata, dict)
    assert v.render()["metadata"] == {} and not isinstance(v.metadata, dict)  # rendering keeps it so
    out = json.loads(json.dumps(v, default=jsonable))
    assert out == v.render() == dict(v)
    assert out["created_at"] == "2024-05-06T07:08:09.123Z" and out["updated_at"] is None
    assert out["assets"]["qr"]["url"] == "https://dl.voucherify.io/api/v1/assets/qr/AB%20C%2F1"
    assert out["assets"]["barcode"]["id"] == f"U2FsdGVkX1{out['id'][2:]}bc"
    assert out["publish"] == {
        "object": "list",
        "count": 0,
        "url": "/v1/vouchers/AB%20C%2F1/publications?page=1&limit=10",
    }
    assert out["metadata"] == {}
    v["metadata"]["k"] = 1  # an in-place change of the (materialised) metadata is kept
    assert v.render()["metadata"] == {"k": 1}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["set", "del", "setdefault"]), st.sampled_from(KEYS), values), max_size=25
    )
)
def test_a_voucher_reads_and_changes_as_its_dict(ops: list[tuple[str, str, Any]]) -> None:
    state = SandboxState(clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    v = voucher(state)
    d = v.render()
    for op, key, value in ops:
        if op == "set" and key not in ("id", "code"):  # a voucher's id and code never change
            v[key], d[key] = copy.deepcopy(value), copy.deepcopy(value)
        elif op == "del" and key not in ("id", "code"):
            assert (key in v) == (key in d)
            if key in d:
                del v[key], d[key]
        elif op == "setdefault":
            assert v.setdefault(key, copy.deepcopy(value)) == d.setdefault(key, copy.deepcopy(value))
        # Same keys; a compact voucher keeps the API's key order even for a key set again.
        assert sorted(v) == sorted(d) and len(v) == len(d) and bool(v) == bool(d)
        assert v.render() == d and dict(v) == d and v == d
        assert {k: v.get(k) for k in KEYS} == {k: d.get(k) for k in KEYS}
    assert json.loads(json.dumps(v, default=jsonable)) == json.loads(json.dumps(d))
    assert copy.deepcopy(v) == d


def _render_field_by_field(v: Voucher) -> dict[str, Any]:
    """The oracle: the voucher's dict, one field at a time in ``FIELDS`` order, from its slots."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        if key in DERIVED:
            value = v._extra[key] if v._extra is not None and key in v._extra else v._derived(key)
        else:
            value = object.__getattribute__(v, key)
            if key in TIMES:
                value = _unpack_time(value)
            elif value is _NO_METADATA:
                value = {}
        if value is not _DELETED:
            out[key] = value
    if v._extra:
        out.update((k, x) for k, x in v._extra.items() if k not in FIELDS)
    return out


def _read(v: Any, key: str, how: str) -> Any:
    """``v[key]`` (or ``v.get(key, "absent")``), with a missing key as a value to compare."""
    if how == "get":
        return v.get(key, "absent")
    try:
        return v[key]
    except KeyError:
        return "absent"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["set", "del"]), st.sampled_from((*KEYS, *FIELDS)), values), max_size=30
    ),
    st.sampled_from(["get", "item"]),
)
def test_fast_reads_equal_the_field_by_field_render(ops: list[tuple[str, str, Any]], how: str) -> None:
    """Item reads and ``get`` (one kind lookup, ``get`` without ``__getitem__``) give what the
    rendered dict gives, whichever keys were set or removed, and ``bool`` what ``len`` says (the
    fast answer when the id is there)."""
    state = SandboxState(clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    v = voucher(state, metadata={} if ops and ops[0][2] is None else {"k": 1})
    for op, key, value in ops:  # the id and code too: the derived keys follow (or go)
        if op == "set":
            v[key] = copy.deepcopy(value)
        elif key in v:
            del v[key]
        oracle = _render_field_by_field(v)
        assert list(v.render().items()) == list(oracle.items())
        assert list(oracle) == list(v) and bool(v) == (len(v) > 0)
        for name in (*FIELDS, "extra_key", "missing"):
            assert _read(v, name, how) == _read(oracle, name, how)
        assert _render_field_by_field(v) == oracle  # reads change nothing a render shows


def test_a_voucher_with_every_key_removed_is_falsy_like_an_empty_dict() -> None:
    v = voucher(SandboxState(clock=lambda: datetime(2024, 1, 1, tzinfo=UTC)))
    assert v
    while len(v):
        del v[next(iter(v))]  # (a derived key goes when the id or code it comes from goes)
    assert not v and not list(v)


@given(st.integers(-(10**16), 2 * 10**17))
def test_stored_microseconds_format_as_state_iso(us: int) -> None:
    text = iso(EPOCH + timedelta(microseconds=us))
    assert _iso_of(us // 1000 * 1000) == text
    packed = _pack_time(text)
    assert isinstance(packed, int) and _iso_of(packed) == text


def test_timestamps_that_do_not_round_trip_are_kept_as_given() -> None:
    for text in ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456Z", "2024-01-01T01:00:00.000+01:00"):
        assert _pack_time(text) == text


def request(query: dict[str, Any]) -> SandboxRequest:
    return SandboxRequest("GET", "/v1/vouchers", query, {}, b"", "req_test")


def seeded(size: int, bulk: bool) -> SandboxState:
    moment = [datetime(2024, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        moment[0] += timedelta(milliseconds=1)
        return moment[0]

    state = SandboxState(clock=clock)
    built = [
        voucher(state, f"C{(n * 37) % size:04d}-{n}", campaign_id=f"camp_{n % 3}", category=f"cat{n % 4}")
        for n in range(size)
    ]
    for n, v in enumerate(built):
        if n % 3 == 0:
            v["updated_at"] = iso(datetime(2025, 1, 1, tzinfo=UTC) - timedelta(seconds=n))
    if bulk:
        state.put_vouchers(built)
    else:
        for v in built:
            state.put_voucher(v)
    return state


def test_a_bulk_load_indexes_as_one_by_one_writes() -> None:
    one, bulk = seeded(300, bulk=False), seeded(300, bulk=True)
    for name in ("created_at", "updated_at", "code"):
        assert [r[2] for r in one.vouchers.ordered(name)] == [r[2] for r in bulk.vouchers.ordered(name)]
    assert one.voucher_codes_by_id.keys() != bulk.voucher_codes_by_id.keys()  # own random ids
    assert sorted(bulk.voucher_codes_by_id.values()) == sorted(bulk.vouchers)


FILTERS = [
    {"campaign_id": "camp_1"},
    {"category": "cat2", "order": "code"},
    {"campaign": "camp_0", "order": "-updated_at"},
    {"filters": {"campaign_ids": {"conditions": {"$in": ["camp_0", "camp_2"]}}}},
    {
        "filters": {
            "junction": "or",
            "code": {"conditions": {"$is": "C0003-3"}},
            "campaign_id": {"conditions": {"$is": "camp_2"}},
        }
    },
    {
        "filters": {
            "junction": "OR",
            "code": {"conditions": {"$is": "C0003-3"}},
            "category": {"conditions": {"$starts_with": "cat1"}},
        }
    },
    {
        "filters": {
            "categories": {"conditions": {"$is": "cat3"}},
            "campaign_id": {"conditions": {"$is_not": "camp_0"}},
        }
    },
]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 59), st.sampled_from(["camp_0", "camp_9", None]), st.booleans()), max_size=8
    ),
    st.sampled_from(FILTERS),
)
def test_bucket_narrowed_lists_equal_a_full_pass_after_writes(
    writes: list[tuple[int, Any, bool]], query: dict[str, Any]
) -> None:
    state = seeded(60, bulk=True)
    codes = list(state.vouchers)
    list_vouchers(request({**query, "limit": "100"}), state)  # builds the buckets it uses
    for n, campaign, delete in writes:  # writes after the buckets exist: they must follow
        code = codes[n]
        if code not in state.vouchers:
            continue
        if delete:
            state.remove_voucher(code)
        else:
            state.vouchers[code]["campaign_id"] = campaign
            state.vouchers.touch(code)
    got = list_vouchers(request({**query, "limit": "100"}), state).body["vouchers"]
    state.vouchers.group.buckets.clear()  # the oracle: the same filter by a full pass
    state.vouchers.views.clear()
    want = list_vouchers(request({**query, "limit": "100"}), state).body["vouchers"]
    assert [v["code"] for v in got] == [v["code"] for v in want]


def test_an_equality_filter_after_a_write_reads_only_its_candidates(monkeypatch: Any) -> None:
    state = seeded(400, bulk=True)
    list_vouchers(request({"campaign_id": "camp_1"}), state)
    state.vouchers["C0000-0"]["active"] = False
    state.vouchers.touch("C0000-0")  # a write: the cached selection is dropped
    passed: list[int] = []
    real = listing._materialise

    def counting(coll: Any, rows: Any, other: Any, matches: Any) -> Any:
        passed.append(len(rows))
        return real(coll, rows, other, matches)

    monkeypatch.setattr(listing, "_materialise", counting)
    body = list_vouchers(request({"campaign_id": "camp_1"}), state).body
    assert body["total"] == 133
    assert passed == [133]  # the pass visits the bucket's keys, not the 400 vouchers


def test_a_stored_voucher_costs_a_bounded_number_of_bytes() -> None:
    """The dict form took ~2.8 KB per voucher before any index (3.3 KB with them); the compact
    one stays under 1.3 KB with its three sorted indexes (tracemalloc counts allocations: no
    timing)."""
    state = SandboxState(clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    built = [voucher(state, f"CODE-{n:06d}", campaign_id="camp_1", category="cat1") for n in range(2000)]
    del built
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        state.put_vouchers(
            voucher(state, f"K-{n:06d}", campaign_id="camp_1", category="cat1") for n in range(2000)
        )
        held = (tracemalloc.get_traced_memory()[0] - before) / 2000
    finally:
        tracemalloc.stop()
    assert held < 1300, f"{held:.0f} B per stored voucher"


@given(st.text(max_size=12) | st.text(alphabet="AZaz09_.~-/ %é", max_size=12))
def test_codes_in_urls_are_quoted_as_quote_quotes_them(code: str) -> None:
    """The derived URLs' code: as ``quote(code, safe="")`` (letters and digits, the usual
    codes, are recognised without the regular expression)."""
    from urllib.parse import quote

    from django_voucherify.sandbox.compact import _quoted

    assert _quoted(code) == quote(code, safe="")
