"""Shortcuts on the request path (issue 13) keep the answers of the slow paths they skip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.sandbox import routing
from django_voucherify.sandbox.errors import SandboxError
from django_voucherify.sandbox.handlers import load_all
from django_voucherify.sandbox.limits import MAX_DEPTH, deeper_than
from django_voucherify.sandbox.routing import ROUTES, SandboxRequest, ok, resolve, route
from django_voucherify.sandbox.state import iso


def _request(body: bytes) -> SandboxRequest:
    return SandboxRequest("POST", "/v1/x", {}, {}, body, "v-1")


JSON_VALUES = st.recursive(
    # integers within the accepted range (others are refused for their size, not their depth)
    st.none() | st.integers(-(2**63) + 1, 2**63 - 1) | st.text(alphabet='[]{}ab"\\', max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=60,
)


@given(JSON_VALUES, st.integers(min_value=0, max_value=MAX_DEPTH + 3))
def test_the_depth_check_refuses_exactly_what_the_walk_finds_too_deep(value, wrap):
    for _ in range(wrap):
        value = [value]
    body = json.dumps(value).encode()
    if deeper_than(value, MAX_DEPTH):
        with pytest.raises(SandboxError) as refused:
            _request(body).json()
        assert refused.value.details == f"JSON body is nested deeper than {MAX_DEPTH} levels"
    else:
        assert _request(body).json() == value


def test_many_brackets_side_by_side_are_not_depth():
    body = json.dumps({"items": [[] for _ in range(500)], "note": "[[[[{{{{" * 20}).encode()
    assert len(_request(body).json()["items"]) == 500


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_iso_is_strftimes_format(moment):
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert iso(moment) == expected
    assert iso(moment.astimezone(timezone(timedelta(hours=5)))) == expected


@pytest.fixture
def scratch_route():
    load_all()  # registered first: a Sandbox made in the test would register them after the copy
    before = list(ROUTES)
    yield
    ROUTES[:] = before
    routing._match.cache_clear()


def test_a_route_registered_after_a_lookup_is_found(scratch_route):
    with pytest.raises(SandboxError) as missing:
        resolve("GET", "/v1/scratch-area/a1")
    assert missing.value.status == 404

    @route("GET", "/v1/scratch-area/{thing}", operation_id="scratch")
    def scratch(req, state):
        return ok({})

    found, params = resolve("GET", "/v1/scratch-area/a1")
    assert found.handler is scratch and params == {"thing": "a1"}
    with pytest.raises(SandboxError) as wrong_method:
        resolve("DELETE", "/v1/scratch-area/a1")
    assert wrong_method.value.status == 405 and wrong_method.value.headers["Allow"] == "GET"


def test_cached_lookups_hand_out_their_own_params():
    load_all()
    _, first = resolve("GET", "/v1/vouchers/A%2FB")
    first["code"] = "changed by a handler"
    _, second = resolve("GET", "/v1/vouchers/A%2FB")
    assert second == {"code": "A/B"}


def test_a_body_is_parsed_once_for_the_check_and_the_handler(monkeypatch):
    """The request check and the handler read one parse of the body; a new body is parsed anew."""
    from tests.support.sandbox import Api

    api = Api()
    assert (
        api.post(
            "/v1/vouchers/ONCE",
            json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
        ).status_code
        == 200
    )
    sent = json.dumps(
        {"redeemables": [{"object": "voucher", "id": "ONCE"}], "order": {"amount": 500}}
    ).encode()
    parsed = []
    real = routing.limits.loads  # what the request parses bodies with
    monkeypatch.setattr(routing.limits, "loads", lambda s: parsed.append(s == sent) or real(s))
    assert (
        api.session.post(
            f"{api.base}/v1/redemptions", data=sent, headers={"Content-Type": "application/json"}
        ).status_code
        == 200
    )
    assert parsed.count(True) == 1
    req = _request(b'{"a": 1}')
    assert req.json() is req.json()
    req.body = b'{"a": 2}'
    assert req.json() == {"a": 2}


def test_a_redeem_does_not_count_a_vouchers_fields_to_test_its_truth(monkeypatch):
    """``voucher or {}`` went through ``Voucher.__len__``: a walk over its 29 fields per redeem."""
    from django_voucherify.sandbox.compact import Voucher
    from tests.support.sandbox import Api

    api = Api()
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    assert api.post("/v1/vouchers/TRUTH", json=voucher).status_code == 200
    counted = []
    real = Voucher.__len__
    monkeypatch.setattr(Voucher, "__len__", lambda self: counted.append(1) or real(self))
    redeem = {"redeemables": [{"object": "voucher", "id": "TRUTH"}], "order": {"amount": 500}}
    assert api.post("/v1/redemptions", json=redeem).status_code == 200
    assert counted == []


ANSWER_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63) + 1, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


@given(ANSWER_VALUES)
def test_answers_are_encoded_as_json_dumps_encodes_them(value):
    """The answers' encoder (the C encoder made once, no cycle check; or JSONEncoder without
    the C accelerator) gives the bytes ``json.dumps`` gives, a stored voucher included."""
    from django_voucherify.sandbox.compact import Voucher, jsonable

    value = [value, Voucher({"id": "v_1", "code": "A B", "metadata": {"k": value}})]
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=jsonable)
    assert routing.encode_json(value) == expected.encode()
    assert routing._text_encoder(None)(value) == expected


def test_an_answer_with_a_cycle_is_still_an_internal_error(scratch_route):
    """Without the encoder's cycle check, a cycle in an answer (none is known) is stopped by the
    recursion limit: the caller gets a 500 ``internal_error``, as with the check."""
    import io

    from django_voucherify.sandbox import Sandbox

    @route("GET", "/v1/scratch-cycle", operation_id="scratch")
    def cyclic(req, state):
        body: dict[str, object] = {"object": "list"}
        body["data"] = [body]
        return ok(body)

    sandbox = Sandbox(app_id="a", app_token="t")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/v1/scratch-cycle",
        "HTTP_X_APP_ID": "a",
        "HTTP_X_APP_TOKEN": "t",
        "wsgi.input": io.BytesIO(b""),
    }
    answer = sandbox.handle_environ(environ)
    assert answer.status == 500
    assert json.loads(answer.encode())["key"] == "internal_error"


def test_a_write_drops_the_cached_views_once(monkeypatch):
    """A write request drops the state's cached views once, answered or refused (``changed``
    drops them; the app dropped them again before it)."""
    from django_voucherify.sandbox.state import SandboxState
    from tests.support.sandbox import Api

    api = Api()
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    assert api.post("/v1/vouchers/VIEWS", json=voucher).status_code == 200
    dropped = []
    real = SandboxState.drop_views
    monkeypatch.setattr(SandboxState, "drop_views", lambda self: dropped.append(1) or real(self))
    redeem = {"redeemables": [{"object": "voucher", "id": "VIEWS"}], "order": {"amount": 500}}
    assert api.post("/v1/redemptions", json=redeem).status_code == 200
    assert len(dropped) == 1
    missing = {"redeemables": [{"object": "voucher", "id": "NO-SUCH-CODE"}]}
    assert api.post("/v1/redemptions", json=missing).status_code == 404
    assert len(dropped) >= 2  # refused: dropped by the app (and by the handler's own changed())


def test_reading_a_key_a_voucher_does_not_have_raises_nothing(monkeypatch):
    """``voucher.get("applicable_to")`` (every redeem asks) went through ``__getitem__``'s
    KeyError; a key outside the voucher's fields is looked up in its extra keys only."""
    from django_voucherify.sandbox.compact import Voucher
    from tests.support.sandbox import Api

    api = Api()
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    assert api.post("/v1/vouchers/EXTRA", json=voucher).status_code == 200
    item_reads = []
    real = Voucher.__getitem__
    monkeypatch.setattr(Voucher, "__getitem__", lambda self, key: item_reads.append(key) or real(self, key))
    redeem = {"redeemables": [{"object": "voucher", "id": "EXTRA"}], "order": {"amount": 500}}
    assert api.post("/v1/redemptions", json=redeem).status_code == 200
    assert "applicable_to" not in item_reads
    stored = api.sandbox.state.vouchers["EXTRA"]
    assert stored.get("applicable_to") is None and stored.get("applicable_to", "absent") == "absent"
    stored["applicable_to"] = {"data": []}
    assert stored.get("applicable_to") == {"data": []}


