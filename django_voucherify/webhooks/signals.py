"""Signals shop code connects to, sent for every processed event (stale ones too)::

    from django.dispatch import receiver
    from django_voucherify.webhooks import signals

    @receiver(signals.webhook_event)                      # every event
    def log_event(sender, event, data, stale, **kwargs): ...

    @receiver(signals.signal_for("voucher.disabled"))     # one type
    def voucher_disabled(sender, event, data, stale, **kwargs): ...

``sender`` is :class:`~django_voucherify.models.WebhookEvent`, ``event`` the stored row,
``data`` the event's ``data`` object, ``stale`` whether a newer event of the same subject was
applied before this one (the mirrors were left as they were). Receivers run inside the
processing transaction: one that raises makes the event fail and be retried with everything
it did rolled back, so receivers must be idempotent (an event may be processed more than once
when reprocessed by staff).
"""

from __future__ import annotations

import threading

from django.dispatch import Signal

from ..models.webhooks import WebhookEvent

#: Sent for every event, whatever its type.
webhook_event = Signal()

_by_type: dict[str, Signal] = {}
_lock = threading.Lock()


def signal_for(event_type: str) -> Signal:
    """The signal sent for events of ``event_type`` (``"voucher.disabled"``...), made on first use."""
    with _lock:
        signal = _by_type.get(event_type)
        if signal is None:
            signal = _by_type[event_type] = Signal()
        return signal


def send(event: WebhookEvent, *, stale: bool) -> None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    kwargs = {"event": event, "data": data, "stale": stale}
    webhook_event.send(sender=WebhookEvent, **kwargs)
    signal = _by_type.get(event.type)
    if signal is not None:
        signal.send(sender=WebhookEvent, **kwargs)
