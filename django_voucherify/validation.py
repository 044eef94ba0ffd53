"""The one home of input validation: what a voucher code, a source id and a metadata key may be.

Every door (the checkout service, the REST serializers, the admin forms, CSV and JSON imports,
the management commands) asks these functions, so a value one door accepts is accepted by all
and a value one refuses is refused by all. Each ``*_problem`` function returns the translated
reason a value is refused, or None; :func:`check` turns a reason into :class:`InvalidInput`.
Forms use :func:`validate_code` (a Django validator) or :class:`CodeFormField` (the shop's code
field: strips what is typed around the code, then this rule), so the shop accepts every code the
admin can create.

The rules:

- Codes, source ids and metadata keys are non-empty text without control characters (Cc, NUL
  included), invisible format characters (Cf: zero-width spaces, bidi overrides), lone
  surrogates (Cs) or line/paragraph separators (Zl, Zp): they make look-alike values, and NUL
  and surrogates cannot be stored in PostgreSQL at all. Letters of any script pass.
- They do not start or end with white space (doors for typed input strip it first).
- A code is at most :data:`MAX_CODE_LENGTH` characters, is not ``.`` or ``..`` (a path
  segment no URL can address), and its only space is the plain space U+0020 (a no-break or
  other Unicode space looks like one but a shopper cannot type it, so the code could never be
  entered at checkout); a source id at most :data:`MAX_SOURCE_ID_LENGTH`; a metadata
  key at most :data:`MAX_METADATA_KEY_LENGTH`.
- A code is NFKC-stable (``unicodedata.normalize("NFKC", code) == code``): full-width letters
  and digits (U+FF21...: a full-width ``SPRING20``), ligatures, superscripts and decomposed
  accents are look-alikes of another code. Decision: refused (the message names the NFKC
  form), never normalised: codes are case- and character-sensitive in Voucherify, and a
  silent mapping would redeem a different code than the one typed or created (docs/admin.md).
- Free text (metadata values, names...) may hold anything storable: no NUL, no lone surrogate,
  at any depth of a JSON value (PostgreSQL's ``text`` and ``jsonb`` refuse both).

:func:`applied_problem` copies an object read *from* Voucherify onto its mirror and applies the
storage rule (:func:`mirror_problem`: NUL, lone surrogates, over-long text, numbers out of the
column's range, dates that do not exist, a string where an object is expected...), so a refresh
or pull skips it and says why instead of aborting.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .errors import DjangoVoucherifyError
from .identifiers import FORBIDDEN_CATEGORIES as FORBIDDEN_CATEGORIES  # the rule's home: identifiers.py
from .identifiers import MAX_CAMPAIGN_LENGTH as MAX_CAMPAIGN_LENGTH
from .identifiers import UNADDRESSABLE, Defect, campaign_defect, has_forbidden, identifier_defect

#: Longest code accepted (Voucherify codes are short; this only stops abuse).
MAX_CODE_LENGTH = 100
#: Longest customer / order / product source id (the mirrors' column width).
MAX_SOURCE_ID_LENGTH = 200
#: Longest metadata key.
MAX_METADATA_KEY_LENGTH = 100
#: Deepest nesting of a JSON value checked for storability (deeper is refused).
MAX_JSON_DEPTH = 64

#: Codes and source ids that cannot be one segment of a URL path (HTTP clients drop or
#: resolve them): the client's own rule (api/encoding.py), so what passes here can be sent.
UNADDRESSABLE_CODES = UNADDRESSABLE


class InvalidInput(DjangoVoucherifyError, ValueError):
    """A value refused by this module; ``str()`` is the translated reason."""


def _identifier_problem(value: Any, *, what: str, max_length: int) -> str | None:
    """:func:`~django_voucherify.identifiers.identifier_defect`, worded for people."""
    return _worded(identifier_defect(value, max_length=max_length), what=what, max_length=max_length)


def _worded(defect: Defect | None, *, what: str, max_length: int) -> str | None:
    if defect is None:
        return None
    if defect is Defect.TOO_LONG:
        return ngettext(
            "%(what)s has at most %(max)d character.", "%(what)s has at most %(max)d characters.", max_length
        ) % {"what": what, "max": max_length}
    template = {
        Defect.NOT_TEXT: _("%(what)s must be text."),
        Defect.EMPTY: _("%(what)s cannot be empty."),
        Defect.INVISIBLE: _("%(what)s cannot contain invisible or control characters."),
        Defect.SURROUNDING_SPACE: _("%(what)s cannot start or end with white space."),
    }.get(defect)
    return None if template is None else template % {"what": what}


def code_problem(code: Any) -> str | None:
    """Why ``code`` cannot be a voucher code, translated; None if it can."""
    problem = _identifier_problem(code, what=_("A voucher code"), max_length=MAX_CODE_LENGTH)
    if problem is None and code in UNADDRESSABLE_CODES:
        return _("“%(code)s” cannot be a voucher code: Voucherify's URLs cannot address it.") % {"code": code}
    if problem is None and _odd_space(code):
        return _("A voucher code can contain only plain spaces (no no-break or other special spaces).")
    if problem is None and not unicodedata.is_normalized("NFKC", code):
        return _(
            "A voucher code cannot contain full-width or other look-alike characters "
            "(its plain form is “%(plain)s”)."
        ) % {"plain": visible(unicodedata.normalize("NFKC", code))}
    return problem


def _odd_space(code: str) -> bool:
    return any(char != " " and unicodedata.category(char) == "Zs" for char in code)


def validate_code(code: Any) -> None:
    """Django validator for the code rule (:func:`code_problem`), for model and form fields."""
    if problem := code_problem(code):
        raise ValidationError(problem, code="invalid_code")


class CodeFormField(forms.CharField):
    """A form field for a voucher code under the one code rule: what is typed around the code
    (spaces, a newline from a paste) is stripped, then :func:`validate_code` applies.

    No ``max_length`` of its own: the rule refuses an overlong code with its own message, and
    CharField's length validator would say it a second time (and its ``maxlength`` attribute
    would make a browser cut a pasted code silently, into a code that does not exist)."""

    default_validators = [validate_code]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", True)
        super().__init__(**kwargs)


def source_id_problem(source_id: Any) -> str | None:
    """Why ``source_id`` cannot be a customer, order or product source id; None if it can.

    "." and ".." passed and were then refused by the client when the sync addressed the object
    by its source id in a URL path (review 17): the client's rule applies here too."""
    problem = _identifier_problem(source_id, what=_("A source id"), max_length=MAX_SOURCE_ID_LENGTH)
    if problem is None and source_id in UNADDRESSABLE_CODES:
        return _("“%(id)s” cannot be a source id: Voucherify's URLs cannot address it.") % {"id": source_id}
    return problem


