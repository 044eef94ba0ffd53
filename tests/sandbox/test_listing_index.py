"""Indexed listing: pages read out of sorted indexes kept on write give exactly what sorting
the whole store gave (a reference sort is the oracle), ties in creation order, and a walk of a
burst of same-millisecond vouchers past page 99 through the client's paging module is exact.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.api.paging import iter_pages
from django_voucherify.sandbox.handlers.vouchers import build_voucher, list_vouchers
from django_voucherify.sandbox.routing import SandboxRequest
from django_voucherify.sandbox.state import SandboxState, iso

BASE = datetime(2024, 1, 1, tzinfo=UTC)


class StepClock:
    """A clock the test moves by hand (several writes may share one millisecond)."""

    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now

    def tick(self, ms: int) -> None:
        self.now += timedelta(milliseconds=ms)


def add_voucher(state: SandboxState, code: str, **payload: Any) -> dict[str, Any]:
    voucher = build_voucher(state, code, {"type": "GIFT_VOUCHER", "gift": {"amount": 100}, **payload})
    state.put_voucher(voucher)
    return voucher


def listing(state: SandboxState, **query: Any) -> dict[str, Any]:
    req = SandboxRequest("GET", "/v1/vouchers", query, {}, b"", "req_test")
    body: dict[str, Any] = list_vouchers(req, state).body
    return body


def reference(state: SandboxState, order: str, created_after: str | None) -> list[str]:
    """The old algorithm: filter, then a stable sort of the creation-ordered store (ties keep
    creation order; descending is the exact reverse of ascending)."""
    field = order.lstrip("-")
    items = [v for v in state.vouchers.values() if created_after is None or v["created_at"] > created_after]
    items.sort(key=lambda v: (v.get(field) is not None, str(v.get(field) or "")))
    if order.startswith("-"):
        items.reverse()
    return [v["code"] for v in items]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 2)),  # then tick 0..2 ms
        st.tuples(st.just("update"), st.integers(0, 40)),  # the n-th stored voucher, if any
        st.tuples(st.just("delete"), st.integers(0, 40)),
        # a listing between writes: rows waiting to be merged into an index are merged, then
        # more writes come (see store.OrderIndex)
        st.tuples(st.just("read"), st.integers(1, 7)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    order=st.sampled_from(["created_at", "-created_at", "updated_at", "-updated_at", "code", "-code"]),
    limit=st.integers(1, 7),
    window=st.booleans(),
)
def test_pages_match_a_full_sort_after_any_writes(ops, order, limit, window):
    clock = StepClock()
    state = SandboxState(clock=clock)
    made = 0
    for op, arg in ops:
        codes = list(state.vouchers)
        if op == "create":
            add_voucher(state, f"C{(made * 7919) % 1000:03d}-{made}")  # codes not in creation order
            made += 1
            clock.tick(arg)
        elif op == "update" and codes:
            code = codes[arg % len(codes)]
            state.vouchers[code]["metadata"] = {"n": arg}
            state.vouchers[code]["updated_at"] = iso(clock())
            state.vouchers.touch(code)
            clock.tick(1)
        elif op == "delete" and codes:
            state.remove_voucher(codes[arg % len(codes)])
        elif op == "read":
            assert [v["code"] for v in listing(state, order=order, limit=str(arg))["vouchers"]] == (
                reference(state, order, None)[:arg]
            )
    after = iso(BASE + timedelta(milliseconds=3)) if window else None
    expected = reference(state, order, after)
    query: dict[str, Any] = {"order": order, "limit": str(limit)}
    if after:
        query["created_at"] = {"after": after}
    got: list[str] = []
    for page in range(1, len(expected) // limit + 2):
        body = listing(state, **query, page=str(page))
        assert body["total"] == len(expected)
        got.extend(v["code"] for v in body["vouchers"])
    assert got == expected


def test_ties_list_in_creation_order_and_newest_first_reverses_them():
    """Voucherify's ordering on created_at alone leaves ties open; the sandbox breaks them by
    creation (as a serial id would), and ``-created_at`` is the exact reverse."""
    state = SandboxState(clock=StepClock())
    for code in ("B", "A", "C"):
        add_voucher(state, code)
    assert [v["code"] for v in listing(state, order="created_at")["vouchers"]] == ["B", "A", "C"]
    assert [v["code"] for v in listing(state, order="-created_at")["vouchers"]] == ["C", "A", "B"]
    assert [v["code"] for v in listing(state, order="code")["vouchers"]] == ["A", "B", "C"]


def test_reload_keeps_the_order():
    clock = StepClock()
    state = SandboxState(clock=clock)
    for n in range(30):
        add_voucher(state, f"V{29 - n:02d}")
        clock.tick(n % 2)
    before = [v["code"] for v in listing(state, order="-created_at", limit="100")["vouchers"]]
    reloaded = SandboxState.from_json(state.to_json(), clock=clock)
    assert [v["code"] for v in listing(reloaded, order="-created_at", limit="100")["vouchers"]] == before


def test_client_walk_of_a_same_millisecond_burst_past_page_99_is_exact():
    """20,000 vouchers, 250 created in one millisecond across the end of page 99: the client's
    created_at slide against the sandbox's listing yields each exactly once, oldest first."""
    clock = StepClock()
    state = SandboxState(clock=clock)
    for n in range(20_000):
        add_voucher(state, f"V{n:05d}")
        if not 9_800 <= n < 10_050:
            clock.tick(1)

    def fetch(**params: Any) -> dict[str, Any]:
        query = {k: (v if isinstance(v, dict) else str(v)) for k, v in params.items()}
        return listing(state, **query)

    got = [v["code"] for v in iter_pages(fetch, "vouchers", params={}, date_filter="created_at")]
    assert [code for code, n in Counter(got).items() if n > 1] == []
    assert got == [f"V{n:05d}" for n in range(20_000)]


def test_rows_that_do_not_sort_last_wait_and_are_merged_when_read():
    """Inserting each by bisection shifted half the list: ~30 us per redeem at 100k redemptions
    (the ``id`` ordering of redemptions, whose ids are random)."""
    from django_voucherify.sandbox.store import OrderIndex, text_of

    index = OrderIndex(text_of("id"))
    ids = [f"r_{(n * 7919) % 1000:03d}" for n in range(200)]
    for seq, key in enumerate(ids):
        index.put(key, {"id": key}, seq)
    assert len(index._rows) < 20  # only the ids that sorted last went in; the rest wait
    assert [row[2] for row in index.rows] == sorted(ids)
    index.discard(ids[5])
    index.put("r_0000", {"id": "r_0000"}, 500)
    assert [row[2] for row in index.rows] == sorted([*ids[:5], *ids[6:], "r_0000"])
