"""The campaign and tier changelists' refresh status line (``admin/refresh_status.py``) counts
the objects the campaign refresh skipped (a NUL in a tier's name), as the vouchers' does.
Review 20 found it showed none: staff saw a complete refresh and never learnt a tier was
missing (only the log said)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify.models import RefreshSubject
from django_voucherify.vouchers import refresh_runs
from tests.support.campaign_refresh import Spoiled, one_tier_promotion

pytestmark = pytest.mark.django_db


def test_the_campaign_status_line_counts_the_skipped_objects(client, sandbox, api, staff):
    one_tier_promotion(api)
    bad = {"id": "promo_bad", "name": "Bad\x00tier"}
    stats = refresh_runs.run(
        client=Spoiled(api, "promotions.iterate_tiers", bad), subject=RefreshSubject.CAMPAIGNS
    )
    assert stats["skipped"] == 1
    staff("view_promotiontier")
    page = client.get(reverse("admin:django_voucherify_promotiontier_changelist")).content.decode()
    assert "1 skipped" in page
