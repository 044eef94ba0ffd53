"""Serve a :class:`Sandbox` over HTTP: a wsgiref-based server with HTTP/1.1 keep-alive.

One thread serves every connection's plain requests from an event loop, and a connection that
sends anything else is handed to a thread of its own (:mod:`.event_loop` says why and which);
both run the same request handler, so an answer does not depend on who served it.

The handler passes the raw request target as ``RAW_URI`` (so ``%2F`` in a voucher code
survives routing), answers 413 for oversized bodies without reading them, has the app answer
400 for bodies whose framing it cannot read and then closes the connection (see
:mod:`~django_voucherify.sandbox.framing`), and closes the socket without a response when a
"drop" fault fires or a body is cut short. :func:`start_in_thread` runs one on a free loopback
port for tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from django_voucherify.sandbox import ids
from django_voucherify.sandbox.app import (
    APP_HEADERS_KEY,
    ON_LOOP_KEY,
    PICKED_FAULT_KEY,
    STOPPING_KEY,
    Sandbox,
)
from django_voucherify.sandbox.errors import SandboxError
from django_voucherify.sandbox.event_loop import LoopMixIn
from django_voucherify.sandbox.faults import DropConnection, Fault
from django_voucherify.sandbox.framing import (
    BODY_ERROR_KEY,
    BadFraming,
    CutShort,
    ambiguity,
    content_length,
    read_chunked,
)
from django_voucherify.sandbox.limits import MAX_BODY
from django_voucherify.sandbox.log import logger
from django_voucherify.sandbox.request_head import (
    SIMPLE_REQUEST_LINE,
    HeadTooLarge,
    RequestHeaders,
    parse_header_lines,
    read_head,
)
from django_voucherify.sandbox.stopping import RequestsUnderWay


class _Handler(WSGIRequestHandler):
    # HTTP/1.1: connections stay open between requests (every response has Content-Length).
    protocol_version = "HTTP/1.1"
    #: True when the event loop serves this request from memory (no sleeping there).
    on_loop = False
    #: The fault rule the loop picked for the first request of a connection it handed over.
    picked_fault: Fault | None = None

    def parse_request(self) -> bool:
        """The stdlib's ``parse_request``, with a fast path for the usual request shape.

        See :mod:`~django_voucherify.sandbox.request_head`: a plain ``METHOD /path HTTP/1.x``
        line and ``Name: value`` headers are read without the ``email`` package; every other
        request is parsed, and refused, by the standard library as before.
        """
        line = _REQUEST_LINES.get(self.raw_requestline)
        if line is None:
            line = _read_request_line(self.raw_requestline)
            if line is None:
                return self._parse_request_by_the_stdlib()
        self.command, self.path, self.request_version, self.requestline, self.close_connection = line
        minor_1 = self.request_version == "HTTP/1.1"
        try:
            lines = read_head(self.rfile)
        except HeadTooLarge as exc:
            self.close_connection = True
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, exc.reason, str(exc))
            return False
        if lines[-1] == b"":
            # The client closed before the blank line that ends the head: a request cut short
            # is never handled nor answered (the event loop, waiting for that line, agrees).
            self.close_connection = True
            return False
        self.headers = headers = parse_header_lines(lines, self.MessageClass)
        if isinstance(headers, RequestHeaders):  # read once per head (see RequestHeaders)
            conntype, expect = headers.connection, headers.expect
        else:
            conntype = str(headers.get("Connection", "")).lower()
            expect = str(headers.get("Expect", "")).lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if expect == "100-continue" and minor_1:
            return bool(self.handle_expect_100())
        return True

    def _parse_request_by_the_stdlib(self) -> bool:
        """``BaseHTTPRequestHandler.parse_request``, except that a head the client cut short
        (the end of the stream before its blank line, which the stdlib takes for that line) is
        neither handled nor answered, as on the fast path."""
        rfile = self.rfile
        reader = _EndNoting(rfile)
        self.rfile = reader  # type: ignore[assignment]  # all the stdlib's parsing calls is readline
        try:
            parsed = bool(super().parse_request())
        finally:
            self.rfile = rfile
        if parsed and reader.ended:
            self.close_connection = True
            return False
        return parsed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, an unsupported HTTP
        version, a head too large) in Voucherify's JSON error shape, like every other answer,
        instead of its HTML page; the connection closes (where the next request starts is
        unknown)."""
        request_id = ids.request_id()
        short = _reason(code) or "Error"
        key = "invalid_request" if code < 500 else "internal_error"
        error = SandboxError(code, key, short, message or explain or short)
        body = json.dumps(error.to_body(request_id)).encode()
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a line too malformed to name a version:
            self.request_version = "HTTP/1.0"  # answer with a status line and headers anyway
        self.send_response(code, short)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", request_id)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def get_environ(self) -> dict[str, Any]:
        """wsgiref's environ (same keys and values), built without its per-call overheads.

        It also carries the app's header dict (``APP_HEADERS_KEY``), made in the same pass:
        the app would otherwise rebuild it from the ``HTTP_`` keys of every request."""
        env: dict[str, Any] = self.server.base_environ.copy()  # type: ignore[attr-defined]
        env["SERVER_PROTOCOL"] = self.request_version
        env["SERVER_SOFTWARE"] = self.server_version
        env["REQUEST_METHOD"] = self.command
        path, _, query = self.path.partition("?")
        env["PATH_INFO"] = unquote(path, "iso-8859-1")
        env["QUERY_STRING"] = query
        env["REMOTE_ADDR"] = self.client_address[0]
        env["RAW_URI"] = self.path
        headers = self.headers
        content_type = headers.get("content-type")
        env["CONTENT_TYPE"] = "text/plain" if content_type is None else content_type
        length = headers.get("content-length")
        if length:
            env["CONTENT_LENGTH"] = length
        # What the fields add depends on them and on which keys the environ has so far: the
        # server's base keys and the ones set above, the same for every request. So it is
        # kept with the (shared, read-only) fields of a plain head, per server environ.
        derived = getattr(headers, "wsgi", None)
        if derived is None or derived[0] is not self.server.base_environ:  # type: ignore[attr-defined]
            derived = (self.server.base_environ, *_header_entries(headers, env))  # type: ignore[attr-defined]
            if isinstance(headers, RequestHeaders):
                headers.wsgi = derived
        env.update(derived[1])
        env[APP_HEADERS_KEY] = dict(derived[2])  # the request's own: the app may keep it
        return env

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Nothing: the app logs each request (without its query string; see sandbox.log)."""

    def log_message(self, format: str, *args: Any) -> None:
        # What is left to wsgiref's own log: request lines it refused (bad syntax, too long).
        logger.info("sandbox: %s", format % args)

    def handle(self) -> None:
        """Serve requests on this connection until the client or a fault closes it."""
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or len(self.raw_requestline) > 65536:
            self.close_connection = True
            return
        if not self.raw_requestline.endswith(b"\n"):  # the client closed inside the line
            self.close_connection = True  # a request cut short: never handled nor answered
            return
        if not self.parse_request():
            return
        app: Sandbox = self.server.get_app()  # type: ignore[attr-defined]
        env = self.get_environ()
        counting = _CountingReader(self.rfile)
        env["wsgi.input"] = counting
        if problem := ambiguity(self.headers):
            # Where this body ends (and the next request starts) is unknown: nothing is read,
            # the app answers 400 and the connection ends after it.
            self.close_connection = True
            env[BODY_ERROR_KEY] = problem
            env["CONTENT_LENGTH"] = "0"
            env["wsgi.input"] = counting = _CountingReader(io.BytesIO(b""))
        elif "chunked" in str(self.headers.get("Transfer-Encoding", "")).lower():
            # requests streams generator bodies (CSV uploads) chunked; WSGI wants a length.
            try:
                body = read_chunked(self.rfile, MAX_BODY + 1)
            except CutShort:
                self.close_connection = True  # never processed, never answered
                return
            except BadFraming as exc:
                # Answered 400 by the app (with a request id, logged like any request); where
                # the next request would start is unknown, so the connection ends after it.
                self.close_connection = True
                body = b""
                env[BODY_ERROR_KEY] = str(exc)
            if body is None:
                self.close_connection = True
                env["CONTENT_LENGTH"] = str(MAX_BODY + 1)  # -> 413, connection closed
            else:
                env["CONTENT_LENGTH"] = str(len(body))
                counting = _CountingReader(io.BytesIO(body))
                env["wsgi.input"] = counting
        if self.on_loop:
            env[ON_LOOP_KEY] = True
        elif self.picked_fault is not None:  # the request the loop handed over, fault and all
            env[PICKED_FAULT_KEY], self.picked_fault = self.picked_fault, None
        self.respond(app, env, counting)

    def respond(self, app: Sandbox, env: dict[str, Any], counting: _CountingReader) -> None:
        """Have the app handle the request read into ``env`` and send its answer."""
        try:
            resp = app.handle_environ(env)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = resp.encode()
        head = [
            _status_line(self.protocol_version, resp.status),
            self._server_header,
            "Date: " + _http_date(),
        ]
        head.extend(f"{k}: {v}" for k, v in resp.headers.items())
        if resp.content_type and resp.status != 204:
            head.append("Content-Type: " + resp.content_type)
        head.append(f"Content-Length: {len(payload)}")
        # A big unread body (413) costs more to skip than a new connection; an unreadable
        # length leaves nothing to skip to.
        if self.close_connection or not counting.drain(_length(env, counting.consumed)):
            self.close_connection = True
            head.append("Connection: close")
        head.append("\r\n")
        data = "\r\n".join(head).encode("latin-1")
        # One write, so headers and body leave in one segment (not two sends per response).
        self.wfile.write(data + payload if self.command != "HEAD" else data)
        self.wfile.flush()

    @property
    def _server_header(self) -> str:
        """``Server: ...``: made of class attributes (``server_version``, ``sys_version``), so
        once per handler class, not once per request (the loop makes a handler per request)."""
        cls = type(self)
        header = _SERVER_HEADERS.get(cls)
        if header is None:
            header = _SERVER_HEADERS[cls] = "Server: " + self.version_string()
        return header


def _header_entries(headers: Any, env: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The environ's ``HTTP_`` entries for ``headers`` (repeated fields joined with commas, the
    ones the environ has a key for already left out: ``Content-Type``, ``Content-Length``) and
    the app's header dict (lower-case names), given the environ built so far."""
    entries: dict[str, str] = {}
    app_headers: dict[str, str] = {}
    for name, value in headers.items():
        key, environ_key, app_key = _header_keys(name)
        value = value.strip()
        if key in env:
            continue  # CONTENT_TYPE, CONTENT_LENGTH
        if environ_key in entries:
            value = entries[environ_key] + "," + value
        elif environ_key in env:  # a base environ's own HTTP_ key, as wsgiref would join it
            value = env[environ_key] + "," + value
        entries[environ_key] = app_headers[app_key] = value
    if env["CONTENT_TYPE"]:
        app_headers["content-type"] = env["CONTENT_TYPE"]
    return entries, app_headers


