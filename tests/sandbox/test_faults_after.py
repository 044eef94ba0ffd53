"""``faults.add(..., after=True)``: the request is handled, then the answer is lost or replaced."""

from __future__ import annotations

import pytest
import requests

from django_voucherify.sandbox.app import Sandbox

HEADERS = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-secret-key"}


@pytest.fixture
def session_and_sandbox():
    sandbox = Sandbox()
    session = requests.Session()
    sandbox.mount(session)
    return session, sandbox


def _create(session, code):
    return session.post(
        f"https://api.voucherify.io/v1/vouchers/{code}",
        headers=HEADERS,
        timeout=5,
        json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
    )


def test_drop_after_handling_applies_the_request(session_and_sandbox):
    session, sandbox = session_and_sandbox
    rule = sandbox.faults.add(path="/v1/vouchers/*", method="POST", drop=True, after=True, times=1)
    with pytest.raises(requests.ConnectionError):
        _create(session, "KEPT")
    assert rule.hits == 1 and "KEPT" in sandbox.state.vouchers


def test_timeout_after_handling_applies_the_request(session_and_sandbox):
    session, sandbox = session_and_sandbox
    sandbox.faults.add(path="/v1/vouchers/*", method="POST", latency=0.2, after=True, times=1)
    with pytest.raises(requests.ReadTimeout):
        session.post(
            "https://api.voucherify.io/v1/vouchers/SLOW",
            headers=HEADERS,
            timeout=(1, 0.05),
            json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}},
        )
    assert "SLOW" in sandbox.state.vouchers


def test_status_after_handling_answers_the_error_but_applies(session_and_sandbox):
    session, sandbox = session_and_sandbox
    sandbox.faults.add(path="/v1/vouchers/*", method="POST", status=500, after=True, times=1)
    response = _create(session, "DONE")
    assert response.status_code == 500 and response.json()["code"] == 500
    assert "DONE" in sandbox.state.vouchers


def test_default_faults_still_strike_before_handling(session_and_sandbox):
    session, sandbox = session_and_sandbox
    sandbox.faults.add(path="/v1/vouchers/*", method="POST", drop=True, times=1)
    with pytest.raises(requests.ConnectionError):
        _create(session, "LOST")
    assert "LOST" not in sandbox.state.vouchers
