"""Sandbox request handlers: one module per resource, each registering its routes on import.

How a handler module plugs in (this is the whole contract):

1. Create ``django_voucherify/sandbox/handlers/<name>.py``. Every module in this package is
   imported by :func:`load_all` (called when a :class:`~django_voucherify.sandbox.app.Sandbox`
   is built), so no registration list needs editing.
2. Register each operation with the decorator from ``django_voucherify.sandbox.routing``::

       from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
       from django_voucherify.sandbox.state import SandboxState

       @route("GET", "/v1/redemptions/{redemptionId}", operation_id="get-redemption")
       def get_redemption(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
           red = state.redemptions.get(req.path_params["redemptionId"])
           if red is None:
               raise not_found("redemption", req.path_params["redemptionId"])
           return ok(red)

   Path params arrive percent-DECODED (``req.path_params["code"] == "A/B?C#D%E ü"``);
   ``req.query`` is the nested qs-style dict; ``req.json_object()`` parses the body (400
   ``invalid_payload`` when malformed). ``operation_id`` must be the spec's operationId: the
   conformance test validates the response body against that operation's response schema.
3. Signal errors by raising ``django_voucherify.sandbox.errors.SandboxError`` (or its helpers
   ``not_found``, ``duplicate_found``, ``invalid_payload``, ``business(key)``).
4. The app runs every handler while holding ``state.lock`` (one RLock), so a handler sees and
   mutates state atomically; code running outside a request (threads, timers) must take
   ``with state.lock:`` itself. After a non-GET request the app calls ``state.changed()``.
"""

from __future__ import annotations

import importlib
import pkgutil

_loaded = False


def load_all() -> None:
    """Import every module of this package once (each registers its routes)."""
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True
