import sys
from importlib import import_module

from django.apps import AppConfig, apps
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

        # The admin's selection task must be registered in workers even where the admin is not
        # autodiscovered (SimpleAdminConfig: admin modules are imported from urls.py, which a
        # worker never loads), or its messages would be refused as unknown. A worker imported
        # Celery before Django's setup; a web process that has not needs nothing registered.
        if "celery" in sys.modules and apps.is_installed("django.contrib.admin"):
            import_module("django_voucherify.admin.voucher_tasks")
