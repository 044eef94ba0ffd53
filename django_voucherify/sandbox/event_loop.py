"""One thread serves every connection's plain requests; a connection with anything else gets a
thread of its own (issue 13).

Why: the sandbox's work is Python under one lock, so with a thread per connection, concurrent
keep-alive clients made their threads take turns at the GIL, each turn a futex wake-up and a
cold cache: a redeem's CPU rose from ~270 us with one client to ~390 us with 16 (the plain
stdlib server's from ~115 to ~140). One thread reading whichever connection is ready pays
nothing for their number (~235 us with 16 clients).

The loop (:class:`LoopMixIn.serve_forever`) accepts connections, buffers what each sends and,
once :func:`~django_voucherify.sandbox.framing.plain_request_size` says a whole plain request
has arrived, has the server answer it from memory (``serve_from_memory``), writing the answer
without blocking (the rest waits for the socket to drain; pipelined requests wait for it too).
Every other connection (chunked uploads, ``Expect: 100-continue``, bodies over 64 KiB, request
lines the standard library judges, odd heads) and every connection with a request to serve
while a fault is armed (injected latency must not stall the other clients) is handed, with the
bytes it sent so far, to a thread (``hand_over``) that serves it as before until it closes.
A client that stops halfway through a request holds nothing but its buffer. A stop
(:meth:`LoopMixIn.shutdown`) ends the loop after the request in hand and sends the answers
already made before closing; :mod:`.stopping` says what the threads do.
"""

from __future__ import annotations

import contextlib
import selectors
import threading
import time
from socket import socket as Socket
from socket import socketpair
from typing import TYPE_CHECKING, Any

from django_voucherify.sandbox.faults import Fault, NotOnTheLoop
from django_voucherify.sandbox.framing import plain_request_size
from django_voucherify.sandbox.log import logger

_READ_SIZE = 64 * 1024
#: Requests one connection may have answered in a row while others wait: a client pipelining
#: a burst of small requests gets them answered in turns with everyone else's.
REQUESTS_PER_TURN = 8
#: Seconds the loop stops accepting after an accept failed for want of resources.
ACCEPT_PAUSE = 0.1
#: Seconds a stop gives the answers already made, and not yet taken by their sockets (a client
#: reading slowly), to go out before their connections close: a client reading nothing cannot
#: hold the stop up longer.
STOP_SEND_WAIT = 5.0


class _Connection:
    """A connection the loop serves: what arrived and is not yet handled, what is not yet sent."""

    __slots__ = ("address", "closing", "ended", "inbox", "outbox", "sock", "waiting")

    def __init__(self, sock: Socket, address: Any) -> None:
        self.sock = sock
        self.address = address
        self.inbox = bytearray()
        self.outbox = b""
        self.closing = False  # close once the outbox is sent (Connection: close, 400s, drops)
        self.ended = False  # the client sent EOF: serve what is whole, then close
        self.waiting = False  # more requests buffered, waiting for the other connections' turn


