"""The sandbox's limits on what one request may carry (see "Robustness" in docs/sandbox.md).

- ``MAX_BODY``: request bodies above 10 MB get 413 ``payload_too_large``, as Voucherify documents.
- ``MAX_DEPTH``: JSON bodies and query strings nested deeper than 32 levels get 400 (Voucherify
  publishes no limit; its own objects are at most a handful of levels deep). Python's ``json``
  module and the handlers recurse, so without a bound a deep ``[[[[...`` body is a
  ``RecursionError`` (a 500) or a slow walk instead of an answer.
"""

from __future__ import annotations

from typing import Any

MAX_BODY = 10 * 1024 * 1024
MAX_DEPTH = 32


def deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/dicts in ``value`` nest more than ``limit`` levels (scalars are level 0).

    Iterative, so it answers for any depth without recursing itself.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