_HEADER_KEYS: dict[str, tuple[str, str, str]] = {}
_HEADER_KEYS_KEPT = 1024  # names are the client's choice: remember a bounded number of them


def _header_keys(name: str) -> tuple[str, str, str]:
    """A header name's WSGI key without and with ``HTTP_``, and the app's key for it (what the
    app derives from the ``HTTP_`` key), computed once per name (a request sends ~10)."""
    keys = _HEADER_KEYS.get(name)
    if keys is None:
        key = name.replace("-", "_").upper()
        keys = (key, "HTTP_" + key, key.replace("_", "-").lower())
        if len(_HEADER_KEYS) < _HEADER_KEYS_KEPT:
            _HEADER_KEYS[name] = keys
    return keys


def _reason(status: int) -> str:
    known = BaseHTTPRequestHandler.responses.get(status)
    return known[0] if known else ""


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header's value (RFC 9110 IMF-fixdate), formatted once per second."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


_SERVER_HEADERS: dict[type, str] = {}

#: The request lines read lately (a keep-alive client sends the same ones again and again), as
#: ``_read_request_line`` reads them; cleared when full (the lines are the clients' choice).
_REQUEST_LINES: dict[bytes, tuple[str, str, str, str, bool]] = {}
_REQUEST_LINES_KEPT = 256


