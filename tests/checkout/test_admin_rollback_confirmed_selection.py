"""The ledger admin's rollback confirmed on "select all" (review s1). The confirmation page of
a selection larger than it lists was compared by its count only: between the page and the
confirming POST, one redemption of the filter rolled back elsewhere and a new customer's
redemption matching it made the same count, and the confirming POST rolled back the new one,
which no one saw. A ``confirmed_count`` of digits ``int()`` cannot read (``²``, or more digits
than Python converts) was a 500 page."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from django_voucherify import checkout
from django_voucherify.checkout import schedule
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.admin import post_action
from tests.support.vouchers import make_voucher

URL = "/admin/django_voucherify/checkoutredemption/"


def _redeem(n: int) -> CheckoutRedemption:
    make_voucher(f"SWAP-{n}")
    return checkout.redeem([f"SWAP-{n}"], {"source_id": f"ORD-S{n}", "amount": 1000}).ledger


def _form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the confirmation form (name -> value)."""
    import re

    form = html[html.index('<form method="post">') :]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.checkout.urls")
def test_select_all_confirmed_then_another_row_matching_is_not_rolled_back(
    sandbox, admin_client, monkeypatch
):
    from django_voucherify.admin import confirmation

    rows = [_redeem(n) for n in range(3)]
    monkeypatch.setattr(confirmation, "CONFIRM_LIST_LIMIT", 2)  # 3 rows: listed by a sample and a count
    monkeypatch.setattr(schedule, "send", lambda *args, **kwargs: True)  # nothing runs in Celery here

    page = post_action(admin_client, URL, "rollback_selected", rows[:1], select_across="1", index="0")
    assert page.status_code == 200
    fields = _form_fields(page.content.decode())
    assert fields["confirmed_count"] == "3"

    # Meanwhile: one confirmed row is rolled back by someone else, a new customer redeems.
    checkout.rollback(rows[0], "elsewhere")
    newcomer = _redeem(3)
    assert CheckoutRedemption.objects.filter(state=LedgerState.SUCCEEDED).count() == 3

    posted = {k: v for k, v in fields.items() if k not in ("_selected_action", "action")}
    response = post_action(admin_client, URL, fields["action"], rows[1:2], **posted, reason="goodwill")
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.state == LedgerState.SUCCEEDED and not newcomer.rollback_requested_at
    for row in rows[1:]:
        row.refresh_from_db()
        assert row.state == LedgerState.SUCCEEDED and not row.rollback_requested_at  # nothing was done
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("The selection changed since the confirmation page" in m for m in shown), shown


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.checkout.urls")
@pytest.mark.parametrize("count", ["²", "9" * 5000, "\u0661", "3\x00", " 1"])
def test_a_confirmed_count_that_is_no_plain_number_does_nothing(sandbox, admin_client, monkeypatch, count):
    row = _redeem(0)
    calls = sandbox.calls.count("POST")
    response = post_action(
        admin_client, URL, "rollback_selected", [row], post="yes", confirmed_count=count, reason="goodwill"
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.state == LedgerState.SUCCEEDED and not row.rollback_requested_at
    assert sandbox.calls.count("POST") == calls
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("The selection changed since the confirmation page" in m for m in shown), shown
