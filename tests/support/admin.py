"""Builders of the admin tests: staff users holding exactly the permissions a test names, a
default cache that does not answer, the messages a page shows after a redirect, and an admin
action posted as the changelist's form sends it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Permission, User


def login_staff(client: Any, *codenames: str) -> User:
    """A new staff user with exactly these ``django_voucherify`` permissions, logged in on
    ``client``. Every codename must exist: a typo fails the test instead of testing nothing."""
    user = User.objects.create_user(f"clerk{User.objects.count()}", password="pw", is_staff=True)
    perms = Permission.objects.filter(content_type__app_label="django_voucherify", codename__in=codenames)
    assert perms.count() == len(codenames), codenames
    user.user_permissions.add(*perms)
    client.force_login(user)
    return user


#: ``CACHES`` whose default cache does not answer: a Redis on a closed port, so the real backend
#: raises its own connection error (``redis.ConnectionError``), within milliseconds.
UNREACHABLE_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


def messages_after(http: Any, resp: Any) -> list[str]:
    """The messages the page ``resp`` redirects to shows (``http`` follows the redirect)."""
    return [str(m) for m in http.get(resp.url).context["messages"]]


def post_action(
    http: Any, url: str, action: str | None, objects: Iterable[Any], *, follow: bool = False, **fields: Any
) -> Any:
    """POST the admin action ``action`` on ``objects`` (instances or primary keys) to ``url``, as
    the changelist's form sends it; ``action=None`` for a page of its own that the URL names
    (a tier's disable page). ``fields`` adds the rest of the form: ``post="yes"`` (confirmed),
    ``select_across="1"``, ``confirmed_count="2"``..."""
    data: dict[str, Any] = {"_selected_action": [getattr(o, "pk", o) for o in objects], **fields}
    if action is not None:
        data["action"] = action
    return http.post(url, data, follow=follow)