def _read_request_line(raw: bytes) -> tuple[str, str, str, str, bool] | None:
    """A plain request line's method, target, version, text and whether HTTP/1.0 closes the
    connection after the answer; None for any other line (the standard library reads it)."""
    match = SIMPLE_REQUEST_LINE.fullmatch(raw)
    if match is None:
        return None
    method, target, minor = match.groups()
    version = "HTTP/1.1" if minor == b"1" else "HTTP/1.0"
    line = (
        method.decode("ascii"),
        target.decode("ascii"),
        version,
        raw.decode("ascii").rstrip("\r\n"),
        minor != b"1",
    )
    if len(_REQUEST_LINES) >= _REQUEST_LINES_KEPT:
        _REQUEST_LINES.clear()
    _REQUEST_LINES[raw] = line
    return line


_STATUS_LINES: dict[tuple[str, int], str] = {}


def _status_line(version: str, status: int) -> str:
    """``HTTP/1.1 200 OK``, made once per version and status."""
    line = _STATUS_LINES.get((version, status))
    if line is None:
        line = f"{version} {status} {_reason(status)}"
        if len(_STATUS_LINES) < 1024:  # statuses are the app's: a few dozen
            _STATUS_LINES[(version, status)] = line
    return line


def _length(env: dict[str, Any], consumed: int = -1) -> int:
    """The body length the app was given; -1 when it is unreadable (nothing to drain).
    ``consumed``: what the app read of it; when the length is written exactly so, it is that
    (the usual case, without reading the header's value again)."""
    given = env.get("CONTENT_LENGTH")
    if consumed >= 0 and given == str(consumed):
        return consumed
    try:
        return content_length(str(env.get("CONTENT_LENGTH") or "0"))
    except BadFraming:
        return -1


