"""Sandbox test fixtures. Every response of every Sandbox is checked against the spec by the
suite-wide hook in tests/conftest.py (tests/sandbox/spec.py)."""

from __future__ import annotations

import pytest
import requests

from django_voucherify.sandbox.app import Sandbox


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