def test_setdefault_of_a_stored_field_reads_its_slot_once(monkeypatch):
    """A redeem's ``voucher.setdefault("redemption", {})`` tested membership, then read the
    item through ``__getitem__``; a plain field that is there is read from its slot."""
    from django_voucherify.sandbox.compact import Voucher

    v = Voucher({"id": "v_1", "code": "C", "redemption": {"quantity": None}})
    counters = v["redemption"]
    calls = []
    for name in ("__getitem__", "__contains__"):
        real = getattr(Voucher, name)
        counted = lambda self, key, _r=real, _n=name: calls.append(_n) or _r(self, key)  # noqa: E731
        monkeypatch.setattr(Voucher, name, counted)
    assert v.setdefault("redemption", {}) is counters
    assert calls == []
    del v["redemption"]
    fresh = v.setdefault("redemption", {"quantity": 5})
    assert fresh == {"quantity": 5} and v["redemption"] is fresh


def test_the_engines_per_request_records_have_no_instance_dict():
    """What every validation and redeem makes (the parsed request, its outcomes and order
    working set, the sessions' hold lookup) is slotted: no instance dict to build each time."""
    from django_voucherify.sandbox.engine import ledger, pricing, sessions, stacking

    made = [
        ledger.StackRequest([], None, None, None, None, None, ()),
        stacking.Outcome(0, {}, None),
        stacking.Evaluation([], pricing.OrderCalc(None)),
        pricing.ItemCalc({}, 0, 1),
        pricing.OrderCalc(None),
        sessions.Hold(),
    ]
    assert [type(m).__name__ for m in made if hasattr(m, "__dict__")] == []


def test_with_no_session_holding_anything_a_redeem_looks_up_no_holds(monkeypatch):
    """The sessions' holds on a voucher are looked up only when some session holds something
    (a LOCK session's holds still count: tests/sandbox/test_engine_stacking.py and the
    validation session tests)."""
    from django_voucherify.sandbox.engine.sessions import SessionRegistry
    from tests.support.sandbox import Api

    api = Api()
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    assert api.post("/v1/vouchers/HOLDS", json=voucher).status_code == 200
    looked_up = []
    real = SessionRegistry.held
    monkeypatch.setattr(SessionRegistry, "held", lambda self, *a: looked_up.append(a[0]) or real(self, *a))
    redeem = {"redeemables": [{"object": "voucher", "id": "HOLDS"}], "order": {"amount": 500}}
    assert api.post("/v1/redemptions", json=redeem).status_code == 200
    assert looked_up == []