class _CountingReader:
    """Wraps the socket file so the handler knows how much of the body the app consumed."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw = raw
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.consumed += len(data)
        return data

    def drain(self, length: int, limit: int = 1 << 20) -> bool:
        """Skip the unread rest of the body so keep-alive can continue; False if not sensible."""
        rest = length - self.consumed
        if length < 0 or rest > limit:
            return False
        if rest > 0:
            self.read(rest)
        return True


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per connection; daemon threads so shutdown never hangs on keep-alive.
    :class:`SandboxServer` is the one the sandbox uses."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets connections under bursts of clients.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exception escaped a connection: log it (socketserver printed it to stderr)."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client went away: not a bug
            logger.info("sandbox: the connection from %s ended early", client_address[0])
            return
        logger.exception("sandbox: the connection from %s failed", client_address[0])

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # wsgiref writes headers and body separately: without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK stall every keep-alive response by ~40 ms.
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


class SandboxServer(LoopMixIn, ThreadingWSGIServer):
    """Plain requests answered by the event loop's thread, every other connection by a thread
    of its own (see :mod:`.event_loop`)."""

    def serve_from_memory(self, sock: socket.socket, address: Any, request: bytes) -> tuple[bytes, bool]:
        handler = _Handler.__new__(_Handler)
        handler.server = self
        handler.request = handler.connection = sock
        handler.client_address = address
        handler.rfile = _Received(request)
        handler.wfile = answer = _Collected()
        handler.close_connection = True
        handler.on_loop = True
        handler.handle_one_request()  # NotOnTheLoop (a fault that sleeps or drops) reaches the loop
        return answer.data(), handler.close_connection

    def may_serve_in_loop(self) -> bool:
        # An armed fault may sleep (latency) in the handler: not on the thread serving everyone.
        # An app set with set_app() that wraps a Sandbox (a counting layer, say) may have no
        # rules of its own: the Sandbox inside still raises NotOnTheLoop for a fault that fires.
        faults = getattr(self.get_app(), "faults", None)
        return faults is None or not faults.armed

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handed_over: set[socket.socket] = set()  # closed by server_close() (stop())
        self._handed_over_lock = threading.Lock()
        self.under_way = RequestsUnderWay()  # what threads carry out; stop() waits for it

    def hand_over(self, sock: socket.socket, address: Any, received: bytes, picked: Fault | None) -> None:
        thread = threading.Thread(
            target=self._serve_on_thread, args=(sock, address, received, picked), daemon=True
        )
        with self._handed_over_lock:
            self._handed_over.add(sock)
        try:
            thread.start()
        except BaseException:
            with self._handed_over_lock:
                self._handed_over.discard(sock)
            raise

    def _serve_on_thread(
        self, sock: socket.socket, address: Any, received: bytes, picked: Fault | None
    ) -> None:
        # What socketserver's ThreadingMixIn.process_request_thread does for a new connection.
        try:
            _HandedOverHandler(sock, address, self, received, picked)
        except Exception:
            self.handle_error(sock, address)
        finally:
            with self._handed_over_lock:
                self._handed_over.discard(sock)
            self.shutdown_request(sock)

    def server_close(self) -> None:
        """Close the listening socket, wait for the requests under way on threads (up to
        :data:`~django_voucherify.sandbox.stopping.STOP_WAIT` seconds; no new one is taken up)
        and end the connections handed to threads (the loop closes its own when it stops): a
        stopped server answers no one, and nothing changes the state after it."""
        super().server_close()
        if still := self.under_way.stop():
            logger.warning("sandbox: stopped with %d request(s) still under way on threads", still)
        with self._handed_over_lock:
            handed_over = list(self._handed_over)
        for sock in handed_over:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # its thread reads the end and closes it


class _EndNoting:
    """A reader's ``readline``, noting whether it gave the end of the stream (``b""``)."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.ended = False

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self.rfile.readline(size)
        self.ended = self.ended or not line
        return line


