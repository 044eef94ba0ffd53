"""``checkout.publish`` when ``create-publication`` answers a code or publication id the ledger
cannot hold (a NUL, which PostgreSQL refuses in text and the sandbox lets a campaign's code
hold; longer than the column): review 3 of the offers layer found the recording UPDATE raised
outside the send's error handling, a 500 at the REST door with the row still leased, and the
same 500 on every later call (the look-up finds the same publication). Such an answer is an
unknown outcome like any unusable one: the lease is given back and the reason kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from django_voucherify import checkout
from django_voucherify.api.resources.distributions import Publications
from django_voucherify.models import CustomerPublication, PublicationState
from tests.support.checkout import published_codes, static_campaign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "change",
    [
        {"code": "AB\x00C"},
        {"code": "C" * 301},
        {"id": "pub_" + "x" * 200},
    ],
)
def test_an_answer_the_ledger_cannot_hold_is_an_unknown_outcome_not_a_500(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, change: dict[str, str]
) -> None:
    assert connection.vendor == "postgresql"
    name = static_campaign(sandbox)
    real_create = Publications.create

    def unstorable(self: Any, publication: Any, **kwargs: Any) -> Any:
        answer = dict(real_create(self, publication, **kwargs))
        if "code" in change:
            answer["voucher"] = {**answer["voucher"], "code": change["code"]}
        else:
            answer["id"] = change["id"]
        return answer

    monkeypatch.setattr(Publications, "create", unstorable)
    with pytest.raises(checkout.CheckoutUnavailable) as caught:
        checkout.publish(name, "ann")
    assert caught.value.outcome_unknown
    row = CustomerPublication.objects.get()
    assert row.state == PublicationState.PENDING and row.lease_until is None and row.last_error
    # Voucherify published a code meanwhile: the next call finds it and records it.
    monkeypatch.setattr(Publications, "create", real_create)
    given = checkout.publish(name, "ann")
    assert given.new and published_codes(name, "ann") == [given.code]
