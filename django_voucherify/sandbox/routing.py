"""Requests, responses, the route registry and qs-style query parsing.

Handlers are plain functions ``handler(req: SandboxRequest, state: SandboxState) ->
SandboxResponse`` registered with :func:`route`. Routing works on the RAW (still percent-encoded)
path: it is split on ``/`` first and each segment is unquoted afterwards, so a voucher code such
as ``A/B?C#D%E ü`` (sent as ``A%2FB%3FC%23D%25E%20%C3%BC``) is one path parameter. When several
templates match, the one with more literal segments wins (``/v1/vouchers/import`` beats
``/v1/vouchers/{code}``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from django_voucherify.sandbox import limits
from django_voucherify.sandbox.compact import jsonable
from django_voucherify.sandbox.errors import (
    SandboxError,
    invalid_payload,
    invalid_query_params,
    method_not_allowed,
    route_not_found,
)
from django_voucherify.sandbox.limits import MAX_DEPTH, deeper_than

if TYPE_CHECKING:
    from django_voucherify.sandbox.state import SandboxState


@dataclass
class SandboxRequest:
    """One parsed API request. ``headers`` keys are lower-case; ``query`` is nested (qs style)."""

    method: str
    path: str  # raw, percent-encoded path
    query: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    request_id: str
    path_params: dict[str, str] = field(default_factory=dict)
    operation_id: str = ""
    #: ``(body, parsed)``: the request check parses the body, and the handler gets that value
    #: rather than parsing the same bytes again (a new ``body`` is parsed anew).
    _parsed: tuple[bytes, Any] | None = field(default=None, repr=False, compare=False)

    def json(self) -> Any:
        """The JSON body (``{}`` when empty); malformed JSON raises 400 ``invalid_payload``.

        Parsed once per body: later calls return the same value (the request check only reads
        it; a handler may then change it, as its own)."""
        parsed = self._parsed
        if parsed is not None and parsed[0] is self.body:
            return parsed[1]
        data = self._parse()
        self._parsed = (self.body, data)
        return data

    def _parse(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            data = limits.loads(self.body)
        except RecursionError:  # far deeper than MAX_DEPTH: the parser gave up before us
            raise _too_deep() from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid_payload(f"Invalid JSON body: {exc}") from None
        # Each nesting level opens a bracket: with no more brackets than levels allowed, the
        # walk over the parsed value (the slower check) cannot find too deep a one.
        brackets = self.body.count(b"[") + self.body.count(b"{")
        if brackets > MAX_DEPTH and deeper_than(data, MAX_DEPTH):
            raise _too_deep()
        # Refused here, before any handler: stored, it could not be encoded in the answer (a
        # 500 after the state changed) nor in any later one showing it.
        surrogate = limits.lone_surrogate(data, self.body)
        if surrogate is not None:
            raise invalid_payload(
                f"JSON body holds a lone surrogate ({surrogate}) in a string, which is not Unicode text"
            )
        return data

    def json_object(self) -> dict[str, Any]:
        """The JSON body, which must be an object (400 ``invalid_payload`` otherwise)."""
        data = self.json()
        if not isinstance(data, dict):
            raise invalid_payload("Request body must be a JSON object")
        return data

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _too_deep() -> SandboxError:
    return invalid_payload(f"JSON body is nested deeper than {MAX_DEPTH} levels")


@dataclass
class SandboxResponse:
    """A handler's result. ``body``: JSON-able value, ``str``/``bytes`` (sent as is) or None."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    # Overrides the route's operation id, for paths that serve two operations (exports).
    operation_id: str | None = None
    _payload: bytes | None = field(default=None, repr=False)

    def freeze(self, *, private_body: bool = False) -> None:
        """Encode now (the caller holds the state lock: handlers return live state dicts).

        With ``private_body`` the body is replaced by a parsed copy of what is sent, for
        listeners that inspect it after the lock is released.
        """
        self._payload = None
        self._payload = self.encode()
        if private_body and not isinstance(self.body, str | bytes) and self.body is not None:
            self.body = json.loads(self._payload)

    def encode(self) -> bytes:
        if self._payload is not None:
            return self._payload
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return encode_json(self.body)