class _Received(io.BytesIO):
    """The handler's ``rfile`` when the loop serves a request: its bytes, with ``peek`` (so
    :func:`~django_voucherify.sandbox.request_head.read_head` takes the head in one read, as it
    does from a socket's buffered reader, instead of a ``readline`` per header line)."""

    def peek(self, size: int = 0) -> bytes:
        return self.getvalue()[self.tell() :]


class _Collected(io.BufferedIOBase):
    """The handler's ``wfile`` when the loop serves a request: the bytes it writes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def data(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class _HandedOverHandler(_Handler):
    """The handler on a connection the loop handed over: it reads what the loop had already
    received first, then the socket; once the server stops, it takes up no new request (see
    :mod:`.stopping`)."""

    def __init__(
        self,
        request: socket.socket,
        client_address: Any,
        server: Any,
        received: bytes,
        picked_fault: Fault | None = None,
    ) -> None:
        self.received = received
        self.picked_fault = picked_fault
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        if self.received:
            # The socket's own reader is closed (it holds a reference that would defer closing
            # the socket) and replaced by one that gives the received bytes first.
            self.rfile.close()
            self.rfile = io.BufferedReader(_ReceivedThenSocket(self.received, self.connection))

    def respond(self, app: Sandbox, env: dict[str, Any], counting: _CountingReader) -> None:
        under_way: RequestsUnderWay = self.server.under_way  # type: ignore[attr-defined]
        if not under_way.begin():  # the server stops: never handled nor answered
            self.close_connection = True
            return
        try:
            env[STOPPING_KEY] = under_way.stopping  # injected latency ends with the stop
            super().respond(app, env, counting)
        finally:
            under_way.end()


class _ReceivedThenSocket(io.RawIOBase):
    """Raw bytes: ``received`` first, then what the socket gives."""

    def __init__(self, received: bytes, sock: socket.socket) -> None:
        self.rest = memoryview(received)
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.rest:
            size = min(len(buffer), len(self.rest))
            buffer[:size] = self.rest[:size]
            self.rest = self.rest[size:]
            return size
        return self.sock.recv_into(buffer)


def make_server(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8100) -> SandboxServer:
    """A server bound to ``host:port`` (port 0 = any free port); call ``serve_forever()``."""
    server = SandboxServer((host, port), _Handler)
    server.set_app(sandbox)
    real_port = server.server_address[1]
    sandbox.base_url = f"http://{_url_host(host)}:{real_port}"  # export URLs point here
    return server


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass
class RunningServer:
    """A sandbox served from a background thread. ``url`` has no trailing slash."""

    url: str
    sandbox: Sandbox
    server: SandboxServer
    thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_in_thread(sandbox: Sandbox | None = None, host: str = "127.0.0.1") -> RunningServer:
    """Serve ``sandbox`` (a new one by default) on a free port of ``host`` in a daemon thread."""
    sb = sandbox or Sandbox()
    server = make_server(sb, host, 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return RunningServer(sb.base_url, sb, server, thread)