class LoopMixIn:
    """``serve_forever`` as an event loop, for a ``socketserver.TCPServer`` subclass that
    provides ``serve_from_memory``, ``may_serve_in_loop`` and ``hand_over`` (see
    :class:`~django_voucherify.sandbox.server.SandboxServer`)."""

    socket: Socket  # the listening socket (socketserver.TCPServer's)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # As socketserver's: a shutdown() asked before serve_forever() runs (a server started
        # in a thread and stopped at once) waits for it, which then returns at once.
        self._stop_asked = False
        self._stopped = threading.Event()
        self._waker: Socket | None = None

    # What the server provides.
    def serve_from_memory(self, sock: Socket, address: Any, request: bytes) -> tuple[bytes, bool]:
        """The answer to one whole request and whether the connection closes after it; raises
        :class:`~django_voucherify.sandbox.faults.NotOnTheLoop` when a thread must serve the
        request after all (nothing of it was done), with the fault picked for it."""
        raise NotImplementedError

    def may_serve_in_loop(self) -> bool:
        """False while requests must not be served in the loop (a fault is armed)."""
        raise NotImplementedError

    def hand_over(self, sock: Socket, address: Any, received: bytes, picked: Fault | None) -> None:
        """Serve this (blocking) connection elsewhere, starting with the bytes received; its
        first request with the fault ``picked`` for it when the loop took it up (else None)."""
        raise NotImplementedError

    if TYPE_CHECKING:  # socketserver.TCPServer's, which the class this is mixed into has

        def handle_error(self, request: Any, client_address: Any) -> None: ...
        def get_request(self) -> tuple[Socket, Any]: ...
        def shutdown_request(self, request: Any) -> None: ...

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown`; the connections still open then are closed."""
        self._stopped.clear()
        try:
            waker, self._waker = socketpair()
            loop = _Loop(self)
            try:
                self.socket.setblocking(False)
                loop.selector.register(self.socket, selectors.EVENT_READ, None)
                loop.selector.register(waker, selectors.EVENT_READ, waker)
                while not self._stop_asked:
                    for key, events in loop.selector.select(loop.timeout(poll_interval)):
                        if self._stop_asked:
                            break  # no request is taken up after the one in hand (see serve)
                        if key.data is None:
                            loop.accept()
                        elif key.data is waker:
                            with contextlib.suppress(OSError):
                                waker.recv(64)
                        else:
                            loop.dispatch(key.data, events)
                    loop.take_turns()
                    loop.resume_accepts()
                loop.send_what_was_answered(STOP_SEND_WAIT)
            finally:
                loop.close_all()
                waker.close()
                wake_side, self._waker = self._waker, None
                if wake_side is not None:
                    wake_side.close()
        finally:  # whatever happened, a shutdown() waiting for this returns
            self._stop_asked = False
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait for it to return (from another thread): the
        request in hand is answered, none is taken up after it, the answers made go out (for up
        to :data:`STOP_SEND_WAIT` seconds), then every connection the loop serves closes."""
        self._stop_asked = True
        waker = self._waker
        if waker is not None:
            with contextlib.suppress(OSError):
                waker.send(b"x")
        self._stopped.wait()


class _Loop:
    """The connections one ``serve_forever`` run serves, and what it does when one is ready."""

    def __init__(self, server: LoopMixIn) -> None:
        self.server = server
        self.selector = selectors.DefaultSelector()
        self.connections: dict[Socket, _Connection] = {}
        self.turns: list[_Connection] = []  # connections with requests left after their turn
        self.accepts_resume_at: float | None = None  # accepts paused (see accept) until then

    def timeout(self, poll_interval: float) -> float:
        """How long the next wait may be: none with turns queued; short with accepts paused."""
        if self.turns:
            return 0
        if self.accepts_resume_at is not None:
            return max(0.0, min(poll_interval, self.accepts_resume_at - time.monotonic()))
        return poll_interval

    def resume_accepts(self) -> None:
        """Listen again once a pause (see :meth:`accept`) is over."""
        if self.accepts_resume_at is not None and time.monotonic() >= self.accepts_resume_at:
            self.accepts_resume_at = None
            self.selector.register(self.server.socket, selectors.EVENT_READ, None)

    def accept(self) -> None:
        while True:
            try:
                sock, address = self.server.get_request()
            except BlockingIOError:  # none left
                return
            except OSError as exc:  # out of file descriptors (EMFILE, ENFILE), out of memory...
                # The pending connection keeps the listening socket readable: looking again at
                # once would spin at 100 % CPU. It is left alone for a while; the connections
                # already open are served meanwhile (and closing them frees descriptors).
                logger.warning("sandbox: cannot accept a connection (%s); pausing accepts", exc)
                self.selector.unregister(self.server.socket)
                self.accepts_resume_at = time.monotonic() + ACCEPT_PAUSE
                return
            sock.setblocking(False)
            conn = _Connection(sock, address)
            self.connections[sock] = conn
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def dispatch(self, conn: _Connection, events: int) -> None:
        """Do what a ready connection needs (``events`` 0: its turn to be served again);
        whatever it raises ends that connection only (a thread per connection would have lost
        just that thread, not every client's server)."""
        try:
            if events & selectors.EVENT_WRITE:
                self.send_rest(conn)
            elif not events:
                self.serve(conn)
            elif not conn.waiting:  # a connection waiting for its turn is not read meanwhile
                self.receive(conn)
        except Exception:
            self.server.handle_error(conn.sock, conn.address)
            self.close(conn)

    def receive(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close(conn)
            return
        if data:
            conn.inbox += data
        else:
            conn.ended = True
        self.serve(conn)

    def serve(self, conn: _Connection) -> None:
        """Answer the whole requests buffered, one at a time, while nothing waits to be sent;
        at most :data:`REQUESTS_PER_TURN` of them, then the other connections get their turn."""
        server = self.server
        served = 0
        while conn.inbox and not conn.outbox and not conn.closing:
            if server._stop_asked:
                # Stopping: the request in hand was the last one. Those not taken up are never
                # handled nor answered (their connection closes), like requests sent after it.
                return
            if served == REQUESTS_PER_TURN:
                self.wait_turn(conn)
                return
            size = plain_request_size(conn.inbox)
            if size == 0:
                break  # the rest of the request has not arrived yet
            if size is None or not server.may_serve_in_loop():
                self.hand_over(conn)
                return
            request = bytes(conn.inbox[:size])
            try:
                answer, conn.closing = server.serve_from_memory(conn.sock, conn.address, request)
            except NotOnTheLoop as exc:  # a fault that sleeps or drops fired: a thread answers,
                self.hand_over(conn, exc.fault)  # with that fault (nothing is picked again)
                return
            del conn.inbox[:size]
            served += 1
            if answer and not self.write(conn, answer):
                return
        if not conn.outbox and (conn.closing or conn.ended):
            self.close(conn)

    def hand_over(self, conn: _Connection, picked: Fault | None = None) -> None:
        self.selector.unregister(conn.sock)
        conn.sock.setblocking(True)
        self.server.hand_over(conn.sock, conn.address, bytes(conn.inbox), picked)
        del self.connections[conn.sock]  # only once handed over: ours to close until then

    def wait_turn(self, conn: _Connection) -> None:
        """``conn`` has more requests buffered: it is served again after the others had theirs
        (it is not read meanwhile, so what it buffers stays bounded)."""
        if not conn.waiting:
            conn.waiting = True
            self.turns.append(conn)

    def take_turns(self) -> None:
        """Serve each connection that was waiting for its turn (in the order they queued)."""
        waiting, self.turns = self.turns, []
        for conn in waiting:
            conn.waiting = False
            if conn.sock in self.connections:
                self.dispatch(conn, 0)

    def write(self, conn: _Connection, data: bytes) -> bool:
        """Send what the socket takes now, keep the rest for later; False if it closed."""
        try:
            sent = conn.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close(conn)
            return False
        if sent < len(data):
            conn.outbox = data[sent:]
            self.selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
        return True

    def send_rest(self, conn: _Connection) -> None:
        """The socket can take more of a partly sent answer."""
        data, conn.outbox = conn.outbox, b""
        if self.write(conn, data) and not conn.outbox:
            self.selector.modify(conn.sock, selectors.EVENT_READ, conn)
            self.serve(conn)

    def send_what_was_answered(self, wait: float) -> None:
        """On a stop, send the answers the sockets have not taken yet, for up to ``wait``
        seconds: a request answered changed what it changed, its client must hear of it.
        Nothing is read or served meanwhile."""
        owed = [conn for conn in self.connections.values() if conn.outbox]
        if not owed:
            return
        deadline = time.monotonic() + wait
        with selectors.DefaultSelector() as sending:
            for conn in owed:
                sending.register(conn.sock, selectors.EVENT_WRITE, conn)
            while sending.get_map() and (left := deadline - time.monotonic()) > 0:
                for key, _ in sending.select(left):
                    conn = key.data
                    data, conn.outbox = conn.outbox, b""
                    if not self.write(conn, data) or not conn.outbox:  # closed, or all sent
                        sending.unregister(key.fileobj)
        if any(conn.outbox for conn in owed):
            logger.warning("sandbox: stopped before every answer was sent (a client not reading)")

    def close(self, conn: _Connection) -> None:
        if self.connections.pop(conn.sock, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn.sock)
        self.server.shutdown_request(conn.sock)

    def close_all(self) -> None:
        for conn in list(self.connections.values()):
            self.close(conn)
        self.selector.close()
