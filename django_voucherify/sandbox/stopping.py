"""The requests the sandbox server's threads have under way, and a stop that waits for them.

A connection the event loop hands to a thread (:meth:`.server.SandboxServer.hand_over`) is
served by that thread until it closes. Once a stop is asked (``shutdown()``, the first half of
``stop()``, as the loop stops taking requests up), a thread takes up no new request: one it has
read by then is never handled nor answered (its connection closes), like a request sent after
the stop. The requests already under way are finished and answered first, for up to
:data:`STOP_WAIT` seconds from the stop (``server_close()`` waits for them); injected latency
one of them sleeps before it is handled is cut short, and that request is dropped unhandled
(see ``STOPPING_KEY`` in :mod:`.app`). So nothing changes the sandbox's state once
``stop()`` has returned, and the state the command line saves then (``--data``) holds every
request the sandbox answered.
"""

from __future__ import annotations

import threading
import time

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
        self._deadline: float | None = None  # when the wait for those under way ends

    def refuse(self, wait: float = STOP_WAIT) -> float:
        """Take up no new request from now on; those under way have until ``wait`` seconds
        from the first call (see :meth:`stop`): that deadline (``time.monotonic``)."""
        with self._changed:
            if self._deadline is None:
                self._deadline = time.monotonic() + wait
            self.stopping.set()
            return self._deadline

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
        """Take up no new request and wait for those under way to end, up to ``wait`` seconds
        from :meth:`refuse` (or from now, without it): one bound for the whole stop, not one
        after the loop's own (a stop with a client not reading took twice as long); how many
        are still under way then."""
        with self._changed:
            left = max(0.0, self.refuse(wait) - time.monotonic())
            self._changed.wait_for(lambda: not self._count, left)
            return self._count
