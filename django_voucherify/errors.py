"""The root of every exception django_voucherify raises on purpose.

``except DjangoVoucherifyError`` catches them all: the client's (:class:`~.api.VoucherifyError`,
Voucherify's answers and failed calls), checkout's (:class:`~.checkout.CheckoutError`), refused
input (:class:`~.validation.InvalidInput`, :class:`~.jobs.CsvError`, also ``ValueError``) and
the services' refusals. docs/errors.md draws the tree.

This module imports nothing, so every layer (the client included) may build on it.
"""

from __future__ import annotations


class DjangoVoucherifyError(Exception):
    """Base class of every error django_voucherify raises to the shop's code."""
