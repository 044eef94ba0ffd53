"""The shape every identifier must have (a voucher code, a source id, a campaign's name or id, a
metadata key), as plain Python that imports nothing of the app.

It is a leaf so that the layers that may import no other part of the app can apply the very
rule the doors apply: ``api/encoding.py`` (which values no URL path can carry) and ``conf/``
(``SELF_SERVICE_CAMPAIGNS`` entries the publications endpoint would refuse, check E027).
:mod:`django_voucherify.validation` words each :class:`Defect` for people, translated.
"""

from __future__ import annotations

import unicodedata
from enum import Enum

#: Values that cannot be one segment of a URL path: HTTP libraries drop or resolve them.
UNADDRESSABLE = frozenset({"", ".", ".."})
#: Unicode categories never part of a code, a source id or a metadata key: control (NUL
#: included), invisible format characters, lone surrogates, line/paragraph separators.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Longest campaign name or id (the publications ledger's column width).
MAX_CAMPAIGN_LENGTH = 200


class Defect(Enum):
    """Why a value cannot be an identifier (the value says it, in English, for settings)."""

    NOT_TEXT = "is not a string"
    EMPTY = "is empty"
    TOO_LONG = "is too long"
    INVISIBLE = "contains an invisible or control character"
    SURROUNDING_SPACE = "starts or ends with white space"
    UNADDRESSABLE = "cannot be addressed in a URL path"


def has_forbidden(value: str) -> bool:
    return any(unicodedata.category(char) in FORBIDDEN_CATEGORIES for char in value)


def identifier_defect(value: object, *, max_length: int) -> Defect | None:
    """What is wrong with ``value`` as an identifier of at most ``max_length`` characters (the
    first defect found, in this order), None if nothing."""
    if not isinstance(value, str):
        return Defect.NOT_TEXT
    if not value:
        return Defect.EMPTY
    if len(value) > max_length:
        return Defect.TOO_LONG
    if has_forbidden(value):
        return Defect.INVISIBLE
    if value != value.strip():
        return Defect.SURROUNDING_SPACE
    return None


def campaign_defect(value: object) -> Defect | None:
    """What is wrong with ``value`` as a campaign's name or id (it goes in URL paths of
    ``get-campaign``), None if nothing: the rule of the publications endpoint and
    ``checkout.publish``."""
    defect = identifier_defect(value, max_length=MAX_CAMPAIGN_LENGTH)
    if defect is None and value in UNADDRESSABLE:
        return Defect.UNADDRESSABLE
    return defect
