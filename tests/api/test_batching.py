"""JSON batches sized exactly as the transport sends them."""

from __future__ import annotations

import json

import pytest
import requests

from django_voucherify.api.batching import ItemTooLarge, encoded_size, json_batches


def sent_size(items):
    """What requests puts on the wire for ``json=items``."""
    return len(requests.Request("POST", "http://x/", json=items).prepare().body)


@pytest.mark.parametrize("text", ["plain", "ünïcödé ✓", 'quotes " and \\ slashes'])
def test_batches_never_exceed_the_limit_on_the_wire(text):
    rows = [(i, {"source_id": f"s{i}", "name": text * 5, "metadata": {"n": i}}) for i in range(500)]
    batches = list(json_batches(rows, 2_000))
    assert sum(len(b) for _, b in batches) == 500
    for _, batch in batches:
        assert sent_size(batch) <= 2_000
    # and they are not wastefully small: adding the next item would have overflowed
    flat = [item for _, b in batches for item in b]
    assert flat == [item for _, item in rows]


def test_item_limit_and_last_key():
    rows = [(i, {"i": i}) for i in range(1, 101)]
    batches = list(json_batches(rows, 10**6, max_items=30))
    assert [len(b) for _, b in batches] == [30, 30, 30, 10]
    assert [key for key, _ in batches] == [30, 60, 90, 100]


def test_an_item_too_large_alone_is_refused_with_its_key():
    with pytest.raises(ItemTooLarge) as caught:
        list(json_batches([(7, {"pad": "x" * 500})], 100))
    assert caught.value.key == 7 and caught.value.limit == 100


def test_encoded_size_matches_requests():
    value = {"a": "ü", "b": [1, 2]}
    assert encoded_size(value) == len(json.dumps(value).encode()) == sent_size(value)
