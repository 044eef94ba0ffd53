"""Every checkout REST operation fuzzed against its own OpenAPI schema (drf-spectacular's).

Each example picks an operation of the generated schema and sends it a body drawn from its
request schema (string fields mostly set to codes, orders, customers and campaigns that exist)
or a body that succeeds for its owner, either maybe with one value just past a bound of the
schema (a character, a unit or an item too many; a value its enum does not list) or made
hostile at one to three nodes
(:func:`tests.support.fuzz.hostile`: wrong types, numbers past 64 bits and ``1e400``, lone
surrogates, NUL, nesting past the limit, unknown and hostile keys), or a raw body (empty, not
JSON, ``NaN``/``Infinity``, 100 000 brackets, undecodable bytes, a 3 MB string), as escaped ASCII
or as UTF-8 (lone surrogates then raw), with a JSON or another content type or charset, now
and then with another method, an odd header (``X-Forwarded-For``, ``Accept``, cookies,
``Authorization``) or Voucherify failing (the sandbox's faults); the rollback's path parameter
is a ledger id or odd (other scripts' digits, NUL, a percent-encoded surrogate, 1 000
characters...). Clients are anonymous, the shopper ``ann`` signed in by session (with or
without her CSRF token) or by token, a clerk with the ledger's permissions by token, or forged
credentials; the project's authentication is DRF's default (session, basic) or a token first.
All examples share one shop, so a redeem leaves a ledger row for a later rollback.

Every answer, whatever was sent:

- is below 500 (a documented 503 only while Voucherify fails), and JSON (``application/json``,
  a body that parses as UTF-8);
- has a status the operation's schema documents (another method: a JSON 405 with ``Allow``,
  DRF's 200 for ``OPTIONS``, or the refusals of authentication);
- is an error body (``detail`` and ``key``) for a 4xx or 503, and matches the documented
  response schema for a 2xx; a body past a bound of the schema is never a 2xx (the schema's
  bounds are the serializers');
- holds no traceback and no secret (the API secret, the webhook secrets, Django's key).

tests/checkout/test_rest_bad_requests.py keeps its own fuzz of arbitrary JSON-ish bodies; this
one follows the schema, so a status or a body the schema does not document is caught too.

Bounded for the normal suite: ``FUZZ_REST_EXAMPLES`` requests (default 400, about 5 s). A
deeper run (8000: about 2 minutes): ``FUZZ_REST_EXAMPLES=8000 pytest -p no:randomly
--hypothesis-show-statistics tests/checkout/test_rest_schema_fuzz.py`` (the statistics list the
statuses each operation answered).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from functools import cache
from typing import Any
from unittest import mock

import jsonschema
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core.cache import cache as django_cache
from django.test import Client, override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.authentication import BasicAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from django_voucherify.models import CheckoutRedemption, Customer, Order
from django_voucherify.sandbox.spec_patches import to_json_schema
from tests.support import fuzz
from tests.support.checkout import static_campaign
from tests.support.sandbox import options
from tests.support.vouchers import make_tier, make_voucher

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

JSON = dict[str, Any]
EXAMPLES = int(os.environ.get("FUZZ_REST_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
#: Behind one proxy (``X-Forwarded-For`` is read), the per-request throttles off.
REST_FRAMEWORK = {
    "NUM_PROXIES": 1,
    "DEFAULT_THROTTLE_RATES": {"voucherify_validate": None, "voucherify_redeem": None},
}

# ---- the identities and the project's authentication ---------------------------------------------

TOKENS: dict[str, str] = {"ann-token": "ann", "clerk-token": "clerk"}
CSRF = "a" * 32  # an unmasked secret: Django accepts it as cookie and header alike


class FuzzToken(TokenAuthentication):
    """DRF's ``Authorization: Token <key>`` against :data:`TOKENS` (no authtoken app needed)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, None]:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=TOKENS.get(key, "")).first()
        if user is None:
            raise AuthenticationFailed("Invalid token.")
        return user, None


