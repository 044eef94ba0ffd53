"""Out-of-order index inserts wait and are merged on the next read (issue 13: a redeem
bisect-inserted its random id into the redemptions' ``id`` ordering, shifting half the list per
redeem: ~30 us at 100k redemptions, growing with the store).

A reference model (a plain sorted list) is the oracle; shifts are counted by wrapping the
module's ``insort``, never timed.
"""

from __future__ import annotations

import random
from bisect import insort
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import store
from django_voucherify.sandbox.store import IndexedDict, OrderIndex, key_of, text_of


def random_ids(n: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    return [f"r_{rng.getrandbits(64):016x}" for _ in range(n)]


@pytest.fixture
def insorts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of the list each ``insort`` in store.py shifted."""
    calls: list[int] = []

    def counted(rows: list[Any], row: Any) -> None:
        calls.append(len(rows))
        insort(rows, row)

    monkeypatch.setattr(store, "insort", counted)
    return calls


def test_an_out_of_order_insert_shifts_no_list(insorts: list[int]) -> None:
    coll = IndexedDict({"id": text_of("id")})
    ids = random_ids(3000)
    for key in ids:  # as redeems do: each new redemption's random id
        coll[key] = {"id": key}
    # Before: one insort per id that did not sort last (~3000, each shifting half the list).
    assert insorts == []
    assert [row[2] for row in coll.ordered("id")] == sorted(ids)


def test_a_merge_of_many_rows_is_one_pass_and_keeps_the_list(insorts: list[int]) -> None:
    index = OrderIndex(text_of("id"))
    ids = random_ids(4 * store.MERGE_BY_PASS)
    for seq, key in enumerate(ids[: len(ids) // 2]):
        index.put(key, {"id": key}, seq)
    held = index.rows  # e.g. a listing's window, taken before more writes
    for seq, key in enumerate(ids[len(ids) // 2 :], start=len(ids)):
        index.put(key, {"id": key}, seq)
    assert index.size() == len(ids)
    assert index.rows is held
    assert [row[2] for row in held] == sorted(ids)
    assert insorts == []  # well over MERGE_BY_PASS waited: merged in one pass, no shifts


def test_a_few_pending_rows_are_bisected_in_on_read(insorts: list[int]) -> None:
    index = OrderIndex(text_of("id"))
    for seq, key in enumerate(["b", "d", "f"]):
        index.put(key, {"id": key}, seq)
    index.put("a", {"id": "a"}, 3)
    index.put("c", {"id": "c"}, 4)
    assert insorts == []
    assert [row[2] for row in index.rows] == ["a", "b", "c", "d", "f"]
    assert len(insorts) == 2  # fewer than MERGE_BY_PASS: a pass would copy every row


def test_removing_or_rewriting_a_pending_row_forces_no_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    merges: list[int] = []
    merge = OrderIndex._merge

    def counted(self: OrderIndex) -> None:
        merges.append(len(self._pending))
        merge(self)

    monkeypatch.setattr(OrderIndex, "_merge", counted)
    coll = IndexedDict({"id": text_of("id")})
    ids = random_ids(600)
    for key in ids:
        coll[key] = {"id": key}
    index = coll.indexes["id"]
    assert index._pending and index._rows  # both kinds of rows are present
    pending, merged = list(index._pending)[:50], [row[2] for row in index._rows]
    for key in pending[:25] + merged[:3]:
        del coll[key]
    for key in pending[25:]:  # a rollback rewrites its redemption: same key, new object
        coll[key] = {"id": key, "status": "ROLLED_BACK"}
    assert index.row(pending[30])[3]["status"] == "ROLLED_BACK"  # readable while pending
    assert index.value(pending[30]) == (True, pending[30])
    assert merges == []
    alive = sorted(set(ids) - set(pending[:25]) - set(merged[:3]))
    assert [row[2] for row in coll.ordered("id")] == alive
    assert len(merges) == 1
    for row in coll.ordered("id"):
        assert index.row(row[2]) is row
        assert row[3] is dict.__getitem__(coll, row[2])


def test_a_bulk_load_sorts_the_pending_rows_in(insorts: list[int]) -> None:
    coll = IndexedDict({"id": text_of("id")})
    ids = random_ids(500)
    for key in ids[:100]:
        coll[key] = {"id": key}
    assert coll.indexes["id"]._pending
    coll.put_many((key, {"id": key}) for key in ids[100:])
    assert [row[2] for row in coll.ordered("id")] == sorted(ids)
    assert not coll.indexes["id"]._pending


operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 60), st.integers(0, 30)),  # key, value
        st.tuples(st.just("discard"), st.integers(0, 60), st.just(0)),
        st.tuples(st.just("read"), st.just(0), st.just(0)),
        st.tuples(st.just("compact"), st.just(0), st.just(0)),
    ),
    max_size=150,
)


@settings(max_examples=150, deadline=None)
@given(operations, st.sampled_from([1, 3, 256]), st.sampled_from([0, 5, 1024]))
def test_reads_between_any_writes_match_a_sorted_model(
    ops: list[tuple[str, int, int]], merge_by_pass: int, compact_min: int
) -> None:
    """Whatever mix of writes, removals, reads and compactions (both merge paths, compaction
    triggered by pending rows or not), every read is the model's sorted rows and every key's row
    is the one in the list."""
    saved = store.MERGE_BY_PASS, store.COMPACT_MIN
    store.MERGE_BY_PASS, store.COMPACT_MIN = merge_by_pass, compact_min
    try:
        index = OrderIndex(key_of("v"))
        model: dict[str, tuple[str, int]] = {}  # key -> (value, seq)
        seq = 0
        for op, key_n, value_n in ops:
            key = f"k{key_n:02d}"
            if op == "put":
                old = model.get(key)
                this_seq = old[1] if old is not None else seq
                seq += 1
                value = f"v{value_n:02d}"
                index.put(key, {"v": value}, this_seq)
                model[key] = (value, this_seq)
            elif op == "discard":
                index.discard(key)
                model.pop(key, None)
            elif op == "compact":
                index.compact()
            expected = sorted((value, s, key) for key, (value, s) in model.items())
            assert index.size() == len(expected)
            if op == "read":
                assert [row[:3] for row in index.rows] == expected
        rows = index.rows
        assert [row[:3] for row in rows] == sorted((v, s, k) for k, (v, s) in model.items())
        for row in rows:
            assert index.row(row[2]) is row
    finally:
        store.MERGE_BY_PASS, store.COMPACT_MIN = saved


# ---- deferred indexing (Group.settle): a write notes its key, the next reader indexes it ----

collection_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 40), st.integers(0, 20)),  # key, value
        st.tuples(st.just("touch"), st.integers(0, 40), st.integers(0, 20)),  # in-place change
        st.tuples(st.just("del"), st.integers(0, 40), st.just(0)),
        st.tuples(st.just("pop"), st.integers(0, 40), st.just(0)),
        st.tuples(st.just("bulk"), st.integers(0, 40), st.integers(0, 20)),
        st.tuples(
            st.sampled_from(["ordered", "indexes", "value", "bucket", "held"]), st.integers(0, 40), st.just(0)
        ),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(collection_ops)
def test_every_reader_sees_every_write_as_indexing_on_write_did(ops: list[tuple[str, int, int]]) -> None:
    """Writes, in-place changes with ``touch``, removals and bulk loads in any mix, read through
    every reader (``ordered``, ``indexes``, an index's ``value``/``row``, an equality bucket, an
    index object held across writes): each read equals a model of the stored objects, sorted."""
    coll = IndexedDict({"v": key_of("v"), "w": text_of("w")})
    held = coll.indexes["v"]  # a reference taken before any write
    model: dict[str, tuple[str, int]] = {}  # key -> (v, seq)
    seqs: dict[str, int] = {}
    next_seq = 0
    for op, key_n, value_n in ops:
        key, value = f"k{key_n:02d}", f"v{value_n:02d}"
        if op in ("put", "bulk"):
            if key not in seqs:
                seqs[key], next_seq = next_seq, next_seq + 1
            if op == "put":
                coll[key] = {"v": value, "w": value[-1]}
            else:
                coll.put_many([(key, {"v": value, "w": value[-1]})])
            model[key] = (value, seqs[key])
        elif op == "touch" and key in model:
            obj = dict.__getitem__(coll, key)
            obj["v"], obj["w"] = value, value[-1]
            coll.touch(key)
            model[key] = (value, seqs[key])
        elif op in ("del", "pop") and key in model:
            if op == "del":
                del coll[key]
            else:
                coll.pop(key)
            del model[key], seqs[key]
        expected = sorted((v, s, k) for k, (v, s) in model.items())
        if op == "ordered":
            assert [row[:3] for row in coll.ordered("v")] == expected
        elif op == "indexes":
            assert [row[:3] for row in coll.indexes["v"].rows] == expected
        elif op == "held":
            assert held.size() == len(expected)
            assert [row[:3] for row in held.rows] == expected
        elif op == "value" and key in model:
            assert coll.indexes["w"].value(key) == (True, model[key][0][-1])
            assert held.row(key)[3] is dict.__getitem__(coll, key)
        elif op == "bucket":
            wanted = {k for k, (v, _) in model.items() if v[-1] == value[-1]}
            assert coll.bucket("w").keys_of.get(value[-1], set()) == wanted
    assert [row[:3] for row in coll.ordered("v")] == sorted((v, s, k) for k, (v, s) in model.items())


def test_a_write_extracts_nothing_until_an_index_is_read() -> None:
    """A redeem's writes (a redemption into five orderings) cost no extraction while nobody
    lists; the first read extracts each written object once per ordering."""
    extracted: list[str] = []

    def counting(obj: dict[str, Any]) -> str:
        extracted.append(obj["id"])
        return str(obj["id"])

    coll = IndexedDict({"a": counting, "b": counting})
    ids = random_ids(300)
    for key in ids:
        coll[key] = {"id": key}
    coll[ids[0]] = {"id": ids[0]}  # rewritten before any read: indexed once, as its last object
    assert extracted == []
    assert [row[2] for row in coll.ordered("a")] == sorted(ids)
    assert len(extracted) == 2 * len(ids)
    assert [row[2] for row in coll.ordered("b")] == sorted(ids)
    assert len(extracted) == 2 * len(ids)  # nothing extracted again
