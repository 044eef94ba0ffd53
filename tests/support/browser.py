"""Debian's Chromium driven by Playwright, for the browser tests: where it is, how it is
started, and a clear failure (never a skip) when it or Playwright is missing."""

from __future__ import annotations

import os

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
