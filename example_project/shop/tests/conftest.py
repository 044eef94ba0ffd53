"""The shop's tests run on PostgreSQL or, like the demo by default, on a SQLite file."""

from __future__ import annotations

from typing import Any

import pytest

# Before the test modules import it: the shop's test helpers fail with pytest's detailed messages.
pytest.register_assert_rewrite("example_project.shop.tests.shopping")

from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402

from django_voucherify import client as voucherify  # noqa: E402
from django_voucherify.sandbox import promotion_store, seed  # noqa: E402
from example_project.shop.models import Product  # noqa: E402


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: Any) -> None:
    """A SQLite test database in a file, not in memory: threads then share one database with
    the demo's real locking (an in-memory database uses shared-cache table locks instead)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("shopdb") / "test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> None:
    """Django's "Speeding up the tests": users made by the tests are hashed with MD5, not with the
    demo's PBKDF2 (1,200,000 rounds: 0.5-0.8 s of CPU per user, paid by nearly every test here).
    Django's own hashers stay listed after it, so their hashes still verify. The demo itself
    (``./scripts/demo``, the browser tests) keeps its settings."""
    from django.conf import global_settings, settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *global_settings.PASSWORD_HASHERS,
    ]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    """Every test's client starts with a full budget of unknown codes (counted in the cache,
    per user and per address: every test client is 127.0.0.1)."""
    cache.clear()


DEMO_PRODUCTS = [("TSHIRT-M", "T-shirt (M)", 1999), ("MUG", "Mug", 1250)]


@pytest.fixture
def web(voucherify_sandbox, django_user_model):
    voucherify.vouchers.create(
        "SAVE5",
        {
            "type": "DISCOUNT_VOUCHER",
            "redemption": {"quantity": 1},
            "discount": {"type": "AMOUNT", "amount_off": 500},
        },
    )
    for sku, name, price in DEMO_PRODUCTS:  # transactional tests flush the data migration's rows
        Product.objects.get_or_create(sku=sku, defaults={"name": name, "price_cents": price})
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    browser = Client()
    browser.force_login(user)
    browser.post("/cart/add/TSHIRT-M/")  # 1999
    browser.post("/cart/add/MUG/")  # 1250
    return browser


@pytest.fixture
def seeded(voucherify_sandbox):
    """The sandbox's seed (the demo's campaigns and automatic promotion); its one promotion tier."""
    seed.seed(voucherify_sandbox.state)
    (tier,) = promotion_store.tiers(voucherify_sandbox.state).values()
    return tier
