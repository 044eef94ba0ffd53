"""An adversary between the client and the in-process sandbox, for checkout's hostile tests.

:class:`Interceptor` wraps the sandbox's requests adapter. A *plan* armed for the next request
matching a method and path decides what happens to it: run something (a sweep, time passing)
while the request is stalled before it leaves (DNS), while Voucherify holds it after it left,
or after Voucherify handled it and before the answer arrives (a late answer); crash the worker
(a ``BaseException`` nothing in the library catches) before or after Voucherify handled it;
answer with a 2xx whose body is not JSON (a proxy page), with or without Voucherify handling it.

Time passes by :meth:`Clock.advance`: Django's ``timezone.now`` and the sandbox's clock jump
forward together, as a stalled process sees it.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import requests
from django.utils import timezone
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from django_voucherify.sandbox.adapter import _read_body


class WorkerCrash(BaseException):  # the process dies: nothing may catch it
    """The process running the request died (SIGKILL, OOM): no code after it runs."""


#: Where a plan strikes.
STALL_BEFORE_SEND = "stall_before_send"  # run ``action`` before the body is read (DNS stall)
HELD_BY_SERVER = "held_by_server"  # body sent; ``action`` runs before Voucherify handles it
LATE_ANSWER = "late_answer"  # handled; ``action`` runs before the answer arrives
CRASH_BEFORE = "crash_before"  # the worker dies before sending
CRASH_AFTER = "crash_after"  # handled; the worker dies before reading the answer
HTML_BEFORE = "html_before"  # a proxy answers 200 text/html; never reached Voucherify
HTML_AFTER = "html_after"  # handled; the answer is replaced by a 200 HTML page
RAISE_BEFORE = "raise_before"  # an unexpected exception (not requests') before sending
RAISE_AFTER = "raise_after"  # an unexpected exception after Voucherify handled it

KINDS = (
    STALL_BEFORE_SEND,
    HELD_BY_SERVER,
    LATE_ANSWER,
    CRASH_BEFORE,
    CRASH_AFTER,
    HTML_BEFORE,
    HTML_AFTER,
    RAISE_BEFORE,
    RAISE_AFTER,
)


@dataclass
class Plan:
    kind: str
    method: str = "POST"
    path: str = "/v1/redemptions"
    action: Callable[[], None] | None = None
    fired: bool = field(default=False)


def _path(request: requests.PreparedRequest) -> str:
    return "/" + str(request.url).split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]


def _html(request: requests.PreparedRequest) -> requests.Response:
    out = requests.Response()
    out.status_code = 200
    page = b"<html><body>Service temporarily unavailable</body></html>"
    out.headers = CaseInsensitiveDict({"Content-Type": "text/html", "Content-Length": str(len(page))})
    out._content = page
    out._content_consumed = True  # type: ignore[attr-defined]
    out.encoding = "utf-8"
    out.url = request.url
    out.request = request
    return out


class Interceptor(BaseAdapter):
    """Wraps ``inner`` (the sandbox adapter); plans fire once, on the first matching request."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self.plans: list[Plan] = []

    def arm(
        self,
        kind: str,
        action: Callable[[], None] | None = None,
        *,
        method: str = "POST",
        path: str = "/v1/redemptions",
    ) -> Plan:
        plan = Plan(kind, method, path, action)
        self.plans.append(plan)
        return plan

    def _pick(self, request: requests.PreparedRequest) -> Plan | None:
        path = _path(request)
        for plan in self.plans:
            if not plan.fired and plan.method == request.method and fnmatch.fnmatchcase(path, plan.path):
                plan.fired = True
                self.plans.remove(plan)
                return plan
        return None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        plan = self._pick(request)
        if plan is None:
            return self.inner.send(request, **kwargs)
        act = plan.action or (lambda: None)
        kind = plan.kind
        if kind == STALL_BEFORE_SEND:
            act()
            return self.inner.send(request, **kwargs)
        if kind in (CRASH_BEFORE, RAISE_BEFORE, HTML_BEFORE):
            if kind == CRASH_BEFORE:
                raise WorkerCrash("killed before sending")
            if kind == RAISE_BEFORE:
                raise RuntimeError("unexpected failure before sending (a bug in a proxy library)")
            return _html(request)
        if kind == HELD_BY_SERVER:
            request.body = _read_body(request.body)  # the bytes left: the deadline is checked here
            act()
            return self.inner.send(request, **kwargs)
        response = self.inner.send(request, **kwargs)  # Voucherify handled it
        if kind == LATE_ANSWER:
            act()
            return response
        if kind == CRASH_AFTER:
            raise WorkerCrash("killed after sending")
        if kind == RAISE_AFTER:
            raise RuntimeError("unexpected failure after sending (a bug)")
        return _html(request)  # HTML_AFTER

    def close(self) -> None:
        self.inner.close()


class AnswerGets(Interceptor):
    """While ``body`` is not None, every GET whose path matches ``path`` (fnmatch) is answered
    ``body`` with a 200, without reaching Voucherify (a gateway's or a proxy's answer to a
    list); ``hits`` counts them. Set ``body`` to None to let Voucherify answer again."""

    path: str = ""
    body: Any = None
    hits: int = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path = _path(request)
        if self.body is not None and request.method == "GET" and fnmatch.fnmatchcase(path, self.path):
            self.hits += 1
            return json_answer(request, self.body)
        return super().send(request, **kwargs)


def answer_gets(sandbox: Any, path: str, body: Any) -> AnswerGets:
    """An :class:`AnswerGets` in front of the sandbox, answering GET ``path`` with ``body``."""
    interceptor = intercept(sandbox, AnswerGets)
    interceptor.path, interceptor.body = path, body
    return interceptor


_I = TypeVar("_I", bound=Interceptor)


def intercept(sandbox: Any, kind: type[_I] = Interceptor) -> _I:  # type: ignore[assignment]
    """Put an :class:`Interceptor` (or a ``kind`` of it) in front of the sandbox on the shared
    client's session."""
    from django_voucherify.checkout.cart import checkout_client

    # Built first: building a client runs the sandbox fixture's hook, which mounts a fresh
    # sandbox adapter on the (shared) session over this interceptor.
    session = checkout_client().transport.session
    inner = sandbox.mount(session)
    interceptor = kind(inner)
    for prefix, adapter in list(session.adapters.items()):
        if adapter is inner:
            session.mount(prefix, interceptor)
    return interceptor


class Clock:
    """One clock for Django (``timezone.now``: ledger timestamps, due times, leases, the send
    deadline) and the sandbox (redemption dates): :meth:`advance` lets time pass for both, as
    a stalled process experiences it."""

    def __init__(self, sandbox: Any) -> None:
        self.offset = timedelta(0)
        self._real = timezone.now
        self._sandbox = sandbox
        self._saved_clock = sandbox.state.clock

    def now(self) -> datetime:
        return self._real() + self.offset

    def install(self) -> Clock:
        timezone.now = self.now  # type: ignore[assignment]  # auto_now and the library read it
        self._sandbox.state.clock = self.now
        return self

    def uninstall(self) -> None:
        timezone.now = self._real  # type: ignore[assignment]
        self._sandbox.state.clock = self._saved_clock

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def json_answer(request: requests.PreparedRequest, body: Any, status: int = 200) -> requests.Response:
    """A made-up JSON answer to ``request`` (what a gateway or a proxy could send instead of
    Voucherify's own)."""
    out = requests.Response()
    out.status_code = status
    out.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    out._content = json.dumps(body).encode()
    out._content_consumed = True  # type: ignore[attr-defined]
    out.encoding = "utf-8"
    out.url = request.url
    out.request = request
    return out
