"""The Celery app of the sync tests; ``celery -A tests.sync.celery_app worker`` in slow tests."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.sync.worker_settings")

app = Celery("tests_sync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["django_voucherify"], related_name="tasks")
