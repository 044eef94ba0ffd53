from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoVoucherifyConfig(AppConfig):
    name = "django_voucherify"
    label = "django_voucherify"
    verbose_name = _("Voucherify")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks, the settings-change hook, and the receivers of sync
        # (mirror saves -> outbox), checkout (order cancelled -> rollback) and jobs (files).
        from . import checks, receivers  # noqa: F401
        from .sync import receivers as sync_receivers  # noqa: F401
