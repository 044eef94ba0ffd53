"""The voucher admin's balance form as the tests drive it: its URL, the one-time ``source_id``
the page renders, and how many balance changes of a code the sandbox received."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse


def balance_url(voucher: Any) -> str:
    return reverse("admin:django_voucherify_voucher_balance", args=[voucher.pk])


def rendered_source_id(http: Any, voucher: Any) -> str:
    """The hidden ``source_id`` of the balance form as the page renders it."""
    html = http.get(balance_url(voucher)).content.decode()
    (source_id,) = re.findall(r'name="source_id" value="([^"]+)"', html)
    return str(source_id)


def balance_posts(sandbox: Any, code: str) -> int:
    return sandbox.calls.count("POST", f"/v1/vouchers/{code}/balance")  # type: ignore[no-any-return]
