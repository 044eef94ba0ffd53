"""The "Refresh from Voucherify" button of the voucher, campaign and promotion-tier changelists
(one include, ``includes/refresh_button.html``): the form id the browser tests click, the refresh
view it posts to (the tiers' button refreshes the campaigns, which bring the tiers), the CSRF
token; no button without the permission."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
FORM = re.compile(r'<li>\s*<form method="post" action="([^"]+)" id="([^"]+)">(.*?)</form>\s*</li>', re.S)

BUTTONS = [
    ("voucher", "change_voucher", "refresh-vouchers", "admin:django_voucherify_voucher_refresh"),
    ("campaign", "change_campaign", "refresh-campaigns", "admin:django_voucherify_campaign_refresh"),
    ("promotiontier", "change_campaign", "refresh-campaigns", "admin:django_voucherify_campaign_refresh"),
]


@pytest.mark.parametrize(("model", "permission", "form_id", "url_name"), BUTTONS)
def test_the_button_posts_to_its_refresh_view(client, sandbox, staff, model, permission, form_id, url_name):
    staff(f"view_{model}", permission)
    page = client.get(reverse(f"admin:django_voucherify_{model}_changelist")).content.decode()
    forms = FORM.findall(page)
    assert [(action, ident) for action, ident, _body in forms] == [(reverse(url_name), form_id)]
    body = forms[0][2]
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<button type="submit" class="button">Refresh from Voucherify</button>' in body


@pytest.mark.parametrize(("model", "permission", "form_id", "url_name"), BUTTONS)
def test_no_button_without_the_permission(client, sandbox, staff, model, permission, form_id, url_name):
    staff(f"view_{model}")
    page = client.get(reverse(f"admin:django_voucherify_{model}_changelist")).content.decode()
    assert f'id="{form_id}"' not in page
    assert "Refresh from Voucherify</button>" not in page
