"""The sandbox as a WSGI application.

``Sandbox()`` is a complete local Voucherify: it authenticates (``X-App-Id``/``X-App-Token``,
401 ``unauthorized``), holds requests to the limits of :mod:`~django_voucherify.sandbox.limits`
(body size, nesting) and query parameters to their declared shapes
(:mod:`~django_voucherify.sandbox.query_shapes`) and checks the query and JSON body against the
operation's request schema (:mod:`~django_voucherify.sandbox.request_schema`), routes on the raw path (see
:mod:`~django_voucherify.sandbox.routing`), runs the handler under ``state.lock``, renders
:class:`~django_voucherify.sandbox.errors.SandboxError` as Voucherify's error body and stamps
every response with ``X-Request-Id`` (the same id as the error body's ``request_id``). Each
request, and any unexpected error, is logged (:mod:`~django_voucherify.sandbox.log`).

Transports must put the raw, still percent-encoded request target into ``environ["RAW_URI"]``
(or ``REQUEST_URI``): WSGI's ``PATH_INFO`` is already decoded, which would split ``%2F``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, unquote

from django_voucherify.sandbox.errors import SandboxError, invalid_payload, payload_too_large, unauthorized
from django_voucherify.sandbox.faults import DropConnection, FaultInjector, NotOnTheLoop, SimulatedTimeout
from django_voucherify.sandbox.framing import BODY_ERROR_KEY, BadFraming, content_length
from django_voucherify.sandbox.handlers import load_all
from django_voucherify.sandbox.ids import request_id
from django_voucherify.sandbox.limits import MAX_BODY
from django_voucherify.sandbox.log import log_request, logger
from django_voucherify.sandbox.query_shapes import check_query_shapes
from django_voucherify.sandbox.request_schema import validate_request
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, parse_query, resolve
from django_voucherify.sandbox.state import SandboxState

StartResponse = Callable[..., Any]

#: Environ key under which a transport may hand over the request's headers already as the app
#: keeps them (see :func:`_headers_of`), when it builds the environ and can make both in one
#: pass (the sandbox's own server does). It must hold what the ``HTTP_`` keys say.
APP_HEADERS_KEY = "sandbox.headers"

#: Environ key set (true) by a transport serving many connections from one thread (the server's
#: event loop): a fault that would sleep or drop there raises :class:`NotOnTheLoop` instead.
ON_LOOP_KEY = "sandbox.on_loop"

#: Environ key holding the fault rule the event loop picked for this request before it handed
#: the request to a thread (:class:`NotOnTheLoop`): that rule strikes, nothing is picked again.
PICKED_FAULT_KEY = "sandbox.picked_fault"

#: Environ key under which a transport may put a :class:`threading.Event` it sets when it
#: stops: injected latency then ends at once and, unless the request was handled already
#: (``after``), drops it unhandled, so a stopping server does not wait for the sleep nor act
#: on the request after its stop (see :mod:`.stopping`).
STOPPING_KEY = "sandbox.stopping"

REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Exchange:
    """What a response listener sees: the request and the response the sandbox produced."""

    request: SandboxRequest
    response: SandboxResponse
    operation_id: str


class Sandbox:
    """A local Voucherify. Thread-safe; one instance = one isolated account."""

    #: Called with every new instance; test harnesses use it to attach response listeners
    #: (the conformance suite validates every response of every sandbox this way).
    instance_hooks: ClassVar[list[Callable[[Sandbox], None]]] = []

    def __init__(
        self,
        app_id: str = "sandbox-app-id",
        app_token: str = "sandbox-secret-key",  # noqa: S107 - a well-known local default
        state: SandboxState | None = None,
        base_url: str = "https://api.voucherify.io",
    ) -> None:
        load_all()
        self.app_id = app_id
        self.app_token = app_token
        self.state = state or SandboxState()
        self.base_url = base_url
        self.faults = FaultInjector()
        # Called after every handled request (also errors); the conformance tests hook in here.
        self.response_listeners: list[Callable[[Exchange], None]] = []
        for hook in list(Sandbox.instance_hooks):
            hook(self)
        from django_voucherify.sandbox import jobs

        jobs.resume(self.state)  # jobs pending in a loaded state continue

    def wait_for_jobs(self, timeout: float = 10.0) -> None:
        """Block until every background job (async actions, exports) has finished."""
        from django_voucherify.sandbox import jobs

        jobs.wait(self.state, timeout)

    # ---- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        resp = self.handle_environ(environ)
        payload = resp.encode()
        headers = [(k, v) for k, v in resp.headers.items()]
        if resp.content_type and resp.status != 204:
            headers.append(("Content-Type", resp.content_type))
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{resp.status} {REASONS.get(resp.status, 'Unknown')}", headers)
        return [payload]

    @staticmethod
    def _strike(fault: Any, environ: dict[str, Any], path: str) -> None:
        """Injected latency (a timeout when longer than the caller's) and dropped connections."""
        if fault.latency:
            timeout = environ.get("sandbox.read_timeout")
            if timeout is not None and fault.latency > float(timeout):
                time.sleep(float(timeout))
                raise SimulatedTimeout(f"injected latency {fault.latency}s > {timeout}s")
            stopping = environ.get(STOPPING_KEY)
            if stopping is None:
                time.sleep(fault.latency)
            elif stopping.wait(fault.latency) and not fault.after:
                raise DropConnection(path)  # the server stopped meanwhile: never handled
        if fault.drop:
            raise DropConnection(path)

    def handle_environ(self, environ: dict[str, Any]) -> SandboxResponse:
        """Turn a WSGI environ into a response, and log it (see :mod:`.log`).

        May raise DropConnection/SimulatedTimeout (injected faults).
        """
        started = time.perf_counter()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path, qs = _request_target(environ)
        try:
            resp = self._respond(environ, method, path, qs)
        except DropConnection:
            log_request(method, path, "dropped", started)
            raise
        except SimulatedTimeout:
            log_request(method, path, "timed out", started)
            raise
        log_request(method, path, resp.status, started)
        return resp

    def _respond(self, environ: dict[str, Any], method: str, path: str, qs: str) -> SandboxResponse:
        headers = environ.get(APP_HEADERS_KEY)
        if headers is None:
            headers = _headers_of(environ)
        req = SandboxRequest(method, path, {}, headers, b"", request_id())
        fault = environ.get(PICKED_FAULT_KEY)
        if fault is None and self.faults.armed:
            fault = self.faults.pick(method, _decoded(path))
        if fault is not None and (fault.latency or fault.drop) and environ.get(ON_LOOP_KEY):
            raise NotOnTheLoop(fault)
        if fault is not None and not fault.after:
            self._strike(fault, environ, path)
        try:
            if fault is not None and fault.status is not None and not fault.after:
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else None
                raise SandboxError(
                    fault.status,
                    fault.key or _fault_key(fault.status),
                    "Injected fault",
                    "Fault injected by the sandbox",
                    headers=extra,
                )
            req.query = parse_query(qs) if qs else {}
            try:
                route, params = resolve(method, path)
            except SandboxError:
                self._check_auth(headers)  # unauthenticated callers learn nothing of routes
                raise
            if not (route.public_with_query and route.public_with_query in req.query):
                self._check_auth(headers)
            check_query_shapes(route.operation_id, req.query)
            req.body = self._read_body(environ)
            req.path_params = params
            req.operation_id = route.operation_id
            validate_request(req)
            with self.state.lock:
                try:
                    resp = route.handler(req, self.state)
                except BaseException:
                    if method != "GET":  # even a refused request may have changed an object
                        self.state.drop_views()
                    raise
                if method != "GET":
                    self.state.changed()  # which drops the views as well: once per request
                resp.freeze(private_body=bool(self.response_listeners))
        except SandboxError as err:
            resp = SandboxResponse(err.status, err.to_body(req.request_id), dict(err.headers))
        except DropConnection:
            raise
        except Exception:
            # A bug or an input the handlers did not foresee: answer like Voucherify would (a
            # 500 with an error body) rather than dropping the connection without a response.
            logger.exception("sandbox: %s %s failed (request %s)", method, path, req.request_id)
            crash = SandboxError(
                500,
                "internal_error",
                "Internal server error",
                "The sandbox failed to handle this request; see its log.",
            )
            resp = SandboxResponse(500, crash.to_body(req.request_id), {})
        resp.headers["X-Request-Id"] = req.request_id
        if fault is not None and fault.after:
            self._strike(fault, environ, path)  # handled, but the answer is lost
            if fault.status is not None:  # handled, then answered with an error anyway
                lost = SandboxError(
                    fault.status,
                    fault.key or _fault_key(fault.status),
                    "Injected fault",
                    "Fault injected by the sandbox",
                )
                resp = SandboxResponse(lost.status, lost.to_body(req.request_id), {})
                resp.headers["X-Request-Id"] = req.request_id
        op = resp.operation_id or req.operation_id
        for listener in list(self.response_listeners):
            listener(Exchange(req, resp, op))
        return resp

    def mount(self, session: Any, *prefixes: str) -> Any:
        """Send ``session``'s requests for the Voucherify hosts (or ``prefixes``) to this sandbox.

        Returns the :class:`~django_voucherify.sandbox.adapter.SandboxAdapter`.
        """
        from django_voucherify.sandbox.adapter import mount

        return mount(session, self, *prefixes)

    @property
    def base_url(self) -> str:
        """The URL clients reach this sandbox at; servers set it to their own address."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")
        # Export download links are built from this (``download.`` host beside ``api.``, as
        # Voucherify serves them), so handlers find it in the state.
        base = self._base_url
        if ".api.voucherify.io" in base or "//api.voucherify.io" in base:
            base = base.replace("api.voucherify.io", "download.voucherify.io")
        self.state.extra["download_url"] = base

    def _check_auth(self, headers: dict[str, str]) -> None:
        app_id = headers.get("x-app-id", "")
        token = headers.get("x-app-token", "")
        # compare_digest: the sandbox is also a reference for how secrets should be compared.
        if not (
            secrets.compare_digest(app_id.encode(), self.app_id.encode())
            and secrets.compare_digest(token.encode(), self.app_token.encode())
        ):
            raise unauthorized()

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        length_s = str(environ.get("CONTENT_LENGTH") or "").strip()
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        if environ.get(BODY_ERROR_KEY):  # the transport could not delimit the body
            raise invalid_payload(str(environ[BODY_ERROR_KEY]))
        if length_s:
            try:
                length = content_length(length_s)
            except BadFraming as exc:  # "-1" would read to the end of the stream: a hang
                raise invalid_payload(str(exc)) from None
            if length > MAX_BODY:
                raise payload_too_large(MAX_BODY)
            data = bytes(stream.read(length)) if length else b""
            if len(data) < length:
                # The client stopped before the body it announced (a cut-short send): a server
                # never holds a whole request then, so nothing is processed and nothing answered.
                raise DropConnection("request body shorter than its Content-Length")
            return data
        return b""


def _headers_of(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers from a WSGI environ: lower-case names, ``-`` for ``_``."""
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _request_target(environ: dict[str, Any]) -> tuple[str, str]:
    """The raw (still percent-encoded) path and the query string of the request."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw = str(raw)
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        path, _, qs = raw.partition("?")
        return path.split("#", 1)[0], qs
    # PATH_INFO is latin-1-decoded bytes; re-encode (%2F is lost, but it's the best we have)
    path = quote(str(environ.get("PATH_INFO", "/")).encode("latin-1"), safe="/%")
    return path, str(environ.get("QUERY_STRING", ""))


def _decoded(path: str) -> str:
    return unquote(path)


def _fault_key(status: int) -> str:
    return {429: "too_many_requests", 503: "service_unavailable"}.get(status, "internal_error")
