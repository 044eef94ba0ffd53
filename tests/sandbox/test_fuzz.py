"""A spec-based fuzzer: every operation the sandbox routes, over real HTTP, with generated input.

Bodies and queries are drawn from the operation's request schemas (tests/support/fuzz.py), half
of them then broken at one node. Whatever is sent, the sandbox must answer (no hang: every call
has a timeout), never with a 5xx, and always with a body that conforms to the response schema
(tests/support/spec.py); and the request validation must agree with itself: a body the
validator refuses gets 400 ``invalid_payload`` (so it was neither stored nor echoed), one it
accepts never gets the validator's refusal... from the handler either, only business errors.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation (default 8), one server for the
module. Run it longer locally, e.g. ``FUZZ_EXAMPLES=500 pytest -p no:randomly
tests/sandbox/test_fuzz.py -n 2``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import request_schema
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.errors import SandboxError
from django_voucherify.sandbox.handlers import load_all
from django_voucherify.sandbox.routing import ROUTES, Route
from django_voucherify.sandbox.server import start_in_thread
from tests.support import fuzz, spec
from tests.support.sandbox import Api

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
TIMEOUT = 30  # seconds: far above any answer; reaching it is a hang
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # shrinking replays against a changed state anyway; keep CI independent
)
load_all()  # registers the routes
ROUTED = sorted({r.operation_id: r for r in ROUTES}.values(), key=lambda r: r.operation_id)
# Known ids for path parameters, so generated requests also reach existing objects.
KNOWN = {"code": ["FUZZ1", "GIFT1"], "customerId": ["cust-fuzz"], "orderId": ["order-fuzz"]}


class Target:
    def __init__(self, sandbox: Sandbox, url: str) -> None:
        self.sandbox = sandbox
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token})


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    sandbox = Sandbox()
    api = Api(sandbox)
    api.voucher("FUZZ1")
    api.gift("GIFT1", 10_000)
    api.post("/v1/customers", json={"source_id": "cust-fuzz", "name": "Fuzz"})
    api.post("/v1/orders", json={"source_id": "order-fuzz", "amount": 1000})
    server = start_in_thread(sandbox)
    try:
        yield Target(sandbox, server.url)
    finally:
        server.stop()


def _path_values(route: Route) -> st.SearchStrategy[str]:
    parts = []
    for segment in route.segments:
        if segment.startswith("{"):
            name = segment[1:-1]
            known = KNOWN.get(name, [])
            # "." and ".." are dot segments every HTTP client resolves (another resource): the
            # app's client refuses them (api.encoding.encode_path), so the fuzzer does too.
            choice = st.text(min_size=1, max_size=8).filter(lambda v: v not in (".", ".."))
            if known:
                choice = st.sampled_from(known) | choice
            parts.append(choice.map(lambda v: quote(v, safe="")))
        else:
            parts.append(st.just(segment))
    return st.tuples(*parts).map(lambda segs: "/" + "/".join(segs))


def _body_schema(operation_id: str) -> Any:
    validator = request_schema._body_validator(operation_id)
    return None if validator is None else validator.schema


def _validator_refuses(operation_id: str, body: Any) -> str | None:
    try:
        request_schema.check_request(operation_id, {}, body)
    except SandboxError as err:
        return err.details
    return None


@pytest.mark.parametrize("route", ROUTED, ids=[r.operation_id for r in ROUTED])
def test_fuzz_operation(target: Target, route: Route) -> None:
    schema = _body_schema(route.operation_id)
    bodies = None if schema is None else fuzz.schema_values(schema)
    paths = _path_values(route)
    queries = fuzz.query_values(route.operation_id)

    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path = data.draw(paths, label="path")
        query = data.draw(queries, label="query")
        body: Any = None
        if bodies is not None:
            body = data.draw(bodies, label="valid body")
            assert _validator_refuses(route.operation_id, body) is None, "the generator drew an invalid body"
            if data.draw(st.booleans(), label="mutate"):
                body = data.draw(fuzz.mutated(copy.deepcopy(body)), label="mutated body")
        _exchange(target, route, path, query, body)

    run()


def _exchange(target: Target, route: Route, path: str, query: dict[str, Any], body: Any) -> None:
    kwargs: dict[str, Any] = {"params": fuzz.encode_query(query), "timeout": TIMEOUT}
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["headers"] = {"Content-Type": "application/json"}
    response = target.session.request(route.method, target.url + path, **kwargs)
    where = f"{route.method} {path} query={query} body={json.dumps(body)[:500]}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text[:500]}"
    content_type = response.headers.get("Content-Type", "")
    parsed: Any = response.content
    if content_type.startswith("application/json") and response.content:
        parsed = response.json()
    operation = _operation_of(route, response)
    problems = spec.validate(operation, response.status_code, parsed, content_type)
    assert not problems, f"{where} -> {response.status_code}: {problems}"
    if body is not None:
        refused = _validator_refuses(route.operation_id, body)
        if refused is not None and response.status_code not in (401, 404, 405):
            # Refused before the handler: nothing stored, nothing echoed.
            assert response.status_code == 400, f"{where}: {refused} -> {response.status_code}"
            assert parsed["key"] in ("invalid_payload", "invalid_query_params"), f"{where}: {parsed}"


def _operation_of(route: Route, response: requests.Response) -> str:
    """``GET /v1/exports/{id}`` serves two operations: with ``token`` it is the CSV download."""
    if route.operation_id == "get-export" and response.headers.get("Content-Type", "").startswith("text/"):
        return "download-export"
    return route.operation_id
