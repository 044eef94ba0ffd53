"""URL encoding the way Voucherify reads it: path segments and qs-style query strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from ..errors import DjangoVoucherifyError
from ..identifiers import UNADDRESSABLE as UNADDRESSABLE

Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None

# UNADDRESSABLE (values that cannot be one segment of a URL path: HTTP libraries drop or
# resolve them) lives in identifiers.py, a leaf, with the rest of the identifier rule:
# validation.py refuses codes and source ids among them at every door, conf the campaigns list.


class UnaddressableError(DjangoVoucherifyError, ValueError):
    """An identifier no URL path can carry (:data:`UNADDRESSABLE`): no retry can send it. A
    ValueError as before (callers catch that), and under the app's root like every error it
    raises on purpose (``except DjangoVoucherifyError``; the REST handler answers it as JSON)."""


def encode_path(template: str, *values: str) -> str:
    """Fill ``{}`` slots of ``template`` with percent-encoded values (``/``, ``?``, ``#`` too).

    Codes are arbitrary strings: ``A/B?C#D%E ü`` must reach the server as one path segment.
    ``""``, ``"."`` and ``".."`` cannot: HTTP libraries drop or resolve them, which would address
    another resource (``DELETE .../sessions/..`` deleting the voucher), so they are refused.
    """
    for value in values:
        if str(value) in UNADDRESSABLE:
            raise UnaddressableError(f"{value!r} cannot be used as a Voucherify identifier in a URL path")
    return template.format(*(quote(str(v), safe="") for v in values))


def encode_query(params: Params) -> list[tuple[str, str]]:
    """Flatten query parameters the way Voucherify (qs) reads them.

    Nested dicts use deepObject style (``created_at[before]=...``,
    ``filters[code][conditions][$in][0]=A``); a top-level list repeats the key (``ids=a&ids=b``);
    booleans are ``true``/``false``; ``None`` values are left out.
    """
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, list | tuple):
            for item in value:
                _flatten(out, key, item)
        else:
            _flatten(out, key, value)
    return out


def _flatten(out: list[tuple[str, str]], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for sub_key, sub_value in value.items():
            _flatten(out, f"{key}[{sub_key}]", sub_value)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(out, f"{key}[{index}]", item)
    elif isinstance(value, bool):
        out.append((key, "true" if value else "false"))
    elif hasattr(value, "isoformat"):
        out.append((key, value.isoformat()))
    else:
        out.append((key, str(value)))