def campaign_problem(campaign: Any) -> str | None:
    """Why ``campaign`` cannot name a campaign (its name or Voucherify id); None if it can. It
    goes in URL paths (``get-campaign``): ``.`` and ``..`` cannot (review 20: a 500)."""
    defect = campaign_defect(campaign)  # also the rule of SELF_SERVICE_CAMPAIGNS (check E027)
    if defect is Defect.UNADDRESSABLE:
        return _("“%(campaign)s” cannot name a campaign: Voucherify's URLs cannot address it.") % {
            "campaign": campaign
        }
    return _worded(defect, what=_("A campaign"), max_length=MAX_CAMPAIGN_LENGTH)


def metadata_key_problem(key: Any) -> str | None:
    """Why ``key`` cannot be a metadata key; None if it can."""
    return _identifier_problem(key, what=_("A metadata key"), max_length=MAX_METADATA_KEY_LENGTH)


def text_problem(value: Any) -> str | None:
    """Why free text (or any JSON value, at any depth) cannot be stored; None if it can."""
    found = _unstorable_path(value, "", 0)
    if found is None:
        return None
    path, reason = found
    return _("%(where)s %(reason)s") % {"where": visible(path) or _("The value"), "reason": reason}


def metadata_problem(metadata: Any) -> str | None:
    """Why ``metadata`` cannot be a voucher's, customer's or order's metadata; None if it can."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        return _("Metadata must be a JSON object.")
    for key, value in metadata.items():
        if problem := metadata_key_problem(key):
            return problem
        if problem := text_problem(value):
            return _("Metadata %(key)s: %(problem)s") % {"key": visible(key), "problem": problem}
    return None


#: What copying an object of an unexpected shape onto a mirror raises (a string where an object
#: is expected, ``int("abc")``, a date that does not exist such as month 13...).
SHAPE_ERRORS: tuple[type[Exception], ...] = (
    AttributeError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
)
#: Fields whose values :func:`mirror_problem` converts and range-checks as the database would.
_TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.ForeignKey)


def mirror_problem(instance: Any) -> str | None:
    """Why a model instance (a mirror filled from Voucherify's answer) cannot be saved: a text
    longer than its column, a NUL / lone surrogate in any text or JSON field at any depth, a
    number outside its column's range, a date or number that is not one. None if it can be
    saved. Checked before saving, so one bad object never aborts a batch."""
    for f in instance._meta.concrete_fields:
        value = getattr(instance, f.attname, None)
        max_length = getattr(f, "max_length", None)
        if isinstance(value, str) and max_length and len(value) > max_length:
            return _("%(field)s is longer than %(max)d characters.") % {"field": f.name, "max": max_length}
        if found := _unstorable_path(value, f.name, 0):
            return _("%(where)s %(reason)s") % {"where": visible(found[0]), "reason": found[1]}
        if problem := _column_problem(f, value):
            return problem
    return None


def _column_problem(f: Any, value: Any) -> str | None:
    """A number or date the column cannot hold (out of range, too many digits, not a date)."""
    if value is None or f.primary_key or isinstance(f, _TEXT_FIELDS):
        return None
    try:
        f.run_validators(f.to_python(value))
    except ValidationError as exc:
        return _("%(field)s cannot hold %(value)s: %(reason)s") % {
            "field": f.name,
            "value": visible(repr(value))[:100],
            "reason": " ".join(str(m) for m in exc.messages),
        }
    except SHAPE_ERRORS as exc:
        return _("%(field)s cannot hold %(value)s (%(error)s).") % {
            "field": f.name,
            "value": visible(repr(value))[:100],
            "error": type(exc).__name__,
        }
    return None


def applied_problem(instance: Any, data: Any, *more: Any) -> str | None:
    """Copy Voucherify's object ``data`` onto the mirror ``instance`` (``apply_voucherify``,
    given ``more`` after ``data``: a validation rule's assignments) and
    say why the result cannot be saved, or None. An object of an unexpected shape (not an
    object, a string where an object is expected, a number that is not one) is a reason too,
    never an exception: a refresh or pull skips it and carries on. On a reason, ``instance`` may
    be half-updated: do not save it."""
    if not isinstance(data, Mapping):
        return _("Voucherify's answer is not a JSON object.")
    try:
        instance.apply_voucherify(dict(data), *more)
    except SHAPE_ERRORS as exc:
        return _("Voucherify's object has an unexpected shape (%(error)s).") % {
            "error": visible(f"{type(exc).__name__}: {exc}")[:300]
        }
    return mirror_problem(instance)


#: A surrogate code point (category ``Cs``): in a ``str``, always a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: What the database cannot store in text: a NUL or a surrogate.
_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")
#: Values with no text in them (``bool`` is an ``int``, listed for ``type() in``). Not ``float``:
#: ``json.loads`` reads ``1e999`` (valid JSON) as infinity and the ``NaN`` token as NaN, which
#: ``json.dumps`` writes back as ``Infinity``/``NaN``: PostgreSQL refuses both in JSON.
_SCALARS = frozenset({int, bool})
#: What holds no other value.
_LEAVES = frozenset({str, int, float, bool})


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _text_reason(text: str) -> str | None:
    # Both searches run in C: a character-by-character unicodedata loop cost about 1 ms per
    # redeem answer (8 kB) that checkout stores (storable_json), most of a redeem's own CPU.
    if "\x00" in text:
        return _("contains a NUL character, which the database cannot store.")
    if _SURROGATE.search(text):
        return _("contains a lone surrogate, which is not valid Unicode.")
    return None


def _unstorable_path(value: Any, path: str, depth: int) -> tuple[str, str] | None:
    """``(path, reason)`` of the first string (or key) in ``value`` that cannot be stored."""
    if depth > MAX_JSON_DEPTH:
        return path, _("nested deeper than %(max)d levels.") % {"max": MAX_JSON_DEPTH}
    if isinstance(value, str):
        reason = _text_reason(value)
        return (path, reason) if reason else None
    if _non_finite(value):
        return path, _("is a number JSON cannot hold (infinite or not a number).")
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (reason := _text_reason(key)):
                return ascii(here), reason
            if found := _unstorable_path(item, here, depth + 1):
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := _unstorable_path(item, f"{path}[{index}]", depth + 1):
                return found
    return None


def storable_json(value: Any) -> Any:
    """``value`` (a JSON answer of Voucherify's) as the database can store it: itself when it
    can (the usual case: one walk, no copy); else a copy with each NUL and lone surrogate in its
    strings and keys replaced by U+FFFD, each infinite or NaN number (``1e999`` is valid JSON,
    read as infinity) and any object or list at depth :data:`MAX_JSON_DEPTH` by None. For a
    payload kept as a record (``remote_payload``), where refusing the whole answer would lose
    what was done: the call succeeded either way."""
    if _storable(value, 0):
        return value
    return _replaced(value, 0)


def storable_json_text(value: Any) -> tuple[Any, str]:
    """``storable_json(value)`` and its JSON text, encoded once: for a caller that writes the
    text itself (checkout's success ``UPDATE``) instead of letting the field encode it again.

    The usual case costs one ``json.dumps`` and a few searches of its text, all in C: a NaN or
    an infinity is refused by ``allow_nan=False``; a NUL can only appear escaped
    (``\\u0000``; a literal backslash before ``u0000`` matches too, and only sends the value
    to :func:`storable_json`'s walk, which answers right); a lone surrogate is kept as itself
    (``ensure_ascii=False``; a pair is one code point in a ``str``), so encoding the text to
    UTF-8 fails on it; and the depth rule cannot be broken by fewer than
    ``MAX_JSON_DEPTH + 1`` objects and lists, so the containers are walked only when the
    text has more brackets than that. Anything else goes through :func:`storable_json`. A value
    JSON cannot encode (a ``set``, a ``datetime``) raises ``TypeError``, as the field's own
    encoding would, once :func:`storable_json` has had its say (it makes a ``dict`` of a
    mapping that is not one, when that mapping holds something to replace)."""
    text: str | None
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        text.encode()  # UnicodeEncodeError on a lone surrogate
    except (ValueError, TypeError):  # that, a NaN or an infinity, a circular or unencodable value
        text = None
    if text is None or "\\u0000" in text or not _shallow_text(text, value):
        value = storable_json(value)
        text = json.dumps(value, ensure_ascii=False)
    return value, text


def _shallow_text(text: str, value: Any) -> bool:
    """:func:`_shallow` of ``value``, whose JSON text is ``text``: breaking the rule takes a
    chain of ``MAX_JSON_DEPTH + 1`` containers, so a text with no more brackets than
    :data:`MAX_JSON_DEPTH` (inside strings too: they only add) cannot."""
    return text.count("{") + text.count("[") <= MAX_JSON_DEPTH or _shallow(value, 0)


def _shallow(value: Any, depth: int) -> bool:
    """:func:`_storable`'s depth rule alone: no object or list holds anything at depth
    :data:`MAX_JSON_DEPTH` or deeper."""
    if isinstance(value, Mapping):
        children: Any = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        return True
    if depth >= MAX_JSON_DEPTH:
        return not children
    for item in children:
        # Most items are text or numbers: skipped by their exact type (isinstance against
        # Mapping, an ABC, on every item cost more than the rest of the walk).
        if item is not None and type(item) not in _LEAVES and not _shallow(item, depth + 1):
            return False
    return True


def _storable(value: Any, depth: int) -> bool:
    """``_unstorable_path(value, "", depth) is None``, without building the paths it reports
    (a string per key and item) nor a call per scalar: most of its cost on a redeem answer,
    which checkout stores."""
    if depth > MAX_JSON_DEPTH:
        return False
    if isinstance(value, str):
        return _UNSTORABLE_CHAR.search(value) is None
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        if any(isinstance(key, str) and _UNSTORABLE_CHAR.search(key) for key in value):
            return False
        children: Any = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        return True
    for item in children:
        if depth >= MAX_JSON_DEPTH:
            return False  # any item of it is deeper than the rule allows
        if item is None or type(item) in _SCALARS:
            continue
        if isinstance(item, str):
            if _UNSTORABLE_CHAR.search(item) is not None:
                return False
        elif type(item) is float:
            if not math.isfinite(item):
                return False
        elif not _storable(item, depth + 1):
            return False
    return True


def _replaced(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE_CHAR.sub("\ufffd", value)
    if _non_finite(value):
        return None
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_JSON_DEPTH:
        return None  # its items would be deeper than the rule allows
    if isinstance(value, Mapping):
        return {_replaced(str(key), 0): _replaced(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replaced(item, depth + 1) for item in value]
    return value


def visible(value: Any) -> str:
    """``value`` as text safe to store and show: every forbidden character (NUL, zero-width,
    bidi, lone surrogates...) written as an escape such as ``\\x00`` or ``\\u200b``, so a
    refused value can be listed next to its reason without breaking the database or the page."""
    text = str(value)
    if not has_forbidden(text):
        return text
    return "".join(
        ascii(char)[1:-1] if unicodedata.category(char) in FORBIDDEN_CATEGORIES else char for char in text
    )


def check(problem: str | None) -> None:
    """Raise :class:`InvalidInput` with ``problem`` unless it is None."""
    if problem is not None:
        raise InvalidInput(problem)
