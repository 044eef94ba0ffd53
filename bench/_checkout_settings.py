"""tests.settings plus DRF's token authentication (``rest_framework.authtoken``: its table), for
``checkout_round_trips.py``'s shopper signed in with a token instead of a session; the URLs add
the bench's floor view. Database connections persist across requests (``CONN_MAX_AGE``), as a
production deployment keeps them (or pools them): with Django's default 0, the WSGI handler
would close the connection after every request and the next one would pay a new PostgreSQL
connection (Django's test client skips that close, so the two drivers would not compare)."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]  # noqa: F405
ROOT_URLCONF = "_checkout_urls"
DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
