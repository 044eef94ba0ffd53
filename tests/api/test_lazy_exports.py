"""``django_voucherify.api`` resolves its public names on first use (start-up must not import the
client); every name still resolves, to the object its submodule defines."""

from __future__ import annotations

import importlib

import pytest

import django_voucherify.api as api


@pytest.mark.parametrize("name", api.__all__)
def test_every_public_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(api, name)
    home = importlib.import_module(f"django_voucherify.api.{api._HOME[name]}")
    assert value is getattr(home, name)
    assert name in dir(api)


def test_the_public_names_are_the_lazy_ones() -> None:
    assert sorted(api.__all__) == sorted(api._HOME)


def test_endpoints_are_registered_when_the_registry_is_asked_for() -> None:
    assert "get-voucher" in api.ENDPOINTS  # filled by importing the client's resources


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        api.Nope
