"""Signal receivers that keep the shared client in step with settings."""

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver


@receiver(setting_changed)
def _reset_client_on_settings_change(setting: str, **kwargs: Any) -> None:
    # override_settings(VOUCHERIFY=...) in tests must not keep talking to the old URL.
    if setting == "VOUCHERIFY":
        from . import reset_client

        reset_client()
