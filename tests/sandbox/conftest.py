"""Sandbox test fixtures. Every response of every Sandbox is checked against the spec by the
suite-wide hook in tests/conftest.py (tests/support/spec.py)."""

from __future__ import annotations

import pytest

from django_voucherify.sandbox.app import Sandbox
from tests.support.sandbox import Api


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)
