"""pytest fixtures for testing a shop against the sandbox (auto-registered via ``pytest11``).

- ``voucherify_sandbox``: a fresh in-process :class:`Sandbox`. While the test runs,
  ``settings.VOUCHERIFY`` carries the sandbox's keys and the shared ``django_voucherify.client``
  sends every request to it through a :class:`SandboxAdapter` (no sockets). Needs no database.
  Use ``voucherify_sandbox.mount(session)`` to point any other ``requests.Session`` at it.
- ``voucherify_sandbox_server``: a fresh sandbox served over HTTP on a free loopback port;
  yields a :class:`~django_voucherify.sandbox.server.RunningServer` (``.url``, ``.sandbox``,
  ``.stop()``). It does not touch settings: build a client with ``api_url=server.url``.
- ``voucherify_sandbox_webhooks``: a factory making a sandbox send signed webhooks to URLs
  (with optional delivery faults); see :mod:`django_voucherify.sandbox.webhooks`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from django_voucherify.sandbox.app import Sandbox


def _django_configured() -> bool:
    """True when Django settings exist (configured, or named by DJANGO_SETTINGS_MODULE)."""
    try:
        from django.conf import settings

        if settings.configured:
            return True
        if os.environ.get("DJANGO_SETTINGS_MODULE"):
            settings.INSTALLED_APPS  # noqa: B018 - forces the lazy settings to load
            return True
        return False
    except Exception:  # Django missing or broken settings: the fixture still works standalone
        return False


@pytest.fixture
def voucherify_sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox wired into the shared client; see the module docstring."""
    sandbox = Sandbox()
    if not _django_configured():
        yield sandbox
        return
    from django.conf import settings
    from django.test import override_settings

    import django_voucherify

    conf: dict[str, Any] = dict(getattr(settings, "VOUCHERIFY", None) or {})
    conf.update(
        APP_ID=sandbox.app_id,
        SECRET_KEY=sandbox.app_token,
        API_URL=sandbox.base_url,
        DOWNLOAD_URL=None,
    )
    from django_voucherify.api.client import add_client_hook, remove_client_hook

    def mount_on(client: Any) -> None:
        sandbox.mount(client.transport.session)

    # Every client built during the test (the shared one, rebuilt by a nested
    # override_settings, or an explicit VoucherifyClient) talks to the sandbox, never to
    # Voucherify's real hosts.
    add_client_hook(mount_on)
    with override_settings(VOUCHERIFY=conf):
        django_voucherify.reset_client()
        try:
            yield sandbox
        finally:
            remove_client_hook(mount_on)
            django_voucherify.reset_client()


@pytest.fixture
def voucherify_sandbox_server() -> Iterator[Any]:
    """A fresh sandbox served on ``http://127.0.0.1:<free port>``; stopped after the test."""
    from django_voucherify.sandbox.server import start_in_thread

    server = start_in_thread(Sandbox())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def voucherify_sandbox_webhooks() -> Iterator[Any]:
    """Make a sandbox send webhooks: ``sender = voucherify_sandbox_webhooks(sandbox, [url],
    secret, duplicate=0.2, delay=0.5, fail=0.1, seed=1)``; ``sender.flush()`` waits until every
    event was delivered. Senders are closed after the test."""
    from django_voucherify.sandbox.webhooks import DeliveryFaults, WebhookSender

    senders: list[WebhookSender] = []

    def make(sandbox: Sandbox, urls: list[str], secret: str, **faults: Any) -> WebhookSender:
        sender = WebhookSender(urls, secret, faults=DeliveryFaults(**faults)).attach(sandbox)
        senders.append(sender)
        return sender

    try:
        yield make
    finally:
        for sender in senders:
            sender.close()
