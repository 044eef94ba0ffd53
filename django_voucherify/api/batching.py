"""Group items into JSON array bodies that stay under Voucherify's request size limit.

Sizes are measured exactly as the transport encodes a ``json=`` body (``json.dumps`` with its
default separators), so a batch sized here is the body that is sent. :func:`encoded_batches`
goes further for items encoded once already: the batch *is* the body (:class:`EncodedJSON`),
sized by its length and sent as is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from ..errors import DjangoVoucherifyError

Key = TypeVar("Key")


#: Voucherify refuses more orders than this in one import call. Defined here (not beside the
#: ``orders`` resource, which re-exports it) so that jobs can size batches without importing the
#: client and ``requests``.
MAX_ORDERS_PER_IMPORT = 2000


class ItemTooLarge(DjangoVoucherifyError, ValueError):
    """One item alone does not fit in a body of ``limit`` bytes."""

    def __init__(self, key: Any, size: int, limit: int) -> None:
        self.key, self.size, self.limit = key, size, limit
        super().__init__(f"item {key} alone is {size} bytes, over the {limit} byte limit")


class EncodedJSON(bytes):
    """A JSON request body encoded already: a resource that accepts one sends these bytes as
    they are (``Content-Type: application/json``), without encoding anything again."""


def encoded_batches(
    items: Iterable[tuple[Key, bytes]], max_bytes: int, max_items: int | None = None
) -> Iterator[tuple[list[Key], EncodedJSON]]:
    """Group ``(key, JSON bytes of one item)`` into ``(keys, JSON array body)`` of at most
    ``max_bytes`` bytes (and ``max_items`` items). Each item was encoded once by the caller; its
    length sizes the batch and the same bytes make the body, which is byte for byte
    ``json.dumps(list_of_items)`` (``", "`` between items). Streams: one batch at a time.

    Raises :class:`ItemTooLarge` for an item whose ``[item]`` alone exceeds ``max_bytes``.
    """
    keys: list[Key] = []
    body = bytearray(b"[")  # grown in place: a 9 MB part is not copied piece by piece
    for key, raw in items:
        if len(raw) + 2 > max_bytes:
            raise ItemTooLarge(key, len(raw), max_bytes)
        if keys and (len(body) + 3 + len(raw) > max_bytes or (max_items and len(keys) >= max_items)):
            body += b"]"
            yield keys, EncodedJSON(body)
            keys, body = [], bytearray(b"[")
        if keys:
            body += b", "
        body += raw
        keys.append(key)
    if keys:
        body += b"]"
        yield keys, EncodedJSON(body)


def encoded_size(value: Any) -> int:
    """Bytes of ``value`` as the transport sends it."""
    return len(json.dumps(value).encode())


def json_batches(
    rows: Iterable[tuple[Key, Any]], max_bytes: int, max_items: int | None = None
) -> Iterator[tuple[Key, list[Any]]]:
    """Group ``(key, item)`` pairs into ``(last key, items)`` whose JSON array body is at most
    ``max_bytes`` (and at most ``max_items`` long). Streams: one batch in memory at a time.

    Raises :class:`ItemTooLarge` for an item that cannot fit even alone.
    """
    batch: list[Any] = []
    size = 2  # "[]"
    last_key: Any = None
    for key, item in rows:
        item_size = encoded_size(item) + 2  # ", " between items
        if item_size + 2 > max_bytes:
            raise ItemTooLarge(key, item_size - 2, max_bytes)
        if batch and (size + item_size > max_bytes or (max_items and len(batch) >= max_items)):
            yield last_key, batch
            batch, size = [], 2
        batch.append(item)
        size += item_size
        last_key = key
    if batch:
        yield last_key, batch
