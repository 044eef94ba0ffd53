"""Keeping the app token out of everything an error leaves behind.

Three layers (docs/client.md, "Secrets"):

1. the token is a :class:`~django_voucherify.secret.Secret` in every object and frame that holds
   it (masked ``str``/``repr``, XOR-masked value, materialised by ``http.client`` alone);
2. the transport raises its errors outside ``except`` blocks, so no chain leads to the frames of
   requests, urllib3 and http.client; what it does not map is re-raised with the locals of
   those frames cleared (:func:`clear_frames_below`);
3. text that came back from the other side (error bodies, a proxy's page) is searched for the
   token before it goes into an exception or a log line (:func:`redact`), as some gateways
   quote the request's headers in their error pages.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any

import requests
from requests.auth import AuthBase

from ..secret import MASK, Secret


class TokenAuth(AuthBase):
    """Adds ``X-App-Token`` to a request prepared by ``Session.request`` (``TRUST_ENV``)."""

    def __init__(self, token: Secret) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-App-Token"] = self.token  # type: ignore[assignment]  # encoded by http.client
        return request


def redact(value: Any, secret: Secret) -> Any:
    """``value`` (str, or dicts and lists of them) with every occurrence of ``secret`` masked.

    Iterative and in this one frame: a body nested deeper than the recursion limit (a 4xx from
    a hostile gateway) cannot raise ``RecursionError`` here, and whatever is raised (a
    ``MemoryError``, an interrupt), no frame left behind holds the token: it is held in
    ``box`` only, which is emptied before this frame is left.
    """
    if not secret:
        return value
    box = [secret.reveal()]

    def masked(text: str) -> str:
        return text.replace(box[0], MASK) if box[0] in text else text

    try:
        root: list[Any] = [None]
        stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (source, target, slot)
        while stack:
            source, target, slot = stack.pop()
            if isinstance(source, str):
                target[slot] = masked(source)
            elif isinstance(source, dict):
                copy: dict[Any, Any] = {}
                target[slot] = copy
                for key, item in source.items():
                    new_key = masked(key) if isinstance(key, str) else key
                    copy[new_key] = None
                    stack.append((item, copy, new_key))
            elif isinstance(source, list):
                items: list[Any] = [None] * len(source)
                target[slot] = items
                stack.extend((item, items, index) for index, item in enumerate(source))
            else:
                target[slot] = source
        return root[0]
    finally:
        box.clear()


def snippet(content: bytes, secret: Secret, limit: int = 200) -> str:
    """The start of a body as printable text, token masked (even one cut at ``limit``)."""
    # Masked over a window well past the cut, so a token straddling it is masked whole.
    text = redact(content[: limit * 4 + 1024].decode("utf-8", "replace"), secret)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:limit] + ("..." if len(content) > limit else "")


def clear_frames_below(exc: BaseException, boundary: types.FrameType) -> None:
    """Clear the locals of the frames ``exc`` went through under ``boundary``, and of those of
    the exceptions chained to it that were raised there too (not the caller's own context)."""
    frames: list[types.FrameType] = []
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame is not boundary:
        tb = tb.tb_next
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    below = {id(f) for f in frames}
    pending = [exc.__cause__, exc.__context__]
    seen: set[int] = set()
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        tb = link.__traceback__
        if tb is None or id(tb.tb_frame) not in below:
            continue  # raised elsewhere (the caller was handling it): not ours to clear
        while tb is not None:
            frames.append(tb.tb_frame)
            below.add(id(tb.tb_frame))
            tb = tb.tb_next
        pending += [link.__cause__, link.__context__]
    for frame in frames:
        with contextlib.suppress(RuntimeError):  # a frame still running cannot be cleared
            frame.clear()
