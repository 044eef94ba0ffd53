"""One job per form: the admin's upload and export forms carry a one-time token, and a second
POST of the same token (a double click, a resent form) starts nothing.

The token is claimed with ``cache.add``, which is atomic in Django's cache backends (locmem
within one process; Redis, Memcached and the database cache across processes): two requests at
the same moment cannot both claim it. With a per-process cache (locmem) behind several web
processes a double click may reach two processes; the form's script (``submit_once.js``)
disables the button on the first click as well. A POST without a token (a script, a test) is
not protected.

With that cache unreachable (Redis down) the guard fails closed: :func:`claim` raises
:class:`SubmitGuardUnavailable` and the view starts nothing and says so
(:data:`UNAVAILABLE_MESSAGE`), rather than a 500 page, or a job started unguarded (a double
click would start two).
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from ..errors import DjangoVoucherifyError

logger = logging.getLogger(__name__)

FIELD = "submission"
#: How long a used token is remembered: longer than anyone keeps a form open and resends it.
REMEMBER_SECONDS = 24 * 3600

#: What every guarded form says when its token could not be claimed (one wording for them all).
UNAVAILABLE_MESSAGE = gettext_lazy(
    "The cache that guards this form against a double submit cannot be reached now, so nothing "
    "was started. Please send the form again in a moment."
)

#: What every guarded form says when its token was already used. Not "it started its job": a
#: double click's first send may still be starting it, and a send whose job failed to start
#: while the cache was down keeps its token used (:func:`released_on_error`) without a job; that
#: form, drawn anew, gets a new token and goes through.
ALREADY_SENT_MESSAGE = gettext_lazy(
    "This form was already sent, so nothing else was started. If that send started no job (it "
    "failed), open the form again to send it anew."
)


class SubmitGuardUnavailable(DjangoVoucherifyError):
    """The cache that remembers used tokens (``CACHES["default"]``) cannot be reached, so a second
    submit of this form could not be ruled out: nothing may be started."""

    def __init__(self) -> None:
        super().__init__("form not started: the cache guarding against a double submit is down")


def token_field() -> forms.CharField:
    """A hidden field holding a new token each time the form is drawn (the same one again when
    a refused form is drawn with its posted data)."""
    return forms.CharField(
        widget=forms.HiddenInput, required=False, max_length=64, initial=lambda: secrets.token_urlsafe(24)
    )


def _key(token: str) -> str:
    return f"django_voucherify:submitted-form:{token}"


def claim(token: str) -> bool:
    """True the first time ``token`` is claimed (or when there is none), False after; raises
    :class:`SubmitGuardUnavailable` when the cache cannot be reached."""
    if not token:
        return True
    try:
        return bool(cache.add(_key(token), True, REMEMBER_SECONDS))
    except Exception as exc:  # any backend's "down" (redis, memcached, database): fail closed
        # The class only: a backend's message may name its server (and, in a URL, its password).
        logger.warning(
            "Admin form not started: the cache guarding against a double submit "
            '(CACHES["default"]) cannot be reached (%s)',
            type(exc).__name__,
        )
        raise SubmitGuardUnavailable from exc


@contextmanager
def released_on_error(token: str) -> Iterator[None]:
    """Give the claimed ``token`` back when starting the job fails (no job was made): sending
    the form again must start it, not say "already sent"."""
    try:
        yield
    except BaseException:
        if token:
            try:
                cache.delete(_key(token))
            except Exception as cache_error:  # the job's own error is the one to report, not this
                logger.warning(
                    "Admin form's job failed to start and its one-time token could not be given "
                    "back (the cache cannot be reached: %s); a resend of that form is refused as "
                    "already sent, the form drawn anew goes through",
                    type(cache_error).__name__,
                )
        raise


class Claim(enum.Enum):
    """What a guarded view does with a posted form (:func:`claim_for`)."""

    FIRST = "first"  # start its job
    AGAIN = "again"  # already sent: start nothing, say so (ALREADY_SENT_MESSAGE)
    UNGUARDED = "unguarded"  # the cache is down: start nothing, show the form again (said)


def claim_for(model_admin: Any, request: HttpRequest, token: str) -> Claim:
    """:func:`claim` for a view of ``model_admin``; when the guard's cache is down the view is
    told so (:data:`UNAVAILABLE_MESSAGE` shown to the user) instead of an exception."""
    try:
        first = claim(token)
    except SubmitGuardUnavailable:
        model_admin.message_user(request, UNAVAILABLE_MESSAGE, messages.ERROR)
        return Claim.UNGUARDED
    return Claim.FIRST if first else Claim.AGAIN
