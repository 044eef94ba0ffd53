"""The balance form when the cache that guards against a double send (``CACHES["default"]``) is
down: the change is not sent and the form says why. Before, ``cache.add`` raised through the
view: a 500 page, and staff could not tell whether the card was credited."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.vouchers import editing
from tests.support.balance import balance_posts, balance_url, rendered_source_id

pytestmark = pytest.mark.django_db


def test_a_cache_outage_sends_nothing_and_says_so(admin_client, sandbox, mirrored, monkeypatch):
    (card,) = mirrored("CACHE-1", kind="gift")
    balance = sandbox.state.vouchers["CACHE-1"]["gift"]["balance"]
    data = {
        "source_id": rendered_source_id(admin_client, card),
        "operation": "add",
        "amount": "250",
        "reason": "refund",
    }

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server down")

    monkeypatch.setattr(editing.cache, "add", down)
    response = admin_client.post(balance_url(card), data)
    assert response.status_code == 200  # the form again, not a 500
    assert "nothing was sent" in str(response.context["form"].non_field_errors())
    assert balance_posts(sandbox, "CACHE-1") == 0
    assert sandbox.state.vouchers["CACHE-1"]["gift"]["balance"] == balance

    monkeypatch.undo()  # the cache is back: the same form goes through once
    response = admin_client.post(balance_url(card), data)
    assert response.status_code == 302
    assert balance_posts(sandbox, "CACHE-1") == 1
    assert sandbox.state.vouchers["CACHE-1"]["gift"]["balance"] == balance + 250
