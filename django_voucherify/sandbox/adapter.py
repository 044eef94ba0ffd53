"""A ``requests`` transport adapter that calls a :class:`Sandbox` in-process (no sockets).

``session.mount("https://api.voucherify.io", SandboxAdapter(sandbox))`` makes any
requests-based client talk to the sandbox. Streamed bodies (files, generators) are read here
(up to just over the 10 MB limit, so 413 still happens). Injected faults map to what a real
socket would give: dropped connection -> ``requests.ConnectionError``; latency above the read
timeout -> ``requests.ReadTimeout`` (after sleeping the timeout).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from django_voucherify.sandbox.app import REASONS, Sandbox
from django_voucherify.sandbox.faults import DropConnection, SimulatedTimeout
from django_voucherify.sandbox.limits import MAX_BODY


def _read_body(body: Any) -> bytes:
    """Materialise a prepared request body (bytes, str, file-like or iterable of chunks)."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read(MAX_BODY + 1)
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    buf = io.BytesIO()
    for chunk in body:  # generator of chunks (requests streams these with chunked encoding)
        buf.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        if buf.tell() > MAX_BODY:
            break
    return buf.getvalue()


def _header_text(value: Any) -> str:
    """A header value as the socket would carry it: what ``http.client`` accepts (str, bytes, or
    any object with ``encode()``, such as the client's masked token) as a latin-1 string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    if hasattr(value, "encode"):
        return bytes(value.encode("latin-1")).decode("latin-1")
    return str(value)


def _read_timeout(timeout: Any) -> float | None:
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    return None if timeout is None else float(timeout)


class SandboxAdapter(BaseAdapter):
    """Route a session's requests to ``sandbox`` through its WSGI interface."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or "/"
        parts = urlsplit(url)
        body = _read_body(request.body)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": (request.method or "GET").upper(),
            "RAW_URI": parts.path + (f"?{parts.query}" if parts.query else ""),
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "sandbox.read_timeout": _read_timeout(timeout),
        }
        for name, raw in request.headers.items():
            value = _header_text(raw)
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ["HTTP_" + key] = value
        try:
            resp = self.sandbox.handle_environ(environ)
        except DropConnection as exc:
            raise requests.ConnectionError(
                f"Connection aborted by sandbox fault: {exc}", request=request
            ) from None
        except SimulatedTimeout as exc:
            raise requests.ReadTimeout(str(exc), request=request) from None
        payload = resp.encode()
        out = requests.Response()
        out.status_code = resp.status
        headers: dict[str, str] = dict(resp.headers)
        if resp.content_type and resp.status != 204:
            headers["Content-Type"] = resp.content_type
        headers["Content-Length"] = str(len(payload))
        out.headers = CaseInsensitiveDict(headers)
        out.raw = io.BytesIO(payload)
        out._content = payload  # body is already complete; no lazy reading needed
        out._content_consumed = True  # type: ignore[attr-defined]  # iter_content slices _content
        out.encoding = "utf-8" if "charset=utf-8" in resp.content_type else None
        out.url = url
        out.request = request
        out.reason = REASONS.get(resp.status, "Unknown")
        out.connection = self  # type: ignore[assignment]  # stubs say HTTPAdapter
        return out

    def close(self) -> None:
        """Nothing to release: there are no sockets."""


def mount(session: requests.Session, sandbox: Sandbox, *prefixes: str) -> SandboxAdapter:
    """Mount a new adapter for ``sandbox`` on ``session`` for each URL prefix (default: the
    Voucherify clusters the client may be configured with plus the sandbox's ``base_url``)."""
    adapter = SandboxAdapter(sandbox)
    targets: Iterable[str] = prefixes or (
        sandbox.base_url,
        "https://api.voucherify.io",
        "https://us1.api.voucherify.io",
        "https://as1.api.voucherify.io",
        "https://download.voucherify.io",
        "https://us1.download.voucherify.io",
        "https://as1.download.voucherify.io",
    )
    for prefix in targets:
        session.mount(prefix, adapter)
    return adapter
