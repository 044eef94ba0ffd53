"""A NUL character in a changelist's filter parameters (``?category=%00``, ``?type=%00``, any
field of the model: Django lets a changelist filter on its own fields from the URL) reached
PostgreSQL, which refuses it even as a query parameter: a 500 page and an error mail for a
tampered URL, on the voucher, campaign, validation rule and webhook event lists (the admin
review). Every changelist of the app now answers such a filter as Django answers a filter it
does not allow: 400."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

#: Each app changelist with the filter parameters a URL could carry: its list filters' fields
#: and one of its own text fields (what Django accepts from the query string).
PARAMS = ("category", "type", "code", "state", "event_id", "order_source_id", "sync_state", "name")


def _changelists() -> list[tuple[str, list[str]]]:
    found = []
    for model in admin.site._registry:
        if model._meta.app_label != "django_voucherify":
            continue
        names = {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False)}
        params = [p for p in PARAMS if p in names]
        if params:
            found.append((reverse(f"admin:django_voucherify_{model._meta.model_name}_changelist"), params))
    return found


def test_a_nul_in_a_filter_is_a_400_on_every_changelist(admin_client):
    checked = 0
    for url, params in _changelists():
        for param in params:
            response = admin_client.get(f"{url}?{param}=a%00b")
            assert response.status_code == 400, (url, param, response.status_code)
            checked += 1
        assert admin_client.get(f"{url}?{params[0]}=ab").status_code == 200  # a plain value: the list
    assert checked >= 10  # the vouchers, campaigns, rules, events, ledger, jobs, mirrors...
