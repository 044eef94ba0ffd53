"""A worker's settings where the admin is not autodiscovered (``SimpleAdminConfig``)."""

from tests.sync.worker_settings import *  # noqa: F403
from tests.sync.worker_settings import INSTALLED_APPS as AUTODISCOVERED

INSTALLED_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig" if app == "django.contrib.admin" else app
    for app in AUTODISCOVERED
]
