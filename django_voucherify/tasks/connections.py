"""Database connections of Celery workers: kept across tasks, replaced when unusable or too old.

Celery's Django fix-up closes every database connection before and after each task unless the
Celery setting ``CELERY_DB_REUSE_MAX`` is set (``CONN_MAX_AGE`` alone does not stop it): a worker
then opens a new PostgreSQL connection per task, most of the cost of a sync delivery. With
``CELERY_DB_REUSE_MAX`` set (docs/production.md), the fix-up closes them only every that many
tasks, and these handlers do around each of the app's tasks what Django does around each
request: ``close_old_connections()``, which honours ``CONN_MAX_AGE`` and ``CONN_HEALTH_CHECKS``
(a connection broken by a database restart or past its age is replaced, a healthy one kept).

Eager runs (tests, the demo) are left alone: they run inside the caller's request and maybe its
transaction, whose connection must not be touched.
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections


def close_unusable_or_obsolete(sender: Any = None, **kwargs: Any) -> None:
    """``task_prerun``/``task_postrun`` handler for the app's own tasks (``django_voucherify.*``)."""
    if not str(getattr(sender, "name", "")).startswith("django_voucherify."):
        return
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


task_prerun.connect(close_unusable_or_obsolete, weak=False, dispatch_uid="django_voucherify.db.prerun")
task_postrun.connect(close_unusable_or_obsolete, weak=False, dispatch_uid="django_voucherify.db.postrun")
