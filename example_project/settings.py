"""Settings of the demo shop. Every value can come from the environment (django-environ);
the defaults run with no server at all: SQLite, the local sandbox, and kombu's filesystem
broker (folders under ``example_project/var/``) served by a real Celery worker and beat."""

from pathlib import Path

import environ

from example_project import broker

BASE_DIR = Path(__file__).resolve().parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env") if (BASE_DIR / ".env").exists() else None

SECRET_KEY = env("DJANGO_SECRET_KEY", default="demo-shop-not-secret")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_voucherify",
    "example_project.shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "example_project.wsgi.application"
# The demo's data folder (broker, media, beat's schedule; ./scripts/demo locks it). Moved with
# DEMO_VAR_DIR, it also takes the default database and sandbox data with it, so that a second
# demo (or a demo_reset) on another folder never shares, or deletes, the running one's files.
VAR_DIR = Path(env("DEMO_VAR_DIR", default=str(BASE_DIR / "var")))
DATA_DIR = VAR_DIR if env("DEMO_VAR_DIR", default="") else BASE_DIR
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Two tabs submitting one checkout write at once. SQLite's default (deferred) transactions
    # read first and then fail to upgrade to a write lock ("database is locked", a 500);
    # IMMEDIATE ones take the write lock when they begin, so the second waits its turn (up to
    # `timeout` seconds) and then finds the first one's order.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="en-us")
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"voucherify_validate": "20/min", "voucherify_redeem": "10/min"},
}
# Shoppers sign in on the shop's own pages; staff use the admin's.
LOGIN_URL = "shop:login"
LOGIN_REDIRECT_URL = "shop:products"
LOGOUT_REDIRECT_URL = "shop:products"

# The shop's currency (ISO 4217); amounts are shown in it, formatted for the active language
# (LANGUAGE_CODE; Django's localization gives the separators). Prices are kept in minor units.
SHOP_CURRENCY = env("SHOP_CURRENCY", default="EUR")

# Celery: a real worker and beat (./scripts/demo starts both) on kombu's filesystem transport,
# a broker that needs no server: messages are files under VAR_DIR/broker. Set CELERY_BROKER_URL
# to redis://... or amqp://... for a server broker. `memory://` (the tests) runs tasks inline.
# Job uploads and exports (files the worker reads and writes).
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
# The sandbox's data file (./scripts/demo passes it; manage.py demo_reset deletes it).
DEMO_SANDBOX_DATA = Path(env("DEMO_SANDBOX_DATA", default=str(DATA_DIR / "demo.sandbox.json")))
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Kombu's filesystem transport, whose folders come back when deleted (example_project/broker.py).
    CELERY_BROKER_TRANSPORT = broker.TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = broker.transport_options(VAR_DIR / "broker")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Periodic tasks for `celery -A example_project beat` (docs/production.md explains each).
CELERY_BEAT_SCHEDULE = {
    "voucherify-refresh-vouchers": {"task": "django_voucherify.refresh_vouchers", "schedule": 3600.0},
    # Every feature's due work (outbox re-drive, checkout chains, bulk jobs, expired uploads).
    "voucherify-sweep": {"task": "django_voucherify.sweep", "schedule": 60.0},
    # The shop's own: orders a fault left NEW past SHOP_PLACEMENT_GRACE (shop/settle.py).
    "shop-settle-stranded-orders": {"task": "shop.settle_stranded_orders", "schedule": 60.0},
}
# How long placing an order may take (s): a NEW order older than this was stranded by a fault;
# the sweep above settles it and its confirmation page stops reloading.
SHOP_PLACEMENT_GRACE = env.int("SHOP_PLACEMENT_GRACE", default=300)
# The campaign whose codes new shoppers get at sign-up (one each, join_once: the sandbox's seed
# "Welcome"); empty for none (shop/welcome.py).
SHOP_WELCOME_CAMPAIGN = env("SHOP_WELCOME_CAMPAIGN", default="Welcome")

# The two keys a shop sets. The defaults are the local sandbox's (scripts/demo starts it).
VOUCHERIFY = {
    "APP_ID": env("VOUCHERIFY_APP_ID", default="sandbox-app-id"),
    "SECRET_KEY": env("VOUCHERIFY_SECRET_KEY", default="sandbox-secret-key"),
    "API_URL": env("VOUCHERIFY_API_URL", default="http://127.0.0.1:8100"),
    # The demo's sandbox signs its webhooks with this (a local default, like the keys above).
    "WEBHOOK_SECRETS": [env("VOUCHERIFY_WEBHOOK_SECRET", default="sandbox-webhook-secret")],
    # The admin shows amounts (the overview's chart, voucher values) in the shop's currency.
    "CURRENCY": SHOP_CURRENCY,
    # SELF_SERVICE_CAMPAIGNS is left empty: the welcome code is given by the worker
    # (checkout.publish, not limited), never asked for by shoppers through POST
    # api/vouchers/publications/, which therefore gives shoppers no code of any campaign.
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_voucherify": {
            "handlers": ["console"],
            "level": env("VOUCHERIFY_LOG_LEVEL", default="INFO"),
        }
    },
}
