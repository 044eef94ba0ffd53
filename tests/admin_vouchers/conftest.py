"""Fixtures of the voucher admin tests: the in-process sandbox with a call log, eager Celery, the
shared client on it; for the browser tests, the example shop under ``runserver`` and Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import require_browser
from tests.support.raw_http import free_port
from tests.support.sandbox import options, wired
from tests.support.vouchers import make_voucher


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """Sandbox with ``calls``; client retries off so every injected fault is seen by our code."""
    with wired(voucherify_sandbox, MAX_RETRIES=0, VOUCHER_RATE_LIMIT_WAIT=0.05) as sandbox:
        yield sandbox


@pytest.fixture
def api(sandbox: Any) -> Any:
    """The shared client, on the sandbox."""
    import django_voucherify

    return django_voucherify.get_client()


@pytest.fixture
def voucherify_settings(sandbox: Any) -> Callable[..., AbstractContextManager[None]]:
    """``with voucherify_settings(KEY=value):`` overrides VOUCHERIFY keys, sandbox still mounted."""
    return partial(options, sandbox)


@pytest.fixture
def mirrored(sandbox: Any) -> Any:
    """``mirrored("A", "B", kind=...)`` creates vouchers in the sandbox and their mirrors."""
    from django_voucherify.vouchers.refresh import store

    def create(*codes: str, kind: str = "amount", **extra: Any) -> list[Any]:
        return [store(make_voucher(code, kind, **extra)) for code in codes]

    return create


ROOT = Path(__file__).resolve().parents[2]


def _wait_for(port: int, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"runserver exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("runserver did not start listening")


@pytest.fixture
def example_shop(voucherify_sandbox_server, tmp_path) -> Iterator[str]:
    """The example project's admin on the sandbox; yields its base URL (admin / admin)."""
    sandbox = voucherify_sandbox_server.sandbox
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        "VOUCHERIFY_API_URL": voucherify_sandbox_server.url,
        "VOUCHERIFY_APP_ID": sandbox.app_id,
        "VOUCHERIFY_SECRET_KEY": sandbox.app_token,
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SUPERUSER_PASSWORD": "admin",
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run(
        [*manage, "createsuperuser", "--noinput", "--username", "admin", "--email", ""],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = open(tmp_path / "runserver.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def browser_tools() -> object:
    """Playwright's sync API (a clear failure when it or Debian's Chromium is missing)."""
    return require_browser()
