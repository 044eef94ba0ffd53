"""The campaign change page asks Voucherify for the validation-rule assignments with the
interactive timeout (``CHECKOUT_TIMEOUT``, 5 s), as the voucher change page does
(tests/admin_vouchers/test_change_page_unreachable.py): a person waits on it. Review 19 found
it used the shared client's 20 s read timeout: while the demo's sandbox hung, the page took
20.3 s to answer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify import conf
from django_voucherify.api.errors import RequestTimeout
from django_voucherify.api.resources.validation_rules import ValidationRules

pytestmark = pytest.mark.django_db


def test_the_campaign_page_waits_at_most_the_interactive_timeout(
    client, sandbox, campaigns, staff, monkeypatch
):
    (spring,) = campaigns("Spring sale")
    staff("view_campaign")
    timeouts: list[float] = []

    def hang(self, **params):
        timeouts.append(self._transport.timeout[1])
        raise RequestTimeout("Voucherify read timeout", method="GET", path="/v1/validation-rules-assignments")

    monkeypatch.setattr(ValidationRules, "list_all_assignments", hang)
    page = client.get(reverse("admin:django_voucherify_campaign_change", args=[spring.pk]))
    assert page.status_code == 200 and page.context["rules_error"]
    assert timeouts == [conf.settings().checkout_timeout]