#: The project's DRF authentication: DRF's default (an anonymous refusal is a 403), or a token
#: scheme first (a 401 with ``WWW-Authenticate``).
AUTHENTICATIONS = {
    "default": [SessionAuthentication, BasicAuthentication],
    "token": [FuzzToken, SessionAuthentication],
}
#: Who sends the request, the ones who get past authentication more often.
IDENTITIES = (
    ["session", "token", "clerk-token"] * 3
    + ["anonymous"] * 2
    + ["session-no-csrf", "bad-token", "bad-basic"]
)


def authenticated_as(stack: ExitStack, authentication: str) -> None:
    from django_voucherify.rest.views import CheckoutAPIView

    # DRF reads DEFAULT_AUTHENTICATION_CLASSES into APIView when its module is imported: patched
    # on the checkout views' base class instead.
    stack.enter_context(
        mock.patch.object(
            CheckoutAPIView, "authentication_classes", AUTHENTICATIONS[authentication], create=True
        )
    )


def client_as(identity: str, users: dict[str, Any]) -> tuple[Client, dict[str, str]]:
    """A test client (CSRF checked, as a browser's is) and the headers ``identity`` sends."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    headers: dict[str, str] = {}
    if identity.startswith("session"):
        client.force_login(users["ann"])
        client.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF
        if identity == "session":
            headers["HTTP_X_CSRFTOKEN"] = CSRF
    elif identity.endswith("token"):
        key = {"token": "ann-token", "clerk-token": "clerk-token"}.get(identity, "forged\x00\u00e9")
        headers["HTTP_AUTHORIZATION"] = f"Token {key}"
    elif identity == "bad-basic":
        headers["HTTP_AUTHORIZATION"] = "Basic bm90OnZhbGlk"  # not:valid
    return client, headers


# ---- the schema ----------------------------------------------------------------------------------


@cache
def openapi() -> JSON:
    """The checkout views' schema as drf-spectacular generates it, token scheme included."""
    from drf_spectacular.generators import SchemaGenerator

    with ExitStack() as stack:
        authenticated_as(stack, "token")
        stack.enter_context(
            override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"})
        )
        return SchemaGenerator(urlconf="tests.checkout.urls").get_schema(request=None, public=True)


