"""tests.settings plus DRF's token authentication (``rest_framework.authtoken``: its table), for
``checkout_round_trips.py``'s shopper signed in with a token instead of a session."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken"]  # noqa: F405
