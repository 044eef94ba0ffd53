"""The sandbox's limits on what one request may carry (see "Robustness" in docs/sandbox.md).

- ``MAX_BODY``: request bodies above 10 MB get 413 ``payload_too_large``, as Voucherify documents.
- ``MAX_DEPTH``: JSON bodies and query strings nested deeper than 32 levels get 400 (Voucherify
  publishes no limit; its own objects are at most a handful of levels deep). Python's ``json``
  module and the handlers recurse, so without a bound a deep ``[[[[...`` body is a
  ``RecursionError`` (a 500) or a slow walk instead of an answer.
- ``MAX_INTEGER``: numbers in JSON bodies and CSV cells must be finite and fit a signed 64-bit
  integer; ``NaN``, ``Infinity``, ``1e999`` and a 4000-digit integer get 400 ``invalid_payload``
  (stored, they broke every later answer that had to encode them).
- Strings in JSON bodies must be Unicode text: a lone surrogate (``"\\ud800"``, valid JSON
  syntax, or the bytes of one in the body) gets 400 ``invalid_payload``. It cannot be encoded
  as UTF-8, so stored it made the answer (and every later one showing it) a 500.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
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


# Where a lone surrogate can come from: a ``\\uD800``-``\\uDFFF`` escape or, as bodies are
# decoded with ``surrogatepass`` (what ``json.loads`` does), the UTF-8 bytes of one (ED A0-BF)
# or a UTF-16/32 body, which has NUL bytes (any JSON text has ASCII characters; a NUL byte in a
# UTF-8 body would not have parsed).
_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|\x00")
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, a surrogate is always a lone one


def lone_surrogate(value: Any, raw: bytes) -> str | None:
    """The first lone surrogate in a string (key or value) of ``value``, the JSON document
    parsed from ``raw``, as ``U+D800``; None when there is none.

    The walk runs only when ``raw`` may hold one: otherwise one C regex over the bytes (~1 us
    for a 400-byte redeem body). Iterative, like :func:`deeper_than`.
    """
    if _MAY_HOLD_SURROGATE.search(raw) is None:
        return None
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found = _SURROGATE.search(node)
            if found is not None:
                return f"U+{ord(found.group()):04X}"
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


#: The largest integer the sandbox accepts anywhere (a signed 64-bit value, as Voucherify's
#: amounts, quantities and points are): larger ones are refused with 400 before anything is
#: stored, so no product of two of them can outgrow what JSON encoding allows.
MAX_INTEGER = 2**63 - 1


def parse_int(text: str) -> int:
    """``json.loads``' hook for integers: refuses those outside the signed 64-bit range."""
    if len(text) > 20:
        raise ValueError(f"integer out of range ({text[:20]}...)")
    value = int(text)
    if abs(value) > MAX_INTEGER:
        raise ValueError(f"integer out of range ({text})")
    return value


def parse_float(text: str) -> float:
    """``json.loads``' hook for other numbers: refuses those that overflow (``1e999``)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range ({text[:40]})")
    return value


def parse_constant(name: str) -> float:
    """``json.loads``' hook for ``NaN``/``Infinity``: not JSON, refused."""
    raise ValueError(f"{name} is not JSON")


class _Decoders(threading.local):
    """One decoder per thread, made once (its C scanner keeps per-parse state)."""

    def __init__(self) -> None:
        self.decoder = json.JSONDecoder(
            parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant
        )
        # What decoder.decode calls (the C scanner, with the hooks), without decode's own steps.
        self.scan_once: Callable[[str, int], tuple[Any, int]] = self.decoder.scan_once  # type: ignore[attr-defined]


_decoders = _Decoders()
# JSON's whitespace, as json.decoder skips it around the document.
_WHITESPACE = re.compile(r"[ \t\n\r]*", re.VERBOSE | re.MULTILINE | re.DOTALL)


def loads(data: bytes | str) -> Any:
    """``json.loads(data, parse_int=..., parse_float=..., parse_constant=...)`` with this
    module's hooks, without building a decoder per call as ``json.loads`` does when given
    hooks (a few microseconds of every request with a body). Same steps: bytes are decoded by
    the encoding ``json.detect_encoding`` finds; a BOM before str text is refused."""
    if isinstance(data, bytes | bytearray):
        # A body opening with "{" and no NUL after it is UTF-8 to detect_encoding (no BOM, not
        # UTF-16/32): said without the call, for the usual JSON object body.
        plain = data[:1] == b"{" and data[1:2] != b"\x00"
        text = data.decode("utf-8" if plain else json.detect_encoding(data), "surrogatepass")
    else:
        text = data
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _decode(_decoders.scan_once, text)


def _decode(scan_once: Callable[[str, int], tuple[Any, int]], text: str) -> Any:
    """``JSONDecoder.decode(text)`` over its ``scan_once``: the same value or the same error,
    the whitespace around the document looked for only when the text starts or ends with
    something else (a body seldom has any: decode's two matches were ~0.6 us of a redeem)."""
    start = 0 if text[:1] not in " \t\n\r" else _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    try:
        value, end = scan_once(text, start)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    if end != len(text):
        end = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return value
