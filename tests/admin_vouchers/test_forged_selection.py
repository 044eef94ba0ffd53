"""A posted selection holding what is no primary key (review s1): Django filters the changelist
by the posted ``_selected_action`` values as they come, and one that is no pk (a NUL, 5000
digits ``int()`` refuses) raised ValueError there: a 500 page and an error mail for a tampered
form, on the new ledger rollback and webhook reprocess confirmations as on every action of the
app. It is a 400, as Django answers other tampered admin input; nothing is done."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from tests.support.admin import post_action

pytestmark = pytest.mark.django_db

FORGED = ("a\x00", "1" * 5000)


def _actions(admin_user) -> list[tuple[str, str]]:
    """Each app changelist with an action a superuser may run there."""
    request = RequestFactory().get("/")
    request.user = admin_user
    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "django_voucherify":
            continue
        actions = [name for name in model_admin.get_actions(request) if name != "delete_selected"]
        if actions:
            found.append(
                (reverse(f"admin:django_voucherify_{model._meta.model_name}_changelist"), actions[0])
            )
    return found


def test_a_selected_value_that_is_no_pk_is_a_400_on_every_action(admin_client, admin_user):
    found = _actions(admin_user)
    assert {url.split("/")[-2] for url, _ in found} >= {"checkoutredemption", "webhookevent", "voucher"}
    for url, action in found:
        for value in FORGED:
            for confirmed in ({"index": "0"}, {"post": "yes"}):
                response = post_action(admin_client, url, action, [value, "1"], **confirmed)
                assert response.status_code == 400, (url, action, repr(value)[:12], confirmed)
        assert post_action(admin_client, url, action, ["1"], index="0").status_code in (200, 302)
