"""Send the redeem request at most once, and never after its deadline.

Reconciliation concludes "not redeemed" from an empty redemption list once
``CHECKOUT_RECONCILE_GRACE`` has passed since the ledger row was written. That conclusion is
only safe if no request for the row can still reach Voucherify afterwards. The connect and read
timeouts bound the network, but not what happens before the first byte leaves: DNS resolution
(not bounded by the connect timeout), a pool wait, GC, a paused container. So the body is handed
to the HTTP stack as a :class:`DeadlineBody` that checks the deadline when the stack reads it,
which is after DNS and the connect and immediately before the bytes go out. Past the deadline it
refuses to give any byte: the server gets headers with a ``Content-Length`` and no body, and the
connection is closed; an incomplete request is never processed.

The body also records whether any byte was handed out, so the caller knows for certain whether
an unexpected failure happened before the request could have left (safe to mark FAILED) or after
(outcome unknown).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..api.client import VoucherifyClient

REDEEM_PATH = "/v1/redemptions"


class SendDeadlinePassed(Exception):  # a condition, not a crash
    """The request had not left when its deadline passed; it was not sent and never will be."""


def send_window(client: VoucherifyClient) -> float:
    """Seconds after the ledger row's creation within which the redeem must start leaving:
    the client's connect plus read timeout (what one unhindered attempt may take)."""
    connect, read = client.transport.timeout
    return float(connect or 0) + float(read or 0)


class DeadlineBody:
    """A request body that refuses to be read after ``deadline`` (see the module docstring)."""

    def __init__(self, payload: bytes, deadline: datetime) -> None:
        self._payload = payload
        self._offset = 0
        self.deadline = deadline
        #: True once any byte was handed to the HTTP stack: the request may have been received.
        self.started = False

    def __len__(self) -> int:  # requests sets Content-Length from it
        return len(self._payload)

    def read(self, size: int = -1) -> bytes:
        if self._offset < len(self._payload) and timezone.now() >= self.deadline:
            # Checked on every chunk: a body cut short is not a request the server can process.
            raise SendDeadlinePassed(f"redeem not sent: its deadline {self.deadline.isoformat()} passed")
        end = len(self._payload) if size is None or size < 0 else self._offset + size
        chunk = self._payload[self._offset : end]
        if chunk:
            self.started = True
        self._offset += len(chunk)
        return chunk


def deadline_for(created_at: datetime, client: VoucherifyClient) -> datetime:
    return created_at + timedelta(seconds=send_window(client))


def send_redeem(client: VoucherifyClient, body: DeadlineBody) -> Any:
    """POST ``body`` to ``/v1/redemptions`` once (no retry, even when never sent: the deadline
    may have passed). The caller keeps ``body`` to learn whether anything left."""
    return client.transport.request(
        "POST", REDEEM_PATH, data=body, retry=False, headers={"Content-Type": "application/json"}
    )


def encode(body: dict[str, Any]) -> bytes:
    """The JSON bytes requests would send for ``json=body``."""
    return json.dumps(body, allow_nan=False).encode("utf-8")
