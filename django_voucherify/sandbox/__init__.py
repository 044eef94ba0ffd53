"""An in-memory, stateful, spec-faithful local Voucherify (see docs/sandbox.md).

Public names (imported lazily, so ``import django_voucherify.sandbox`` stays cheap):
``Sandbox`` (the WSGI app), ``SandboxAdapter`` (in-process ``requests`` transport),
``start_in_thread`` (serve on a free loopback port), ``SandboxState``, ``SandboxError``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Sandbox", "SandboxAdapter", "SandboxError", "SandboxState", "start_in_thread"]

_WHERE = {
    "Sandbox": "app",
    "SandboxAdapter": "adapter",
    "SandboxError": "errors",
    "SandboxState": "state",
    "start_in_thread": "server",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(name)
