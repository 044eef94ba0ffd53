"""An empty voucher changelist tells staff how to load vouchers instead of a bare "0 vouchers"."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

URL = "/admin/django_voucherify/voucher/"
HELP = 'id="no-vouchers-help"'


def test_no_vouchers_at_all_says_how_to_load_them(admin_client):
    page = admin_client.get(URL).content.decode()
    assert HELP in page and "Refresh from Voucherify" in page and "voucherify_pull vouchers" in page


def test_vouchers_mirrored_no_help(admin_client, mirrored):
    mirrored("SPRING")
    assert HELP not in admin_client.get(URL).content.decode()
    # A search that matches nothing is not an empty store: no loading advice either.
    assert HELP not in admin_client.get(URL, {"q": "NOTHING-MATCHES"}).content.decode()
