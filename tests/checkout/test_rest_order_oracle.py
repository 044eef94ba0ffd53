"""Validate and offers must not tell who has which order either (hostile review of checkout, 2).

Voucherify prices a cart naming a stored order (``order.source_id``) as that order, its earlier
discounts added. Old code sent the body's ``source_id`` as it was: anyone, anonymous included,
validating a cart under another's order id learnt that the order exists and what it was
discounted (``discount_amount`` 1500 against 500 for an unknown id; an offer of 10 % worth
7.00 against 8.00), the oracle the redeem
endpoint's 404 for another's order closes. The id is now sent only for an order the user may
redeem; for any other the cart is priced as if it named none.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_voucherify import checkout
from django_voucherify.models import Customer, Order
from tests.support.checkout import VALIDATE, client_for
from tests.support.vouchers import make_tier, make_voucher

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

OFFERS = "/api/vouchers/offers/"
CART = 8000


@pytest.fixture
def ann(sandbox: Any, django_user_model: Any) -> Any:
    """Ann's order ORD-ANN, redeemed with TEN (10.00 off); FIVE and a 10 % promotion exist."""
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    customer = Customer.objects.create(source_id="user-ann", email="ann@example.com", user=user)
    order = Order.objects.create(source_id="ORD-ANN", amount=CART, customer=customer)
    make_voucher("FIVE")
    make_voucher("TEN", amount_off=1000)
    make_tier("10% off", action={"discount": {"type": "PERCENT", "percent_off": 10}})
    checkout.redeem(["TEN"], order, customer)
    return user


def _answers(client: Any, source_id: str) -> tuple[Any, Any]:
    cart = {"source_id": source_id, "amount": CART}
    validated = client.post(VALIDATE, {"codes": ["FIVE"], "order": cart}, format="json")
    offered = client.post(OFFERS, {"order": cart}, format="json")
    assert validated.status_code == offered.status_code == 200, (validated.content, offered.content)
    return validated.json(), offered.json()


@pytest.mark.parametrize("who", ["anonymous", "bob"])
def test_another_s_order_is_priced_as_an_unknown_one(ann: Any, django_user_model: Any, who: str) -> None:
    user = None if who == "anonymous" else django_user_model.objects.create_user("bob", "b@example.com", "pw")
    client = client_for(user)
    theirs, unknown = _answers(client, "ORD-ANN"), _answers(client, "ORD-NOBODY")
    assert theirs[0]["discount_amount"] == 500  # FIVE alone: TEN's 10.00 on ORD-ANN not added
    assert [o["discount_amount"] for o in theirs[1]["offers"]] == [800]  # 10 % of 80.00, not of 70.00
    assert theirs == unknown


def test_the_owner_s_own_order_is_still_priced_as_stored(ann: Any) -> None:
    validated, offered = _answers(client_for(ann), "ORD-ANN")
    assert validated["discount_amount"] == 1500  # TEN's 10.00 earlier, FIVE's 5.00 now
    assert [o["discount_amount"] for o in offered["offers"]] == [700]  # 10 % of the 70.00 left


def test_another_s_order_costs_the_queries_of_an_unknown_one(ann: Any, django_user_model: Any) -> None:
    client = client_for(django_user_model.objects.create_user("bob", "b@example.com", "pw"))
    counts = []
    for source_id in ("ORD-ANN", "ORD-NOBODY"):
        with CaptureQueriesContext(connection) as queries:
            client.post(
                VALIDATE,
                {"codes": ["FIVE"], "order": {"source_id": source_id, "amount": CART}},
                format="json",
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]
