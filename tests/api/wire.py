"""What the endpoint tables share: the test client's URLs, identifiers that need
percent-encoding, and :class:`Case`, one operation's call and what must reach Voucherify."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django_voucherify.api import VoucherifyClient

API = "https://api.voucherify.io"
DOWNLOAD = "https://download.voucherify.io"
ANY_URL = re.compile(r"https://[a-z0-9.]+\.voucherify\.io/.*")

#: A code with every character that must not be taken literally in a path.
WEIRD = "A/B?C#D%E ü"
WEIRD_ENC = "A%2FB%3FC%23D%25E%20%C3%BC"
#: Customer and order ids are shop ``source_id``s: e-mails, slashes, plus signs.
CUSTOMER = "shop/anna+vip@example.com"
CUSTOMER_ENC = "shop%2Fanna%2Bvip%40example.com"
ORDER = "ORD 2024/0001"
ORDER_ENC = "ORD%202024%2F0001"

NO_BODY = object()
#: The parameters of a transactions export (a voucher's, a campaign's).
TRANSACTIONS_EXPORT = {"order": "-created_at", "fields": ["id", "type", "amount", "created_at"]}


class FakeSleep:
    """A client's ``sleep`` that only records the waits asked of it (retries, back-off)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class NoSleep:
    """A client's ``sleep`` for tests where waiting would be a bug (paging, one-shot calls)."""

    def __call__(self, seconds: float) -> None:
        raise AssertionError(f"paging must not sleep or retry (asked for {seconds} s)")


@dataclass
class Case:
    call: Callable[[VoucherifyClient], Any]
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: Any = NO_BODY
    base: str = API
    status: int = 200
    response: Any = None  # None: a JSON object with unknown fields is served
    content_type: str = "application/json"


def sends(
    body: Any,
    call: Callable[[VoucherifyClient, Any], Any],
    method: str,
    path: str,
    *,
    envelope: str | None = None,
    **expected: Any,
) -> Case:
    """The case of a call given ``body`` that must reach Voucherify as it is (or wrapped as
    ``{envelope: body}``): the body is written once per row. The call gets a deep copy, so a
    client that changed its argument in place could not change what the row expects."""
    return Case(
        lambda client: call(client, copy.deepcopy(body)),
        method,
        path,
        body={envelope: body} if envelope else body,
        **expected,
    )
