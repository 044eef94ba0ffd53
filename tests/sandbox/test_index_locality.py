"""Index rows sit in memory in index order, and repeated voucher texts are shared (issue 13:
the per-page cost of ``order=-code`` and of the redemptions' ``order=id`` grew with the store
because each row of a page, and each voucher's own copy of its campaign's name, was a cache
miss somewhere in a large heap).

Memory addresses are CPython's ``id()``: these tests check the layout the pages rely on, never
a timing.
"""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import compact
from django_voucherify.sandbox.handlers.vouchers import build_voucher
from django_voucherify.sandbox.state import SandboxState
from django_voucherify.sandbox.store import COMPACT_MIN, IndexedDict, OrderIndex, key_of, text_of

LAYOUT = """
import itertools, random, sys
from django_voucherify.sandbox.store import IndexedDict, key_of, text_of

def near_steps(rows):
    near = sum(1 for a, b in itertools.pairwise(rows) if abs(id(b) - id(a)) <= 4096)
    return near / max(len(rows) - 1, 1)

if sys.argv[1] == "bulk":
    n = 6000
    coll = IndexedDict({"code": key_of("code")})
    coll.put_many((c, {"code": c}) for c in (f"C{(k * 7_919) % n:07d}-{k}" for k in range(n)))
    print(near_steps(coll.ordered("code")))
else:
    rng = random.Random(7)
    coll = IndexedDict({"id": text_of("id")})
    for key in (f"r_{rng.getrandbits(64):016x}" for _ in range(4096)):
        coll[key] = {"id": key}
    compact = getattr(coll.indexes["id"], "compact", None)
    if compact is not None:
        compact()
    print(near_steps(coll.ordered("id")))
"""


def layout_in_a_fresh_interpreter(case: str) -> float:
    """Share of consecutive rows within 4 KiB (a page) of each other (~1 for rows made one after
    the other, whatever order the allocator hands its free blocks out in; near 0 for rows
    scattered over the heap), for an index built in a new interpreter: where the allocator puts new
    rows depends on the holes earlier work left in the heap (in a long test run, new rows fill
    scattered free blocks), so the layout is judged where the heap has none, as a new sandbox's."""
    done = subprocess.run(
        [sys.executable, "-c", LAYOUT, case], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.strip())


def scattered_codes(n: int) -> list[str]:
    codes = [f"C{(k * 7_919) % n:07d}-{k}" for k in range(n)]  # creation order != code order
    return codes


def consistent(index: OrderIndex, coll: IndexedDict) -> None:
    """Every row the index knows a key by is the row in its sorted list (no stale copy)."""
    assert index.rows == sorted(index.rows)
    assert len(index.rows) == len(coll)
    for row in index.rows:
        assert index.row(row[2]) is row
        assert row[3] is dict.__getitem__(coll, row[2])


def test_a_bulk_load_lays_out_a_text_index_in_its_order() -> None:
    n = 6000
    coll = IndexedDict({"code": key_of("code")})
    coll.put_many((code, {"code": code}) for code in scattered_codes(n))
    consistent(coll.indexes["code"], coll)
    assert layout_in_a_fresh_interpreter("bulk") > 0.9  # before: ~0.05, rows made in creation order


def test_scattered_inserts_are_laid_out_again_once_they_are_half_the_rows(monkeypatch: Any) -> None:
    calls: list[int] = []
    compact_rows = OrderIndex.compact

    def counted(self: OrderIndex) -> None:
        calls.append(len(self.rows))
        compact_rows(self)

    monkeypatch.setattr(OrderIndex, "compact", counted)
    rng = random.Random(7)
    coll = IndexedDict({"id": text_of("id")})
    keys = [f"r_{rng.getrandbits(64):016x}" for _ in range(4 * COMPACT_MIN)]
    for key in keys:  # random ids: nearly every insert lands inside the index, not at its end
        coll[key] = {"id": key}
    index = coll.indexes["id"]
    consistent(index, coll)
    # Amortised: a pass over the rows once scattered inserts are over COMPACT_MIN and half the
    # rows, so a few passes for 4 * COMPACT_MIN inserts, not one per insert.
    assert 1 <= len(calls) <= 3, calls
    assert all(size > COMPACT_MIN for size in calls)
    old = list(index.rows)
    index.compact()
    assert all(new == was and new is not was for new, was in zip(index.rows, old, strict=True))
    assert layout_in_a_fresh_interpreter("inserts") > 0.9  # before (no compaction): ~0.05
    for key in keys[::3]:  # removals and re-inserts after compaction find their rows
        del coll[key]
    consistent(index, coll)
    for key in keys[::3]:
        coll[key] = {"id": key}
    consistent(index, coll)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.booleans()), min_size=1, max_size=400))
def test_compaction_changes_no_listing(writes: list[tuple[int, bool]]) -> None:
    """Writes with a compaction forced after each one list exactly as without any."""
    plain = IndexedDict({"id": text_of("id")})
    packed = IndexedDict({"id": text_of("id")})
    for value, delete in writes:
        key = f"k{value:04d}"
        for coll in (plain, packed):
            if delete:
                coll.pop(key, None)
            else:
                coll[key] = {"id": str(value * 7 % 301)}
        packed.indexes["id"].compact()
    assert [r[:3] for r in packed.ordered("id")] == [r[:3] for r in plain.ordered("id")]
    consistent(packed.indexes["id"], packed)


def test_vouchers_share_their_campaign_and_category_texts() -> None:
    state = SandboxState(clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))

    def payload() -> dict[str, Any]:
        # Each payload's own str objects, as two JSON bodies parsed apart would give.
        return {
            "type": "".join(["DISCOUNT_", "VOUCHER"]),
            "discount": {"type": "AMOUNT", "amount_off": 100},
            "campaign": "".join(["Spring ", "sale"]),
            "campaign_id": "".join(["camp_", "1"]),
            "category": "".join(["cat", "1"]),
        }

    a, b = build_voucher(state, "A-1", payload()), build_voucher(state, "B-2", payload())
    for field in ("type", "campaign", "campaign_id", "category", "category_id"):
        assert a[field] == b[field]
        assert a[field] is b[field], field
    assert a["code"] is not b["code"]


def test_shared_texts_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(compact, "_TEXTS", {})
    monkeypatch.setattr(compact, "_TEXTS_MAX", 3)
    made = [compact.Voucher({"campaign": "".join(["camp", str(n)])}) for n in range(6)]
    assert len(compact._TEXTS) == 3
    again = compact.Voucher({"campaign": "".join(["camp", "5"])})  # past the cap: as given
    assert again["campaign"] == made[5]["campaign"]
    long = "x" * 500
    assert compact.Voucher({"campaign": long})["campaign"] == long
    assert long not in compact._TEXTS
