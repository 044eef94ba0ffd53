"""The requests the sandbox server's threads have under way, and a stop that waits for them.

A connection the event loop hands to a thread (:meth:`.server.SandboxServer.hand_over`) is
served by that thread until it closes. Once the server stops (``server_close()``, the second
half of ``stop()``), a thread takes up no new request: one it has read by then is never handled
nor answered (its connection closes), like a request sent after the stop. The requests already
under way are finished and answered first, for up to :data:`STOP_WAIT` seconds; injected
latency one of them sleeps before it is handled is cut short, and that request is dropped
unhandled (see ``STOPPING_KEY`` in :mod:`.app`). So nothing changes the sandbox's state once
``stop()`` has returned, and the state the command line saves then (``--data``) holds every
request the sandbox answered.
"""

from __future__ import annotations

import threading

#: Seconds a stop waits for the requests under way on threads (a handler stuck past it is
#: left: its connection is ended, so it is never answered).
STOP_WAIT = 5.0


class RequestsUnderWay:
    """How many requests threads are carrying out, and whether the server stops."""

    def __init__(self) -> None:
        #: Set once the server stops; injected latency waits on it (``STOPPING_KEY``).
        self.stopping = threading.Event()
        self._count = 0
        self._changed = threading.Condition()

    def begin(self) -> bool:
        """Whether a thread may carry out the request it has read (False once stopping); a
        True must be followed by :meth:`end` once the request is answered (or dropped)."""
        with self._changed:
            if self.stopping.is_set():
                return False
            self._count += 1
            return True

    def end(self) -> None:
        with self._changed:
            self._count -= 1
            if not self._count:
                self._changed.notify_all()

    def stop(self, wait: float = STOP_WAIT) -> int:
        """Take up no new request and wait up to ``wait`` seconds for those under way to end;
        how many are still under way then."""
        with self._changed:
            self.stopping.set()
            self._changed.wait_for(lambda: not self._count, wait)
            return self._count
