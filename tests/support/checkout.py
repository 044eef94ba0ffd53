"""Checkout test builders: short timeouts, the sandbox's redemptions, option overrides, campaigns
to publish from, and the REST endpoints with the shape of their JSON errors."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.test import override_settings

from tests.support.sandbox import options

#: Checkout options of the tests: no client retries, 0.5 s checkout timeout, no reconcile grace,
#: fast rollback retries, sync off (only checkout calls are counted).
CHECKOUT_TEST_OPTIONS: dict[str, Any] = {
    "MAX_RETRIES": 0,
    "CHECKOUT_TIMEOUT": 0.5,
    "CHECKOUT_RECONCILE_GRACE": 0,
    "CHECKOUT_ROLLBACK_BACKOFF": 0.01,
    "CHECKOUT_ROLLBACK_BACKOFF_MAX": 0.05,
    "SYNC_ENABLED": False,
}


def checkout_conf(**overrides: Any) -> dict[str, Any]:
    """The test settings' VOUCHERIFY with :data:`CHECKOUT_TEST_OPTIONS` and ``overrides``."""
    return {**settings.VOUCHERIFY, **CHECKOUT_TEST_OPTIONS, **overrides}


@contextmanager
def checkout_settings(sandbox: Any, **overrides: Any) -> Iterator[None]:
    """Override checkout options; the rebuilt shared client is pointed at ``sandbox`` again."""
    with options(sandbox, **overrides):
        yield


def checkout_checks() -> list[Any]:
    """The system check messages about checkout's options (``voucherify.E02x``/``W02x``)."""
    from django_voucherify.checks import check_voucherify_settings

    return [m for m in check_voucherify_settings() if m.id.removeprefix("voucherify.")[1:3] == "02"]


def marker_of(redemption: dict[str, Any]) -> Any:
    """The ledger row's reference a Voucherify redemption carries in its metadata (None: none)."""
    from django_voucherify.models.ledger import REFERENCE_METADATA_KEY

    return (redemption.get("metadata") or {}).get(REFERENCE_METADATA_KEY)


def redemptions_of(sandbox: Any, marker: str | None = None) -> list[dict[str, Any]]:
    """Successful, non-parent redemptions (of codes and of promotion tiers) the sandbox holds
    (optionally for one ledger row)."""
    return [
        r
        for r in sandbox.state.redemptions.values()
        if r.get("result") == "SUCCESS"
        and r.get("related_object_type") in ("voucher", "promotion_tier")
        and (marker is None or marker_of(r) == marker)
    ]


def live_redemptions(sandbox: Any) -> list[dict[str, Any]]:
    """:func:`redemptions_of` all rows, less the ones rolled back: what the shop still owes."""
    return [r for r in redemptions_of(sandbox) if r.get("status") != "ROLLED_BACK"]


@contextmanager
def over_http(server: Any, **overrides: Any) -> Iterator[Any]:
    """The checkout test options pointed at ``server`` (a ``voucherify_sandbox_server``) over real
    sockets, with the shared client rebuilt for them; yields its sandbox."""
    import django_voucherify

    conf = checkout_conf(
        API_URL=server.url, APP_ID=server.sandbox.app_id, SECRET_KEY=server.sandbox.app_token, **overrides
    )
    with override_settings(VOUCHERIFY=conf):
        django_voucherify.reset_client()
        yield server.sandbox
    django_voucherify.reset_client()


#: The checkout REST endpoints (``tests.checkout.urls``).
VALIDATE, REDEEM = "/api/vouchers/validate/", "/api/vouchers/redeem/"
PUBLISH = "/api/vouchers/publications/"


def client_for(user: Any) -> Any:
    """A DRF test client signed in as ``user`` (session auth: the user the admin sees), or
    anonymous for None."""
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def rollback_url(pk: Any) -> str:
    """The checkout REST endpoint rolling back ledger row ``pk``."""
    return f"/api/vouchers/redemptions/{pk}/rollback/"


#: The Voucherify calls checkout makes, as the sandbox's call log counts them
#: (``sandbox.calls.count(*REDEEM_CALL)``, keys of ``sandbox.calls.by_route()``).
QUALIFY_CALL = ("POST", "/v1/qualifications")
VALIDATE_CALL = ("POST", "/v1/validations")
REDEEM_CALL = ("POST", "/v1/redemptions")


def assert_json_error(response: Any, status: int | tuple[int, ...], key: str | None = None) -> dict[str, Any]:
    """``response`` is a JSON error of ``status`` (one of them, given a tuple): an object with a
    ``detail`` text and a ``key`` (``key`` when given); the body."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert (
        isinstance(body, dict) and isinstance(body.get("detail"), str) and isinstance(body.get("key"), str)
    ), body
    if key is not None:
        assert body["key"] == key, body
    return body


_campaign_names = itertools.count()


def static_campaign(sandbox: Any, codes: int = 5, **extra: Any) -> str:
    """A STATIC campaign of ``codes`` codes (no join_once of its own); its name."""
    import django_voucherify

    name = f"Welcome-{next(_campaign_names)}"
    django_voucherify.client.campaigns.create(
        {
            "name": name,
            "campaign_type": "DISCOUNT_COUPONS",
            "type": "STATIC",
            "vouchers_count": codes,
            "voucher": {"discount": {"type": "PERCENT", "percent_off": 10}, "code_config": {"length": 8}},
            **extra,
        }
    )
    sandbox.wait_for_jobs()
    return name


def published_codes(campaign: str, customer: str) -> list[str]:
    """The codes Voucherify published to ``customer`` from ``campaign``."""
    import django_voucherify

    listed = django_voucherify.client.publications.list(campaign=campaign, customer=customer, limit=100)
    codes = [p["voucher"]["code"] for p in listed["publications"] if p.get("result") == "SUCCESS"]
    return codes
