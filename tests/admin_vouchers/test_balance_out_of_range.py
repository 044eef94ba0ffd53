"""A balance Voucherify accepts but the mirror's column cannot hold: the change is done, the
admin says so, and the mirror is flagged instead of a 500 page.

``gift_balance`` and ``loyalty_balance`` are 32-bit integers. Adding 2,147,483,648 to a card
went through in Voucherify, then writing the new balance on the mirror raised ``DataError``
("integer out of range"): a 500 page for a change that had been made."""

from __future__ import annotations

import pytest

from django_voucherify.models import Voucher
from tests.support.admin import messages_after
from tests.support.balance import balance_posts, balance_url, rendered_source_id

pytestmark = pytest.mark.django_db

TOO_BIG = 2**31  # the columns hold up to 2**31 - 1


@pytest.mark.parametrize("kind", ["gift", "loyalty"])
def test_a_balance_the_mirror_cannot_hold_is_done_and_flagged(admin_client, sandbox, mirrored, kind):
    [card] = mirrored(f"BIG-{kind}", kind=kind)
    before = card.balance
    form = {"source_id": rendered_source_id(admin_client, card), "operation": "add", "amount": str(TOO_BIG)}
    response = admin_client.post(balance_url(card), {**form, "reason": "top-up"})

    assert response.status_code == 302 and balance_posts(sandbox, card.code) == 1
    remote = sandbox.state.vouchers[card.code]["gift" if kind == "gift" else "loyalty_card"]
    assert remote["balance"] == before + TOO_BIG  # done in Voucherify
    card = Voucher.objects.get(pk=card.pk)
    assert card.balance == before and card.last_error_key == "unstorable"  # kept, and says why
    assert any(str(before + TOO_BIG) in m for m in messages_after(admin_client, response))
