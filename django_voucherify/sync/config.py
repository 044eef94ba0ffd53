"""Cheap reads of the sync options of ``settings.VOUCHERIFY`` (no credential validation).

Signals run on every save, so they read the merged dict rather than building the validated
:class:`~django_voucherify.conf.VoucherifySettings` (which requires the keys to be set).
"""

from __future__ import annotations

from typing import Any

from ..conf import raw_settings


def option(name: str) -> Any:
    """``settings.VOUCHERIFY[name]`` or its default from :data:`~django_voucherify.conf.DEFAULTS`."""
    return raw_settings()[name]


def sync_enabled() -> bool:
    return bool(option("SYNC_ENABLED"))
