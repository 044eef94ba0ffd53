"""Enable/disable/delete of selected vouchers in the admin when Voucherify hangs or fails: the
inline run uses the interactive timeout (``CHECKOUT_TIMEOUT``) and stops at the first voucher
Voucherify did not answer for (timeout, connection error, 5xx), naming the ones not tried.
Before, the inline run (up to ``VOUCHER_ACTION_INLINE_LIMIT`` vouchers) used the shared client
(20 s read timeout, retries) and went on: a hung Voucherify held the request 20 s per voucher,
as review 20 found for campaigns and tiers."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from django_voucherify import conf
from django_voucherify.api.errors import RequestTimeout
from django_voucherify.api.resources.vouchers import Vouchers
from django_voucherify.models import Voucher
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")


def act(http: Any, action: str, vouchers: list[Voucher]) -> Any:
    return post_action(http, CHANGELIST, action, vouchers, post="yes", follow=True)


def shown(resp: Any) -> list[str]:
    return [str(m) for m in resp.context["messages"]]


def test_a_hung_voucherify_stops_the_run_at_the_first_timeout(admin_client, sandbox, mirrored, monkeypatch):
    vouchers = mirrored("H-1", "H-2", "H-3")
    timeouts: list[Any] = []

    def hang(self: Vouchers, code: str) -> Any:
        timeouts.append(self._transport.timeout[1])
        raise RequestTimeout("Voucherify read timeout", method="POST", path=f"/v1/vouchers/{code}/disable")

    monkeypatch.setattr(Vouchers, "disable", hang)
    resp = act(admin_client, "disable_selected", vouchers)
    assert timeouts == [conf.settings().checkout_timeout]  # one call, with the short timeout
    messages = shown(resp)
    assert any(m.startswith("Disable failed for H-1") for m in messages), messages
    assert any("nothing was sent for H-2, H-3" in m for m in messages), messages
    assert all(sandbox.state.vouchers[c]["active"] for c in ("H-1", "H-2", "H-3"))


def test_a_failing_voucherify_gets_one_call_not_one_per_voucher(admin_client, sandbox, mirrored):
    vouchers = mirrored("F-1", "F-2", "F-3")
    sandbox.faults.add(path="/v1/vouchers/*", method="POST", status=503)
    sandbox.calls.calls.clear()
    resp = act(admin_client, "disable_selected", vouchers)
    posts = [path for method, path, *_ in sandbox.calls.calls if method == "POST"]
    tried = {path.split("?")[0].rsplit("/", 2)[-2] for path in posts}
    assert tried == {"F-1"}, tried  # the checkout client's retries, if any, only for the first
    messages = shown(resp)
    assert any("nothing was sent for F-2, F-3" in m for m in messages), messages
    assert Voucher.objects.get(code="F-1").last_error  # the failure shows on its row


def test_a_refusal_is_not_an_outage_the_run_goes_on(admin_client, sandbox, mirrored):
    """A 404 (gone meanwhile) answers for one voucher only: the others are still done."""
    vouchers = mirrored("R-1", "R-2", "R-3")
    del sandbox.state.vouchers["R-2"]
    resp = act(admin_client, "disable_selected", vouchers)
    messages = shown(resp)
    assert "Disable: done for R-1, R-3." in messages, messages
    assert not any("nothing was sent" in m for m in messages), messages


def test_a_timeout_after_voucherify_applied_it_does_not_say_it_failed(
    admin_client, sandbox, mirrored, voucherify_settings
):
    """Voucherify disables the voucher, then its answer does not come within the interactive
    timeout: the message must not say plainly that the disable failed (it happened)."""
    vouchers = mirrored("L-1", "L-2")
    sandbox.faults.add(path="/v1/vouchers/L-1/disable", method="POST", latency=1.0, after=True, times=1)
    with voucherify_settings(CHECKOUT_TIMEOUT=0.2, READ_TIMEOUT=20):
        resp = act(admin_client, "disable_selected", vouchers)
    assert sandbox.state.vouchers["L-1"]["active"] is False  # it did happen at Voucherify
    (about_l1,) = [m for m in shown(resp) if "L-1" in m]
    assert "may have been applied" in about_l1, about_l1
    assert any("nothing was sent for L-2" in m for m in shown(resp))
