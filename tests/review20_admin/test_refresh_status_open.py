"""Review 20, open (the refresh status template is another engineer's, being edited): the
campaign refresh now skips an object the database cannot store (a NUL in a tier's name) and
counts it in ``skipped``, but the campaign and tier changelists' status line
(``voucher/last_refresh.html``) shows no skipped count for the campaigns, as it does for the
vouchers: staff see a complete refresh and never learn a tier is missing (only the log says)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify.models import RefreshSubject
from django_voucherify.vouchers import refresh_runs

from .test_refresh_unstorable import Spoiled, _promotion

pytestmark = pytest.mark.django_db


@pytest.mark.xfail(strict=True, reason="open: the campaign status line shows no skipped count")
def test_the_campaign_status_line_counts_the_skipped_objects(client, sandbox, api, staff):
    _promotion(api)
    bad = {"id": "promo_bad", "name": "Bad\x00tier"}
    stats = refresh_runs.run(
        client=Spoiled(api, "promotions.iterate_tiers", bad), subject=RefreshSubject.CAMPAIGNS
    )
    assert stats["skipped"] == 1
    staff("view_promotiontier")
    page = client.get(reverse("admin:django_voucherify_promotiontier_changelist")).content.decode()
    assert "1 skipped" in page
