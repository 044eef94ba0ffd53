"""The ``client`` and ``mocked`` fixtures the API tests share: a real client on the public
API URL that must never sleep or retry, and a ``responses`` mock that tolerates unused routes.
Modules that need another shape (test_endpoints.py: settings' credentials, every route fired)
define their own, which pytest prefers over these."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from django_voucherify.api import RetryPolicy, VoucherifyClient
from tests.api.wire import API, NoSleep


@pytest.fixture
def client() -> Iterator[VoucherifyClient]:
    with VoucherifyClient(
        "test-app-id", "test-secret-key", API, sleep=NoSleep(), retry=RetryPolicy(max_retries=0, budget=0.0)
    ) as built:
        yield built


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
