from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoVoucherifyConfig(AppConfig):
    name = "django_voucherify"
    label = "django_voucherify"
    verbose_name = _("Voucherify")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the settings-change hook.
        from . import checks, signals  # noqa: F401