def resolved(node: Any) -> Any:
    """``node`` with every ``$ref`` replaced by its component (the checkout schemas nest finitely)."""
    if isinstance(node, list):
        return [resolved(x) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return resolved(openapi()["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
    return {key: resolved(value) for key, value in node.items()}


@cache
def operations() -> list[tuple[str, JSON]]:
    return sorted(
        (path, operation) for path, methods in openapi()["paths"].items() for operation in methods.values()
    )


def answer_schema(operation: JSON, status: int) -> JSON | None:
    content = operation["responses"][str(status)].get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    return None if schema is None else to_json_schema(resolved(schema))


# ---- what is sent --------------------------------------------------------------------------------

#: Request fields -> values that exist (set in :func:`world`), so conforming bodies get past
#: "not found" now and then.
KNOWN = {
    "codes": ["FUZZ-FIVE", "FUZZ-TEN"],
    "gift_cards": ["FUZZ-GIFT"],
    "order_source_id": ["ORD-ANN", "ORD-ANN-2", "ORD-OTHER"],  # more of Ann's: ANN_ORDERS
    "customer_source_id": ["user-ann", "user-other"],
    "source_id": ["ORD-ANN", "sku-1"],
    "campaign": ["Welcome-fuzz"],
}
CAMPAIGN = KNOWN["campaign"][0]
KNOWN_VALUES = tuple(value for values in KNOWN.values() for value in values)
#: operationId -> a body that succeeds for its owner (before it is made hostile, or not).
#: Ann's orders, each redeemed at most once (a redeem's example picks one).
ANN_ORDERS = ["ORD-ANN", "ORD-ANN-2", *(f"ORD-ANN-{n}" for n in range(3, 11))]
EXAMPLES_BY_OPERATION: dict[str, JSON] = {
    "validate_create": {
        "codes": ["FUZZ-FIVE"],
        "order": {"amount": 8000, "source_id": "ORD-ANN"},
        "automatic": True,
    },
    "offers_create": {
        "order": {"amount": 8000, "items": [{"source_id": "sku-1", "quantity": 2, "price": 4000}]}
    },
    "redeem_create": {"codes": ["FUZZ-FIVE"], "gift_cards": ["FUZZ-GIFT"], "order_source_id": "ORD-ANN"},
    "redemptions_rollback_create": {"reason": "fuzz"},
    "publications_create": {"campaign": CAMPAIGN},
}


def with_known(schema: Any, name: str = "") -> Any:
    """The request schema with each :data:`KNOWN` field (or array of them) also drawing its
    existing values."""
    if isinstance(schema, list):
        return [with_known(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: with_known(value) for key, value in schema.items() if key not in ("properties", "items")}
    if "properties" in schema:
        out["properties"] = {key: with_known(value, key) for key, value in schema["properties"].items()}
    if "items" in schema:
        out["items"] = with_known(schema["items"], name)
    if name in KNOWN and schema.get("type") == "string":
        return {"anyOf": [out, *[{"enum": KNOWN[name]}] * 3]}  # mostly an existing one
    return out


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


RAW_BODIES: list[bytes] = [
    b"",
    b" ",
    b"{bad",
    b"null",
    b"[]",
    b'"x"',
    b"NaN",
    b'{"order": {"amount": NaN}, "codes": ["A"]}',
    b'{"order": {"amount": Infinity}, "reason": -Infinity, "campaign": "x"}',
    b'{"order": {"amount": 1e400}, "order_source_id": 1e400}',
    b'{"order": {"amount": ' + b"9" * 5000 + b"}}",
    deep(100_000).encode(),
    b'{"codes": ["\xff\xfe"], "order": {}}',
    b'{"codes": ["\xed\xa0\x80"], "order": {}}',  # a lone surrogate as UTF-8 bytes
    b'{"codes": ["\\ud800"], "order": {"amount": 1}, "order_source_id": "\\udfff", "campaign": "\\ud800"}',
    b'{"codes": ["\\u0000"], "order": {"amount": 1}, "order_source_id": "\\u0000", "reason": "\\u0000"}',
    b'{"order": {"amount": 1}, "campaign": "' + b"x" * 3_000_000 + b'"}',  # past DATA_UPLOAD_MAX
    b"\xef\xbb\xbf{}",  # a byte order mark
    b"<html></html>",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=nonsense",
    "application/json; charset=utf-16",
    "application/json; charset=unicode_escape",
    "application/json; charset=base64",
    "APPLICATION/JSON",
    "application/problem+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
]
#: Headers a careless or hostile client sends (``X-Forwarded-For`` is read: NUM_PROXIES is 1).
ODD_HEADERS: list[dict[str, str]] = [
    {"HTTP_X_FORWARDED_FOR": "\x00, ::1"},
    {"HTTP_X_FORWARDED_FOR": ",,,"},
    {"HTTP_X_FORWARDED_FOR": "1.2.3.4, " * 2000},
    {"HTTP_X_FORWARDED_FOR": "ü\udcff"},
    {"REMOTE_ADDR": ""},
    {"HTTP_ACCEPT": "text/html"},
    {"HTTP_ACCEPT": "application/xml; q=1, */*; q=0"},
    {"HTTP_ACCEPT_LANGUAGE": "de;q=2, xx-\u00ff, *;q=nan"},
    {"HTTP_COOKIE": "csrftoken=" + "é" * 40},
    {"HTTP_COOKIE": 'sessionid="\\000garbage-key"'},  # a NUL in the session key
    {"HTTP_COOKIE": "sessionid=\x7f" + "x" * 5000},
    {"HTTP_AUTHORIZATION": "Basic !!!"},
    {"HTTP_AUTHORIZATION": "Basic " + "w6k6w6k="},  # é:é, not ASCII
    {"HTTP_AUTHORIZATION": "Token a b"},
    {"HTTP_AUTHORIZATION": "Token " + "x" * 10_000},
    {"HTTP_AUTHORIZATION": "Bearer x"},
]
#: Voucherify answering badly (the sandbox's faults, once or twice): the endpoints answer 503
#: or a refusal, never a 500. ``after``: the request was handled, its answer lost.
FAULTS: list[JSON] = [
    *({"status": status} for status in (400, 401, 403, 404, 409, 422, 500, 502, 503)),
    {"status": 429, "retry_after": 0},
    {"drop": True},
    {"drop": True, "after": True},
    {"status": 502, "after": True},
]
#: Any other method: not an operation of the schema.
METHODS = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]
ODD_IDS = [
    "0",
    "-1",
    "1" * 18,
    "1" * 19,
    "١٢",  # Arabic-Indic digits
    "\U0001d7d9",  # a mathematical bold one
    "²",
    "%00",
    "%ED%A0%80",  # a percent-encoded surrogate
    "%FF",
    "%F0%9F%98%80",
    " 1",
    "1.0",
    "..",
    "x" * 1000,
]


def schema_at(schema: JSON, path: tuple[Any, ...]) -> JSON:
    """The node of a resolved schema that describes the value at ``path`` ({} when none does)."""
    for key in path:
        schema = (
            schema.get("items", {}) if isinstance(key, int) else schema.get("properties", {}).get(key, {})
        )
    return schema


def past_bounds(schema: JSON, value: Any) -> list[Any]:
    """Values just outside the bounds ``schema`` sets (a character, a unit or an item too many or
    too few; a value its enum does not list): what the schema says is refused."""
    crossed: list[Any] = []
    if "maxLength" in schema:
        crossed.append("x" * (schema["maxLength"] + 1))
    if schema.get("minLength", 0) > 0:
        crossed.append("x" * (schema["minLength"] - 1))
    if "maximum" in schema:
        crossed.append(schema["maximum"] + 1)
    if "minimum" in schema:
        crossed.append(schema["minimum"] - 1)
    if "maxItems" in schema:
        crossed.append([value[0] if value else "x"] * (schema["maxItems"] + 1))
    if "enum" in schema:
        crossed.append(f"not-{schema['enum'][0]}")
    return crossed


@st.composite
def past_a_bound(draw: st.DrawFn, value: Any, schema: JSON) -> tuple[Any, bool]:
    """``value`` (valid against ``schema``) with one node just past one of its bounds, and
    whether the schema bounds any node of it (else ``value`` as it was)."""
    choices = [
        (path, crossed)
        for path in fuzz.node_paths(value)[1:]
        for crossed in past_bounds(schema_at(schema, path), fuzz.node_at(value, path))
    ]
    if not choices:
        return value, False
    path, crossed = draw(st.sampled_from(choices))
    fuzz.node_at(value, path[:-1])[path[-1]] = crossed
    return value, True


@st.composite
def bodies(draw: st.DrawFn, operation: JSON) -> tuple[bytes, bool]:
    """A body, and whether it crossed a bound of the request schema (which must be refused)."""
    schema = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
    how = draw(
        st.sampled_from(["example", "conforming", "conforming", "bounds", "hostile", "hostile", "raw"])
    )
    if how == "raw" or schema is None:
        return draw(st.sampled_from(RAW_BODIES)), False
    if how == "example" or draw(st.booleans()):
        value = copy.deepcopy(EXAMPLES_BY_OPERATION[operation["operationId"]])
        if "order_source_id" in value:
            value["order_source_id"] = draw(st.sampled_from(ANN_ORDERS))
    else:
        value = draw(fuzz.schema_values(with_known(resolved(schema))))
    crossed = False
    if how == "bounds":
        value, crossed = draw(past_a_bound(value, resolved(schema)))
    if how == "hostile":
        value = draw(fuzz.hostile(copy.deepcopy(value), KNOWN_VALUES))
    ascii_only = draw(st.booleans())
    return fuzz.json_text(value, ascii_only).encode("utf-8", "surrogatepass"), crossed


def path_of(template: str, pk: str) -> str:
    return template.replace("{id}", pk)


# ---- what every answer must be -------------------------------------------------------------------


def secrets() -> list[str]:
    voucherify = django_settings.VOUCHERIFY
    return [django_settings.SECRET_KEY, voucherify["SECRET_KEY"], *voucherify.get("WEBHOOK_SECRETS", ())]


def check_answer(response: Any, operation: JSON | None, sent: str, outage: bool = False) -> None:
    """``outage``: Voucherify was made to fail, so a documented 503 is the right answer."""
    status = response.status_code
    assert status < 500 or (outage and status == 503), sent
    assert response["Content-Type"].split(";")[0] == "application/json", (response["Content-Type"], sent)
    if operation is None:  # another method: not an operation (authentication and throttles first)
        assert status in (200, 401, 403, 405, 429), sent
        if status == 405:
            assert "POST" in response["Allow"], sent
    else:
        assert str(status) in operation["responses"], (status, response.content[:300], sent)
    if not response.content:  # HEAD
        return
    text = response.content.decode("utf-8")
    assert "Traceback" not in text and 'File "' not in text, sent
    assert not any(secret in text for secret in secrets()), sent
    data = json.loads(text)
    if status >= 400:
        assert isinstance(data, dict) and isinstance(data.get("detail"), str), (data, sent)
        assert isinstance(data.get("key"), str), (data, sent)
    elif operation is not None and (schema := answer_schema(operation, status)) is not None:
        jsonschema.validate(data, schema)


# ---- the shop the requests find ------------------------------------------------------------------


@pytest.fixture
def users(django_user_model: Any) -> dict[str, Any]:
    """Ann (with her customer and orders), another customer's order, and a clerk who may redeem
    any order, roll back, and give anyone a code."""
    ann = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    customer = Customer.objects.create(source_id="user-ann", email="ann@example.com", user=ann)
    for number, source_id in enumerate(ANN_ORDERS):
        Order.objects.create(source_id=source_id, amount=1000 * (number + 1), customer=customer)
    other = Customer.objects.create(source_id="user-other", email="other@example.com")
    Order.objects.create(source_id="ORD-OTHER", amount=5000, customer=other)
    clerk = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw")
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__endswith="_checkoutredemption"),
        Permission.objects.get(codename="add_customerpublication"),  # anyone's code, any campaign
    )
    return {"ann": ann, "clerk": clerk}


@pytest.fixture
def world(sandbox: Any, users: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """:func:`users`, two codes, a gift card, an automatic promotion, a self-service campaign
    and a ledger row."""
    make_voucher("FUZZ-FIVE")
    make_voucher("FUZZ-TEN", amount_off=1000)
    make_voucher("FUZZ-GIFT", "gift")
    make_tier()  # an automatic promotion, for "automatic": true and the offers
    static_campaign(sandbox, name=CAMPAIGN)  # the name given wins over the helper's own
    CheckoutRedemption.objects.create(order_source_id="ORD-GONE", codes=["X"], state="FAILED")
    with (
        options(sandbox, SELF_SERVICE_CAMPAIGNS=[CAMPAIGN]),
        override_settings(REST_FRAMEWORK=REST_FRAMEWORK),
    ):
        yield {**users, "sandbox": sandbox}


def ledger_ids() -> list[str]:
    return [str(pk) for pk in CheckoutRedemption.objects.values_list("pk", flat=True)[:5]]


@FUZZ
@given(data=st.data())
def test_every_answer_is_documented_json(world: dict[str, Any], data: st.DataObject) -> None:
    # One shop for every operation: a redeem's ledger row is there for a later rollback, and a
    # rolled back order can be redeemed again.
    template, operation = data.draw(st.sampled_from(operations()), label="operation")
    identity = data.draw(st.sampled_from(IDENTITIES), label="identity")
    # A token is mostly sent where the project reads tokens, now and then where it does not.
    schemes = ["token"] * 4 + ["default"] if identity.endswith("token") else sorted(AUTHENTICATIONS)
    authentication = data.draw(st.sampled_from(schemes), label="authentication")
    body, crossed = data.draw(bodies(operation), label="body")
    content_type = data.draw(st.sampled_from(CONTENT_TYPES[:1] * 15 + CONTENT_TYPES), label="content type")
    method = data.draw(st.sampled_from(["POST"] * 30 + METHODS), label="method")
    pk = data.draw(st.sampled_from(["a ledger id"] * 4 + ODD_IDS), label="pk")
    if pk == "a ledger id":  # drawn by position: the rows change from one example to the next
        ids = ledger_ids()
        pk = ids[data.draw(st.integers(0, 4), label="row") % len(ids)]
    client, headers = client_as(identity, world)
    if data.draw(st.integers(0, 5), label="odd header") == 0:
        headers = {**headers, **data.draw(st.sampled_from(ODD_HEADERS), label="header")}
    fault = data.draw(st.sampled_from([None] * 30 + FAULTS), label="fault")
    if fault is not None:
        world["sandbox"].faults.add(times=data.draw(st.integers(1, 2), label="times"), **fault)
    django_cache.clear()  # the throttles and the budget of unknown codes: every example from zero
    with ExitStack() as stack:
        stack.callback(world["sandbox"].faults.clear)
        authenticated_as(stack, authentication)
        response = client.generic(method, path_of(template, pk), body, content_type=content_type, **headers)
    sent = (
        f"{method} {path_of(template, pk)} as {identity}/{authentication} ({content_type}, {headers},"
        f" fault {fault}): {body[:300]!r}"
    )
    check_answer(response, operation if method == "POST" else None, sent, outage=fault is not None)
    # The schema's bounds are the view's: a body past one is refused (whoever sends it).
    assert not (crossed and method == "POST" and response.status_code < 300), (response.content[:300], sent)
    event(
        f"{operation['operationId']} {method if method == 'POST' else 'other method'} {response.status_code}"
    )


#: (identity, the project's authentication, body, content type) -> the status each operation
#: answers before its own code runs (:data:`django_voucherify.rest.schema.COMMON_ERRORS`).
BEFORE_THE_VIEW = {
    "bad-token": ("bad-token", "token", b"{}", "application/json", 401),
    "bad-basic": ("bad-basic", "default", b"{}", "application/json", 403),
    "csrf": ("session-no-csrf", "default", b"{}", "application/json", 403),
    "not-json": ("clerk-token", "token", b"{bad", "application/json", 400),
    "too-large": ("clerk-token", "token", b'{"x": "' + b"y" * 2000 + b'"}', "application/json", 413),
    "form": ("clerk-token", "token", b"a=1", "application/x-www-form-urlencoded", 415),
}


@pytest.mark.parametrize("case", sorted(BEFORE_THE_VIEW))
def test_answers_before_the_view_runs_are_documented(users: dict[str, Any], case: str) -> None:
    """Every operation's schema lists the answers of authentication, CSRF and body parsing
    (the schema listed none of 401, 413 and 415, nor 400 for the rollback, nor 403 for validate
    and offers: clients generated from it had no type for them)."""
    identity, authentication, body, content_type, status = BEFORE_THE_VIEW[case]
    for template, operation in operations():
        client, headers = client_as(identity, users)
        with ExitStack() as stack, override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
            authenticated_as(stack, authentication)
            response = client.generic(
                "POST", path_of(template, "1"), body, content_type=content_type, **headers
            )
        assert response.status_code == status, (template, response.content)
        check_answer(response, operation, f"{case}: {template}")
