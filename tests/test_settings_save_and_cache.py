"""Settings on the save path and the settings cache (found in the review of the settings redesign).

- A customer or order save reads only the sync options it needs (``conf.option``): an unrelated
  invalid option, or a rule over several options a shop silenced, never fails the shop's save.
- A snapshot read while ``VOUCHERIFY`` changed is never cached after the change.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as dj
from django.test import override_settings

from django_voucherify import conf
from django_voucherify.models import Customer, OutboxEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_bad_checkout_option_never_fails_a_customer_save():
    values = {
        **dj.VOUCHERIFY,
        "SYNC_ENABLED": False,
        "CHECKOUT_LATE_CHECK_AFTER": 1.0,
        "CHECKOUT_RECONCILE_GRACE": 60.0,
    }
    with override_settings(VOUCHERIFY=values):
        Customer.objects.create(source_id="c-1")  # sync is off: nothing to validate for a save
    assert not OutboxEntry.objects.exists()


def test_a_silenced_rule_never_fails_a_save():
    values = {
        **dj.VOUCHERIFY,
        "READ_TIMEOUT": 30.0,
        "RETRY_BUDGET": 60.0,
        "MAX_RETRIES": 3,
        "SYNC_LEASE_SECONDS": 120.0,
    }
    with override_settings(VOUCHERIFY=values, SILENCED_SYSTEM_CHECKS=["voucherify.E012"]):
        customer = Customer.objects.create(source_id="c-2")
    # the change is recorded (the sender checks its own lease before each call)
    assert OutboxEntry.objects.filter(object_pk=str(customer.pk)).exists()


def test_a_snapshot_read_during_a_change_is_not_cached(monkeypatch):
    """A reader that read the old dict, then saw setting_changed clear the cache, stores its
    old snapshot: stale until the next change."""
    real = conf.raw_settings
    old = {**dj.VOUCHERIFY, "SYNC_MAX_ATTEMPTS": 3}
    new = {**dj.VOUCHERIFY, "SYNC_MAX_ATTEMPTS": 7}
    with override_settings(VOUCHERIFY=old):
        conf._cache = None
        state: dict[str, Any] = {"done": False}

        def racing() -> dict[str, object]:
            values = real()
            if not state["done"]:
                state["done"] = True
                ctx = override_settings(VOUCHERIFY=new)
                ctx.enable()  # another thread's change lands mid-read
                state["ctx"] = ctx
            return values

        monkeypatch.setattr(conf, "raw_settings", racing)
        conf.settings()
        monkeypatch.setattr(conf, "raw_settings", real)
        try:
            assert conf.settings().sync_max_attempts == 7
        finally:
            state["ctx"].disable()
