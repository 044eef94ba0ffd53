"""Settings for the test suite: PostgreSQL (DATABASE_URL), the sandbox's URL and fake keys."""

import os
import uuid

import environ
from django.conf import global_settings

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
# live_server serves static files under it (unset, its handler fails every request).
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_voucherify",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# One id per test run, set in the controlling process before pytest-xdist starts its workers (they
# inherit it): every run gets its own test databases (``test_dv_<run>``, ``_gw0``... per worker),
# so two runs on one PostgreSQL server never destroy each other's.
TEST_RUN_ID = os.environ.setdefault("VOUCHERIFY_TEST_RUN_ID", uuid.uuid4().hex[:10])
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"postgres://{os.environ.get('PGUSER', 'postgres')}@127.0.0.1:5432/test"
    )
}
DATABASES["default"]["TEST"] = {"NAME": f"test_dv_{TEST_RUN_ID}"}
# Django's "Speeding up the tests": a user made by a fixture (admin_client, create_user) is hashed
# with MD5 instead of PBKDF2's 1,200,000 rounds (0.5-0.8 s of CPU each, which hundreds of admin and
# REST tests paid). Django's own hashers stay listed after it, so their hashes still verify. The
# app never hashes passwords; production keeps the project's hashers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")

VOUCHERIFY = {
    "APP_ID": "test-app-id",
    "SECRET_KEY": "test-secret-key",
    "API_URL": "https://api.voucherify.io",
    "MAX_RETRIES": 3,
}
