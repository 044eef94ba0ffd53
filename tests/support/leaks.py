"""The app token leak detector of the secrets tests: a distinctive ``TOKEN``, and whether an
exception that reached the caller shows it anywhere: the frame locals of its whole
``__cause__``/``__context__`` chain (searched the way locals-capturing tools serialise them, and
deeper), its reprs, Django's technical 500 page, error report and admin mail.

``TOKEN`` stays far (more than the 7 lines of context Django's 500 page shows) from the
:func:`capture` frame, where a captured traceback starts: the page shows that frame's source.
"""

from __future__ import annotations

import collections
import logging
import pprint
import types
from collections.abc import Callable, Iterator
from typing import Any

import django
from django.core import mail
from django.test import RequestFactory, override_settings
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter, technical_500_response

from django_voucherify.api import VoucherifyError

#: Distinctive: letters, digits and hyphens only, so HTML escaping cannot hide it.
TOKEN = "tok-Zq81-LEAKCANARY-5e0c7b2a9d"
SENTINEL = object()


_OPAQUE = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    int,
    float,
    complex,
    bool,
    type(None),
)


def find_token(root: Any, *, depth: int = 8, budget: int = 50_000) -> str | None:
    """The access path to a str/bytes holding the token reachable from ``root``, or None.

    Walks containers (keys and values) and object attributes (``__dict__`` and slots), as deep
    as a serialiser or a curious reader would go. Modules, classes and functions are not
    entered: they reach the whole program (this module's TOKEN constant included).
    """
    needle, bneedle = TOKEN, TOKEN.encode()
    stack: list[tuple[Any, int, str]] = [(root, 0, "")]
    seen: set[int] = set()
    while stack and budget:
        obj, level, path = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        budget -= 1
        if isinstance(obj, str):
            if needle in obj:
                return path or "<root>"
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            if bneedle in bytes(obj):
                return path or "<root>"
            continue
        if level >= depth or isinstance(obj, _OPAQUE):
            continue
        children: list[tuple[Any, str]] = []
        if isinstance(obj, dict | collections.abc.Mapping):
            try:
                children = [(k, f"{path}.key({k!r})") for k in obj]
                children += [(v, f"{path}[{k!r}]") for k, v in obj.items()]
            except Exception:
                children = []
        elif isinstance(obj, list | tuple | set | frozenset | collections.deque):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, BaseException):
            children += [(obj.__cause__, f"{path}.__cause__"), (obj.__context__, f"{path}.__context__")]
        attrs = getattr(obj, "__dict__", None)
        if isinstance(attrs, dict):
            children += [(v, f"{path}.{k}") for k, v in attrs.items()]
        for klass in type(obj).__mro__:
            slots = getattr(klass, "__slots__", ())
            for slot in slots if isinstance(slots, tuple | list) else ():
                value = getattr(obj, slot, SENTINEL)
                if value is not SENTINEL:
                    children.append((value, f"{path}.{slot}"))
        stack.extend((child, level + 1, child_path) for child, child_path in children)
    return None


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        yield from chain(exc.__cause__) if exc.__cause__ is not None and id(exc.__cause__) not in seen else ()
        exc = exc.__context__


def frame_leaks(exc: BaseException) -> list[str]:
    """Every frame local (of every exception in the chain) through which the token is reachable."""
    found = []
    for link in chain(exc):
        tb = link.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            for name, value in tb.tb_frame.f_locals.items():
                where = (
                    f"{type(link).__name__} frame {code.co_name} "
                    f"({code.co_filename}:{tb.tb_lineno}) local {name!r}"
                )
                if TOKEN in pprint.pformat(value) or TOKEN in repr(value):
                    found.append(f"{where}: shown by its repr")
                elif (path := find_token(value)) is not None:
                    found.append(f"{where}: reachable as {name}{path}")
            tb = tb.tb_next
    return found


def rendered_reports(exc: BaseException) -> dict[str, str]:
    """The exception as Django shows it: 500 page (DEBUG on), report and admin mail (DEBUG off)."""
    request = RequestFactory().post("/checkout/", {"code": "SPRING20"})
    exc_info = (type(exc), exc, exc.__traceback__)
    out: dict[str, str] = {}
    for debug in (True, False):
        with override_settings(
            DEBUG=debug,
            # Django 6 takes addresses; 5.2 requires (name, address) pairs.
            ADMINS=["ops@example.com"] if django.VERSION >= (6,) else [("Ops", "ops@example.com")],
            MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}},
        ):
            reporter = ExceptionReporter(request, *exc_info)
            out[f"html debug={debug}"] = reporter.get_traceback_html()
            out[f"text debug={debug}"] = reporter.get_traceback_text()
            if debug:
                out["technical_500_response"] = technical_500_response(request, *exc_info).content.decode()
            mail.outbox = []
            record = logging.LogRecord(
                "django.request",
                logging.ERROR,
                __file__,
                1,
                "Internal Server Error: %s",
                ("/checkout/",),
                exc_info,
            )
            record.request = request
            record.status_code = 500
            AdminEmailHandler(include_html=True).emit(record)
            (message,) = mail.outbox
            out[f"mail body debug={debug}"] = str(message.body)
            out[f"mail html debug={debug}"] = str(message.alternatives[0][0])  # type: ignore[union-attr]
    return out


def assert_no_leak(exc: BaseException) -> None:
    assert isinstance(exc, VoucherifyError), f"{type(exc).__name__} escaped the client's errors"
    leaks = frame_leaks(exc)
    assert not leaks, "the token is in frame locals:\n" + "\n".join(leaks)
    for name, text in rendered_reports(exc).items():
        assert TOKEN not in text, f"the token is in Django's {name}"
    for link in chain(exc):
        for text in (str(link), repr(link), pprint.pformat(vars(link)), str(link.args)):
            assert TOKEN not in text
        assert find_token(vars(link)) is None


def capture(call: Callable[[], Any]) -> BaseException:
    """Run ``call``; return what it raised (its traceback starts in this frame)."""
    try:
        call()
    except BaseException as exc:  # anything escaping counts
        return exc
    raise AssertionError("the call did not fail")
