"""One exception handler answers every error of the checkout endpoints: the app's errors that
reach a view get a JSON 4xx or 503 (never a 500), whatever the project's own
``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` is, and the unknown-codes budget is settled the same."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.api.errors import ServerError, TransportError
from django_voucherify.checkout.errors import RollbackFailed
from django_voucherify.errors import DjangoVoucherifyError
from django_voucherify.validation import InvalidInput
from tests.support.checkout import VALIDATE, assert_json_error

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

BODY = {"codes": ["A"], "order": {"amount": 1}}


def _raising(exc: Exception):
    def service(*args, **kwargs):
        raise exc

    return service


def shop_handler(exc, context):  # a project handler that would answer everything 418
    from rest_framework.response import Response

    return Response({"shop": True}, status=418)


@pytest.mark.parametrize(
    ("error", "status", "key"),
    [
        (TransportError("connection reset"), 503, "unavailable"),
        (ServerError(500, {"key": "internal"}), 503, "unavailable"),
        (RollbackFailed("still asked for"), 503, "unavailable"),
        (InvalidInput("A code cannot be empty."), 400, "invalid"),
        (DjangoVoucherifyError("any other refusal"), 400, "refused"),
    ],
)
def test_the_apps_errors_are_json_answers_never_a_500(sandbox, monkeypatch, error, status, key):
    monkeypatch.setattr(checkout, "validate", _raising(error))
    response = APIClient().post(VALIDATE, BODY, format="json")
    assert_json_error(response, status, key)


@override_settings(REST_FRAMEWORK={"EXCEPTION_HANDLER": "tests.checkout.test_rest_errors.shop_handler"})
def test_the_shops_exception_handler_does_not_answer_for_the_app(sandbox, monkeypatch):
    monkeypatch.setattr(checkout, "validate", _raising(TransportError("down")))
    assert_json_error(APIClient().post(VALIDATE, BODY, format="json"), 503, "unavailable")
    # DRF's own errors too (a field error here).
    assert_json_error(APIClient().post(VALIDATE, {"codes": []}, format="json"), 400, "invalid")


def test_a_voucherify_error_says_nothing_of_voucherifys_answer(sandbox, monkeypatch):
    error = ServerError(500, {"key": "internal", "message": "stack trace at db-7"})
    monkeypatch.setattr(checkout, "validate", _raising(error))
    response = APIClient().post(VALIDATE, BODY, format="json")
    assert "db-7" not in response.content.decode()
