from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoVoucherifyConfig(AppConfig):
    name = "django_voucherify"
    label = "django_voucherify"
    verbose_name = _("Voucherify")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks, the settings-change hook, and the receivers of sync
        # (mirror saves -> outbox) and checkout (order cancelled -> rollback).
        from . import checks, signals  # noqa: F401
        from .sync import signals as sync_signals  # noqa: F401
