"""The demo shop's Celery app: `celery -A example_project worker` with a real broker."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
app = Celery("example_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
def _app_records_once(**kwargs: Any) -> None:
    """A worker gives the root logger Celery's handler (its format: time, level, process).
    The app's records reach it by propagation; the console handler settings.LOGGING gives the
    app's logger (for runserver, where the root has none) would print each one a second time."""
    logging.getLogger("django_voucherify").handlers.clear()
