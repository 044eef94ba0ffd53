"""Fake Voucherify list endpoints for the client's iterators, served through ``responses``
callbacks: page-based listing (:class:`PageServer`), the helpers to read a request and answer
it, and :class:`RunawayPagingError` for a walk that does not end."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.sandbox import API

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
MAX_REQUESTS = 400  # far above what any walk of the tests needs


class RunawayPagingError(AssertionError):
    """Raised by a fake server when the client keeps asking: the walk does not terminate."""


def ts(seconds: float) -> str:
    """Voucherify's timestamp format (millisecond ISO 8601, ``Z``): sorts as a string."""
    moment = BASE_TIME + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def url_for(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(API + path) + r"(\?.*)?$")


def query_of(request: Any) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"repeated query keys: {pairs}"
    return dict(pairs)


def json_reply(body: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def bad_request(message: str) -> tuple[int, dict[str, str], str]:
    return json_reply({"code": 400, "key": "invalid_query_params", "message": message}, 400)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def assert_no_duplicates(items: list[dict[str, Any]]) -> None:
    repeated = [i for i, n in Counter(ids(items)).items() if n > 1]
    assert repeated == [], f"{len(repeated)} items yielded more than once, e.g. {repeated[:5]}"


class PageServer:
    """``page``/``limit`` listing with ``total``, ``order`` and ``created_at`` bounds."""

    def __init__(
        self,
        key: str,
        items: list[dict[str, Any]],
        *,
        max_page: int,
        after_inclusive: bool = True,
        default_order: str = "-created_at",
    ) -> None:
        self.key = key
        self.items = items  # ascending by created_at
        self.max_page = max_page
        self.after_inclusive = after_inclusive
        self.default_order = default_order
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = query_of(request)
        self.queries.append(query)
        if len(self.queries) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(self.queries)} requests for {len(self.items)} items")
        limit = int(query.get("limit", "10"))
        page = int(query.get("page", "1"))
        if not 1 <= limit <= 100:
            return bad_request(f"limit {limit} out of range")
        if not 1 <= page <= self.max_page:
            return bad_request(f"page {page} out of range 1..{self.max_page}")
        selected = self.items
        after = query.get("created_at[after]")
        before = query.get("created_at[before]")
        if after:
            selected = [
                i
                for i in selected
                if i["created_at"] > after or (self.after_inclusive and i["created_at"] == after)
            ]
        if before:
            selected = [i for i in selected if i["created_at"] < before]
        order = query.get("order", self.default_order)
        if order == "-created_at":
            selected = list(reversed(selected))
        elif order != "created_at":
            return bad_request(f"unexpected order {order}")
        start = (page - 1) * limit
        return json_reply(
            {
                "object": "list",
                "data_ref": self.key,
                self.key: selected[start : start + limit],
                "total": len(selected),
            }
        )
