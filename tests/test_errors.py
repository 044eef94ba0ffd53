"""One exception root that is true: ``except DjangoVoucherifyError`` catches every error the app
raises on purpose, and refused input stays a ``ValueError`` for callers that catch that."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import django_voucherify
from django_voucherify import DjangoVoucherifyError
from django_voucherify.api import VoucherifyError
from django_voucherify.checkout import CheckoutError, InvalidCheckoutInput
from django_voucherify.jobs import CsvError
from django_voucherify.validation import InvalidInput

#: Packages that are not the app's face: the sandbox is a separate Voucherify (its errors are
#: turned into HTTP answers, never raised to a shop's code), migrations hold no errors.
OUTSIDE = ("django_voucherify.sandbox", "django_voucherify.migrations")

#: Control flow inside one module, caught there and never raised out of it to a shop's code.
INTERNAL = {
    "django_voucherify.checkout.redeem.SendDeadlinePassed",
    "django_voucherify.sync.delivery.LeaseExpiring",
    "django_voucherify.sync.delivery.WaitingForDeletion",
    "django_voucherify.jobs.csvfiles.RowTooLong",
}


def _app_modules() -> list[str]:
    names = [django_voucherify.__name__]
    for info in pkgutil.walk_packages(django_voucherify.__path__, prefix="django_voucherify."):
        if not info.name.startswith(OUTSIDE):
            names.append(info.name)
    return names


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for name in _app_modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attribute.startswith("_")
                and f"{name}.{attribute}" not in INTERNAL
            ):
                found.append(value)
    return found


def test_the_walk_finds_the_errors_of_every_feature():
    names = {cls.__name__ for cls in _exception_classes()}
    assert {
        "VoucherifyError",
        "ItemTooLarge",
        "CheckoutError",
        "InvalidInput",
        "CsvError",
        "BalanceAlreadyApplied",
        "VoucherifyRefused",
    } <= names


@pytest.mark.parametrize("cls", _exception_classes(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_public_exception_is_under_the_root(cls):
    assert issubclass(cls, DjangoVoucherifyError)


def test_the_feature_roots_are_under_the_root_and_input_errors_stay_value_errors():
    assert issubclass(VoucherifyError, DjangoVoucherifyError)
    assert issubclass(CheckoutError, DjangoVoucherifyError)
    for refused_input in (InvalidInput, InvalidCheckoutInput, CsvError):
        assert issubclass(refused_input, DjangoVoucherifyError)
        assert issubclass(refused_input, ValueError)
    # Checkout's errors are not Voucherify's answers: ``except VoucherifyError`` around a client
    # call must not swallow them.
    assert not issubclass(CheckoutError, VoucherifyError)


def test_the_root_is_importable_from_the_package_without_loading_the_client():
    assert django_voucherify.DjangoVoucherifyError is DjangoVoucherifyError
    assert "DjangoVoucherifyError" in django_voucherify.__all__
