"""Debian's Chromium driven by Playwright, for the browser tests: where it is, how it is
started, and a clear failure (never a skip) when it or Playwright is missing."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> object:
    """Playwright's sync API, once Debian's Chromium is known to be there (else a clear failure)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does it)", pytrace=False)
    try:
        from playwright import sync_api
    except ImportError as exc:
        pytest.fail(f"Playwright is missing ({exc}): pip install -e '.[dev]'", pytrace=False)
    return sync_api


def sign_in_staff(page: Any, site: str, before_signing_in: Callable[[], None] | None = None) -> None:
    """Sign in to ``site``'s admin as the demo's ``admin``/``admin`` and wait for the admin's
    header; ``before_signing_in`` runs on the login page (a screenshot of it)."""
    page.goto(site + "/admin/login/")
    if before_signing_in is not None:
        before_signing_in()
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
