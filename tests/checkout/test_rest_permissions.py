"""Who may call each endpoint: the ledger's model permissions decide, never ``is_staff``.

The matrix: anonymous, a plain user, staff without permissions, a user (not staff) with the
permission, a superuser, for every endpoint that changes Voucherify or the ledger; the admin
refuses and allows the same users.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from django_voucherify.models import CheckoutRedemption, Customer, LedgerState, Order
from tests.support.checkout import REDEEM, VALIDATE, client_for, rollback_url
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

ROLES = ("anonymous", "plain", "staff", "permitted", "superuser")


def make_user(django_user_model, role: str, permission: str):
    if role == "anonymous":
        return None
    if role == "superuser":
        return django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    user = django_user_model.objects.create_user(role, f"{role}@example.com", "pw", is_staff=role == "staff")
    if role == "permitted":
        user.user_permissions.add(Permission.objects.get(codename=permission))
    return user


@pytest.fixture
def orders(django_user_model):
    """``ORD-ANN`` of Ann's customer; ``ORD-GUEST`` without a customer."""
    ann = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    customer = Customer.objects.create(source_id="user-ann", email="ann@example.com", user=ann)
    Order.objects.create(source_id="ORD-ANN", amount=8000, customer=customer)
    Order.objects.create(source_id="ORD-GUEST", amount=8000)
    return ann


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("anonymous", False),
        ("plain", False),
        ("staff", False),
        ("permitted", True),
        ("superuser", True),
    ],
)
def test_rollback_needs_the_change_permission_of_the_ledger(
    sandbox, orders, django_user_model, role, allowed
):
    make_voucher("FIVE")
    ann_client = client_for(orders)
    pk = ann_client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-ANN"}, format="json").json()[
        "redemption"
    ]["id"]
    user = make_user(django_user_model, role, "change_checkoutredemption")
    response = client_for(user).post(rollback_url(pk), {"reason": "x"}, format="json")
    state = CheckoutRedemption.objects.get(pk=pk).state
    if allowed:
        assert response.status_code == 200 and state == LedgerState.ROLLED_BACK
    else:
        assert response.status_code in (401, 403), response.content
        assert state == LedgerState.SUCCEEDED
        assert not [path for _method, path, _status in sandbox.calls.calls if path.endswith("/rollback")]
        assert set(response.json()) >= {"detail", "key"}
    # The admin agrees (it also needs is_staff to open at all): its rollback action is offered
    # to staff exactly when the permission is held.
    if user is not None:
        admin = client_for(user).get("/admin/django_voucherify/checkoutredemption/")
        offered = admin.status_code == 200 and "rollback_selected" in admin.content.decode()
        assert offered == (allowed and user.is_staff)


def test_staff_with_the_permission_may_roll_back_in_the_admin_and_the_api(sandbox, orders, django_user_model):
    user = make_user(django_user_model, "staff", "")
    user.user_permissions.add(Permission.objects.get(codename="change_checkoutredemption"))
    row = CheckoutRedemption.objects.create(order_source_id="ORD-ANN", codes=["X"], state=LedgerState.FAILED)
    admin = client_for(user).get("/admin/django_voucherify/checkoutredemption/")
    assert admin.status_code == 200 and "rollback_selected" in admin.content.decode()
    response = client_for(user).post(rollback_url(row.pk), {}, format="json")
    assert response.status_code == 200


def test_rollback_is_refused_to_a_user_with_only_the_add_permission(sandbox, orders, django_user_model):
    user = make_user(django_user_model, "permitted", "add_checkoutredemption")
    row = CheckoutRedemption.objects.create(
        order_source_id="ORD-ANN", codes=["X"], state=LedgerState.SUCCEEDED
    )
    response = client_for(user).post(rollback_url(row.pk), {}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("order", ["ORD-ANN", "ORD-GUEST"])
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("anonymous", False),
        ("plain", False),
        ("staff", False),
        ("permitted", True),
        ("superuser", True),
    ],
)
def test_redeeming_someone_elses_order_needs_the_add_permission(
    sandbox, orders, django_user_model, role, allowed, order
):
    make_voucher("FIVE")
    user = make_user(django_user_model, role, "add_checkoutredemption")
    response = client_for(user).post(REDEEM, {"codes": ["FIVE"], "order_source_id": order}, format="json")
    if allowed:
        assert response.status_code == 201, response.content
    else:
        # Signed in: another's order answers as an order that does not exist (no oracle of ids).
        assert response.status_code == (403 if role == "anonymous" else 404), response.content
        assert set(response.json()) >= {"detail", "key"}
        assert not CheckoutRedemption.objects.exists()
        assert not sandbox.calls.count("POST", "/v1/redemptions")
        if role != "anonymous":
            unknown = client_for(user).post(
                REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-NOBODY"}, format="json"
            )
            assert (unknown.status_code, unknown.json()) == (response.status_code, response.json())


def test_the_owner_redeems_their_own_order_without_any_permission(sandbox, orders):
    make_voucher("FIVE")
    response = client_for(orders).post(
        REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-ANN"}, format="json"
    )
    assert response.status_code == 201


def test_an_inactive_superuser_has_no_permission(sandbox, orders, django_user_model):
    root = make_user(django_user_model, "superuser", "")
    row = CheckoutRedemption.objects.create(
        order_source_id="ORD-ANN", codes=["X"], state=LedgerState.SUCCEEDED
    )
    client = APIClient()
    client.force_authenticate(root)
    root.is_active = False
    root.save()
    response = client.post(rollback_url(row.pk), {}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_validate_is_open_and_lock_needs_a_signed_in_user(sandbox, django_user_model, role):
    make_voucher("FIVE")
    client = client_for(make_user(django_user_model, role, "change_checkoutredemption"))
    body = {"codes": ["FIVE"], "order": {"amount": 8000}}
    assert client.post(VALIDATE, body, format="json").status_code == 200
    locked = client.post(VALIDATE, {**body, "lock": True}, format="json")
    assert locked.status_code == (403 if role == "anonymous" else 200)
