"""Sandbox test fixtures. Every response of every Sandbox created during the tests is checked
against the spec (tests/sandbox/spec.py); a test fails if one did not conform."""

from __future__ import annotations

import json

import pytest
import requests

from django_voucherify.sandbox.app import Exchange, Sandbox
from tests.sandbox import spec

_problems: list[str] = []
SEEN_OPERATIONS: set[str] = set()


def _check(ex: Exchange) -> None:
    resp = ex.response
    if ex.request.operation_id:
        SEEN_OPERATIONS.add(ex.request.operation_id)
    if resp.operation_id:
        SEEN_OPERATIONS.add(resp.operation_id)
    body = resp.body
    if resp.content_type.startswith("application/json") and isinstance(body, bytes | str):
        body = json.loads(body)
    op = ex.operation_id
    if not op and resp.status < 400:
        return
    _problems.extend(spec.validate(op, resp.status, body, resp.content_type))


def _hook(sandbox: Sandbox) -> None:
    sandbox.response_listeners.append(_check)


Sandbox.instance_hooks.append(_hook)


@pytest.fixture(autouse=True)
def _responses_conform_to_spec():
    _problems.clear()
    yield
    problems = list(_problems)
    _problems.clear()
    assert not problems, "sandbox responses do not conform to openapi.json:\n" + "\n".join(problems[:20])


class Api:
    """A tiny authenticated client over a requests.Session mounted on a sandbox."""

    base = "https://api.voucherify.io"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        sandbox.mount(self.session)
        self.session.headers.update({"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token})

    def __getattr__(self, method: str):
        def call(path: str, **kw):
            return self.session.request(method.upper(), self.base + path, **kw)

        return call


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)
