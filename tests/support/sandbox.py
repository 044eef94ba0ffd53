"""The in-process sandbox wired into the shared client, and a small HTTP client over it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from django.conf import settings
from django.test import override_settings

from django_voucherify.sandbox.app import Sandbox

API = "https://api.voucherify.io"


class CallLog:
    """Every request the sandbox answered: ``(method, path, status)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, exchange: Any) -> None:
        self.calls.append((exchange.request.method, exchange.request.path, exchange.response.status))

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(1 for m, p, _ in self.calls if (method in (None, m)) and (path in (None, p)))

    def by_route(self) -> Counter[tuple[str, str]]:
        return Counter((m, p) for m, p, _ in self.calls)


def remount(sandbox: Any) -> None:
    """Rebuild the shared client (settings changed) and point it at ``sandbox`` again."""
    import django_voucherify

    django_voucherify.reset_client()
    sandbox.mount(django_voucherify.get_client().transport.session)


def point_at_server(settings: Any, server: Any, **values: Any) -> Any:
    """Point the shared client (``settings``: pytest-django's fixture) at a sandbox served over
    HTTP (``voucherify_sandbox_server``), with its keys, no retries and ``values``; ``server``."""
    import django_voucherify

    settings.VOUCHERIFY = {
        **settings.VOUCHERIFY,
        "APP_ID": server.sandbox.app_id,
        "SECRET_KEY": server.sandbox.app_token,
        "API_URL": server.url,
        "MAX_RETRIES": 0,
        **values,
    }
    django_voucherify.reset_client()
    return server


@contextmanager
def options(sandbox: Any, **values: Any) -> Iterator[None]:
    """``with options(sandbox, KEY=value):`` overrides VOUCHERIFY keys, the sandbox still mounted."""
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, **values}):
        remount(sandbox)
        yield
    remount(sandbox)


@contextmanager
def wired(voucherify_sandbox: Any, **values: Any) -> Iterator[Any]:
    """The ``voucherify_sandbox`` fixture's sandbox with a ``calls`` log (:class:`CallLog`), the
    given VOUCHERIFY options, and the shared client rebuilt onto it: what each area's
    ``sandbox`` fixture yields."""
    log = CallLog()
    voucherify_sandbox.response_listeners.append(log)
    voucherify_sandbox.calls = log
    with options(voucherify_sandbox, **values):
        yield voucherify_sandbox


class Api:
    """A tiny authenticated client over a requests.Session mounted on an in-process sandbox
    (a fresh one unless given): ``api.get(path)``, ``api.call("POST", path, json=...)``, and
    builders that put vouchers straight into its state."""

    base = API

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()
        self.session = requests.Session()
        self.sandbox.mount(self.session)
        self.session.headers.update({"X-App-Id": self.sandbox.app_id, "X-App-Token": self.sandbox.app_token})

    @property
    def state(self) -> Any:
        return self.sandbox.state

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method.upper(), self.base + path, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)

    def voucher(self, code: str, **kw: Any) -> dict[str, Any]:
        v: dict[str, Any] = {
            "id": "v_" + code.lower(),
            "code": code,
            "object": "voucher",
            "type": "DISCOUNT_VOUCHER",
            "active": True,
            "campaign": None,
            "campaign_id": None,
            "discount": {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"},
            "redemption": {"quantity": None, "redeemed_quantity": 0, "object": "list"},
            "start_date": None,
            "expiration_date": None,
            "metadata": {},
        }
        v.update(kw)
        if v.get("discount") is None:
            v.pop("discount")
        self.state.put_voucher(v)
        return v

    def gift(self, code: str, balance: int, **kw: Any) -> dict[str, Any]:
        return self.voucher(
            code,
            type="GIFT_VOUCHER",
            discount=None,
            gift={"amount": balance, "balance": balance, "effect": "APPLY_TO_ORDER"},
            **kw,
        )


def in_catalog(sandbox: Any, kind: str, source_id: str) -> Any:
    """The product (``kind`` "product") or SKU (any other) of ``source_id`` the sandbox holds."""
    from django_voucherify.sandbox.catalog import catalog

    cat = catalog(sandbox.state)
    return cat.find_product(source_id) if kind == "product" else cat.find_sku(source_id)


def _redeemables(codes: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [c if isinstance(c, dict) else {"object": "voucher", "id": c} for c in codes]


def redeem(api: Api, *codes: Any, **body: Any) -> requests.Response:
    """POST /v1/redemptions for ``codes`` (a code, or a whole redeemable dict)."""
    return api.call("POST", "/v1/redemptions", json={"redeemables": _redeemables(codes), **body})


def validate(api: Api, *codes: Any, **body: Any) -> dict[str, Any]:
    """POST /v1/validations for ``codes`` (as :func:`redeem`), answered 200: its JSON."""
    r = api.call("POST", "/v1/validations", json={"redeemables": _redeemables(codes), **body})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]
