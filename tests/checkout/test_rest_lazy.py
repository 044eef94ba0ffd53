"""The checkout URLs' lazy callbacks behave as the views they stand for (tests/test_startup.py
checks that they keep DRF's views out of start-up)."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.urls import URLPattern
from rest_framework.test import APIClient
from rest_framework.views import APIView

from django_voucherify.rest import urls
from django_voucherify.rest.lazy import LazyView
from tests.support.checkout import VALIDATE


def pattern(name: str) -> URLPattern:
    found = [p for p in urls.urlpatterns if p.name == name]
    assert len(found) == 1
    return found[0]


def test_every_checkout_url_routes_to_a_lazy_view() -> None:
    assert all(isinstance(p.callback, LazyView) for p in urls.urlpatterns)


@pytest.mark.parametrize(
    ("name", "lookup"),
    [
        ("validate", "django_voucherify.rest.views.ValidateView"),
        ("redeem", "django_voucherify.rest.views.RedeemView"),
        ("rollback", "django_voucherify.rest.views.RollbackView"),
        ("not_found", "django_voucherify.rest.errors.not_found"),
    ],
)
def test_reverse_sees_the_same_lookup_string_as_the_real_view(name: str, lookup: str) -> None:
    """``reverse()`` indexes patterns by ``lookup_str``: unloaded, the proxy gives the real view's."""
    fresh = pattern(name).callback
    lazy = LazyView(fresh.__module__, fresh.__name__)
    assert URLPattern(pattern(name).pattern, lazy).lookup_str == lookup
    assert not lazy.loaded
    real = URLPattern(pattern(name).pattern, lazy.load())
    assert real.lookup_str == lookup


def test_the_loaded_view_keeps_what_django_and_drf_read_from_it() -> None:
    lazy = LazyView("django_voucherify.rest.views", "RedeemView")
    assert "not loaded" in repr(lazy) and not lazy.loaded
    assert lazy.csrf_exempt is True  # Django's CSRF middleware leaves the check to DRF
    assert issubclass(lazy.cls, APIView) and lazy.view_class is lazy.cls  # schema generators
    assert lazy.loaded and lazy.load() is lazy.load()
    with pytest.raises(AttributeError):
        lazy.no_such_attribute


def test_non_atomic_requests_survive_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``ATOMIC_REQUESTS`` on, redeem and rollback must still run outside the request's
    transaction (their ledger writes commit on their own); validate is wrapped as usual."""
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    handler = BaseHandler()
    for name in ("redeem", "rollback"):
        view = pattern(name).callback
        assert handler.make_view_atomic(view) is view, name
    validate = pattern("validate").callback
    assert handler.make_view_atomic(validate) is not validate


@pytest.mark.django_db
@pytest.mark.urls("tests.checkout.urls")
def test_csrf_middleware_lets_an_anonymous_json_post_through() -> None:
    """Token clients send no CSRF token: without the view's ``csrf_exempt`` Django's middleware
    would answer 403 before DRF saw the request."""
    response = APIClient(enforce_csrf_checks=True).post(VALIDATE, {"codes": []}, format="json")
    assert response.status_code == 400 and "codes" in response.json()


def test_concurrent_first_calls_load_one_view() -> None:
    lazy = LazyView("django_voucherify.rest.views", "ValidateView")
    start = threading.Barrier(8)
    seen: list[Any] = []

    def load() -> None:
        start.wait()
        seen.append(lazy.load())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(view is seen[0] for view in seen)


def test_a_proxy_can_be_copied_loaded_or_not() -> None:
    lazy = LazyView("django_voucherify.rest.errors", "not_found")
    assert copy.deepcopy(lazy).__name__ == "not_found"
    lazy.load()
    assert copy.copy(lazy).load() is lazy.load()