# One encoder for every response, made once: ``json.dumps`` with options builds a JSONEncoder
# and its C encoder per call (a few microseconds of a redeem's answer), and so does
# ``JSONEncoder.encode`` itself (its C encoder, and a float formatting closure, per call). Same
# options, so the same bytes: compact separators, UTF-8 as is, ``jsonable`` for the store's
# compact objects.
# No cycle check: it records every dict and list of the answer in a dict while encoding (~15 %
# of a redeem answer's encoding), and the state holds no cycles (tests/sandbox/test_gc_freeze.py).
# An answer that had one would still be a 500: the C encoder's recursion limit stops it, and
# the app answers any exception of the handler and its encoding with ``internal_error``.
def _text_encoder(make_c_encoder: Any) -> Callable[[Any], str]:
    """The answers' JSON text encoder: the standard library's C encoder made once (what
    ``JSONEncoder.encode`` makes on every call), or ``JSONEncoder.encode`` without it."""
    if make_c_encoder is None:  # a Python without the json C accelerator
        encoder = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, default=jsonable, check_circular=False
        )
        return encoder.encode
    # The arguments JSONEncoder.iterencode passes it: markers (None: no cycle check), default,
    # string encoder, indent, key and item separators, sort_keys, skipkeys, allow_nan.
    text = json.encoder.encode_basestring
    encode = make_c_encoder(None, jsonable, text, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


_ENCODE_TEXT = _text_encoder(getattr(json.encoder, "c_make_encoder", None))


def encode_json(value: Any) -> bytes:
    """``value`` as the sandbox sends JSON (compact, UTF-8)."""
    return _ENCODE_TEXT(value).encode("utf-8")


def ok(body: Any, status: int = 200) -> SandboxResponse:
    """A JSON response."""
    return SandboxResponse(status=status, body=body)


def no_content() -> SandboxResponse:
    """204, as Voucherify answers deletions and session releases."""
    return SandboxResponse(status=204, body=None, content_type="")


Handler = Callable[["SandboxRequest", "SandboxState"], SandboxResponse]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    segments: tuple[str, ...]
    handler: Handler
    operation_id: str
    # When this query parameter is present the request needs no API keys (export downloads
    # are authorised by their token, like Voucherify's download links).
    public_with_query: str | None = None

    @property
    def specificity(self) -> tuple[bool, ...]:
        return tuple(not s.startswith("{") for s in self.segments)


ROUTES: list[Route] = []


def route(
    method: str, template: str, operation_id: str = "", public_with_query: str | None = None
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method template`` (``{name}`` segments become path params).

    ``operation_id`` is the spec's operationId; the conformance test uses it to pick the
    response schema.
    """

    def deco(fn: Handler) -> Handler:
        segs = tuple(template.strip("/").split("/"))
        ROUTES.append(Route(method.upper(), template, segs, fn, operation_id, public_with_query))
        _match.cache_clear()
        return fn

    return deco


def split_path(raw_path: str) -> list[str]:
    """Split the raw path on ``/`` and percent-decode each segment (UTF-8)."""
    return [unquote(s, encoding="utf-8", errors="strict") for s in raw_path.strip("/").split("/")]


def resolve(method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """Find the route for a request; 404 when no template matches, 405 (with ``Allow``) when
    templates match but none for this method."""
    found, params, declared = _match(method, raw_path)
    if found is None:
        if declared:
            raise method_not_allowed(method, raw_path, set(declared))
        raise route_not_found(raw_path)
    return found, dict(params)


@functools.lru_cache(maxsize=4096)
def _match(method: str, raw_path: str) -> tuple[Route | None, tuple[tuple[str, str], ...], frozenset[str]]:
    """The best route for ``method raw_path`` with its parameters, and the methods of every
    template the path matches. Cached: a client repeats its paths (the route table is only
    scanned once per method and path), and :func:`route` clears the cache."""
    try:
        segs = split_path(raw_path)
    except UnicodeDecodeError:
        return None, (), frozenset()
    best: tuple[Route, dict[str, str]] | None = None
    declared: set[str] = set()  # the methods of every template the path matches
    for r in ROUTES:
        if len(r.segments) != len(segs):
            continue
        params: dict[str, str] = {}
        for t, s in zip(r.segments, segs, strict=True):
            if t.startswith("{"):
                if s == "":
                    break
                params[t[1:-1]] = s
            elif t != s:
                break
        else:
            declared.add(r.method)
            if r.method != method:
                continue
            if best is None or r.specificity > best[0].specificity:
                best = (r, params)
    if best is None:
        return None, (), frozenset(declared)
    return best[0], tuple(best[1].items()), frozenset(declared)


_KEY_RE = re.compile(r"\[([^\]]*)\]")


def parse_query(qs: str) -> dict[str, Any]:
    """Parse a qs-style query string into nested dicts/lists.

    ``a[b][c]=1`` -> ``{"a": {"b": {"c": "1"}}}``; ``ids=a&ids=b`` and ``ids[]=a&ids[]=b`` ->
    ``{"ids": ["a", "b"]}``; ``x[0]=a&x[1]=b`` -> ``{"x": ["a", "b"]}`` (dicts whose keys are
    all digits become lists, in index order).

    400 ``invalid_query_params`` for a key nested deeper than ``MAX_DEPTH`` brackets, and for a
    name given both as a value and with nested keys (``a=1&a[b]=2``): one of the two would be
    lost, and handlers would meet a dict where they expect a string or the other way round.
    """
    root: dict[str, Any] = {}
    for key, value in parse_qsl(qs, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head] + (_KEY_RE.findall("[" + rest) if rest else [])
        if len(parts) - 1 > MAX_DEPTH:
            raise invalid_query_params(f"{head}: nested deeper than {MAX_DEPTH} levels")
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last or parts[i + 1] == "":
                if isinstance(node.get(part), dict):
                    raise _value_and_keys(parts[: i + 1])
                if not last or part == "":
                    # "k[]=v": append to a list
                    lst = node.setdefault(part, [])
                    if not isinstance(lst, list):
                        lst = node[part] = [lst]
                    lst.append(value)
                    break
                if part in node:
                    cur = node[part]
                    node[part] = [*cur, value] if isinstance(cur, list) else [cur, value]
                else:
                    node[part] = value
                break
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise _value_and_keys(parts[: i + 1])
            node = nxt
    result: dict[str, Any] = _listify(root)
    return result


def _value_and_keys(parts: list[str]) -> SandboxError:
    name = parts[0] + "".join(f"[{p}]" for p in parts[1:])
    return invalid_query_params(f"{name}: given both as a value and with nested keys")


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        conv = {k: _listify(v) for k, v in node.items()}
        if conv and all(k.isdigit() for k in conv):
            return [conv[k] for k in sorted(conv, key=int)]
        return conv
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node
