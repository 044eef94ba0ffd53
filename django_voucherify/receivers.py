"""Core signal receivers: the shared client follows settings; a cancelled order is rolled back;
a deleted bulk job takes its files (customer data) with it.

Receivers live in modules named ``receivers`` (this one, ``sync/receivers.py``); custom
``Signal`` objects in modules named ``signals`` (``jobs/signals.py``)."""

from typing import Any

from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver


@receiver(setting_changed)
def _reset_client_on_settings_change(setting: str, **kwargs: Any) -> None:
    # override_settings(VOUCHERIFY=...) in tests must not keep talking to the old URL.
    if setting == "VOUCHERIFY":
        from . import reset_client

        reset_client()


def _roll_back_canceled_order(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Cancelling the ``Order`` mirror rolls back its checkout redemptions (same transaction;
    Celery sends the rollback after commit). Refunds that do not cancel the order call
    :func:`django_voucherify.checkout.rollback_order`. The checkout package is imported only
    when an order is actually cancelled: start-up stays free of the client and Celery."""
    from .models.orders import OrderStatus

    if raw or instance.status != OrderStatus.CANCELED:
        return
    from .checkout.rollback import roll_back_canceled_order

    roll_back_canceled_order(instance.source_id)


post_save.connect(
    _roll_back_canceled_order,
    sender="django_voucherify.Order",
    dispatch_uid="django_voucherify.checkout.order_canceled",
)


def _delete_job_files(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A bulk job or part deleted by any means (the admin, a cascade, shop code) takes its
    upload, split part and export files with it, once the deletion commits."""
    from .jobs.uploads import delete_files_of

    delete_files_of(instance)


post_delete.connect(
    _delete_job_files, sender="django_voucherify.Job", dispatch_uid="django_voucherify.job_files"
)
post_delete.connect(
    _delete_job_files, sender="django_voucherify.JobPart", dispatch_uid="django_voucherify.jobpart_files"
)
