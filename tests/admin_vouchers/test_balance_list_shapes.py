"""The balance form's "was this change applied already?" look-up concludes "no" only from a
real list: a 2xx page of the card's transactions without its ``data`` list (a gateway's or a
proxy's ``{}``, ``null``) is no answer.

Old code walked such a page as an empty one: the resend of a form whose first send had an
unknown outcome (the answer lost, the in-flight claim expired after ``IN_FLIGHT_SECONDS``) found
no transaction with the form's ``source_id`` and credited the card a second time.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from django_voucherify.vouchers import editing
from tests.support import adversary
from tests.support.admin import messages_after
from tests.support.balance import balance_url, rendered_source_id

pytestmark = pytest.mark.django_db

NOT_A_LIST: list[Any] = [{}, {"object": "list", "has_more": False}, {"object": "list", "data": None}]


@pytest.mark.parametrize("body", NOT_A_LIST, ids=["empty", "no-list", "null"])
def test_a_transaction_page_without_its_list_does_not_credit_twice(admin_client, sandbox, mirrored, body):
    (card,) = mirrored("GB-LIST", kind="gift")
    source_id = rendered_source_id(admin_client, card)
    sandbox.faults.add(path="/v1/vouchers/GB-LIST/balance", method="POST", drop=True, after=True, times=1)
    data = {"source_id": source_id, "operation": "add", "amount": "250", "reason": "refund"}

    first = admin_client.post(balance_url(card), data)
    assert first.status_code == 200  # outcome unknown; it did go through
    assert sandbox.state.vouchers["GB-LIST"]["gift"]["balance"] == 10250

    cache.delete(editing._in_flight_key(source_id))  # IN_FLIGHT_SECONDS later: the claim expired
    gateway = adversary.answer_gets(sandbox, "/v1/vouchers/GB-LIST/transactions", body)
    resend = admin_client.post(balance_url(card), data)
    assert gateway.hits == 1
    assert sandbox.state.vouchers["GB-LIST"]["gift"]["balance"] == 10250, "credited twice"
    assert resend.status_code == 200  # the form again, with the error: nothing sent
    assert "Sending this form again is safe" in str(resend.context["form"].non_field_errors())

    gateway.body = None  # Voucherify's own list gets through: found, not sent
    again = admin_client.post(balance_url(card), data)
    assert again.status_code == 302 and "already applied" in messages_after(admin_client, again)[0]
    assert sandbox.state.vouchers["GB-LIST"]["gift"]["balance"] == 10250
