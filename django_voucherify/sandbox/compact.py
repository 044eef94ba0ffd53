"""The stored form of a voucher: one slotted object instead of the 29-key JSON dict (issue 13).

Why: a million vouchers held as the dicts the API returns took 3.1 GiB (a 29-key dict is
~1.2 KB; the ``assets`` and ``publish`` sub-objects, three dicts and four per-code URLs, another
~1 KB). :class:`Voucher` keeps one pointer per field (a sentinel marks an absent key), derives
``assets`` and ``publish`` from the id and code when read, holds ``created_at``/``updated_at``
as integer microseconds when that round-trips to the same text (else the text as given), and
keeps an empty ``metadata`` as nothing until it is read.

It is a :class:`~collections.abc.MutableMapping` with the dict's keys and values, so
handlers and engines read and write it as they did the dict (``voucher["redemption"]`` is the
stored, mutable counters dict). Keys come in the API's order (``FIELDS``, then any other key),
also for a key removed and set again, which a dict would move last. Output goes through
:func:`jsonable` (the ``default`` hook of every ``json.dumps`` of state) or
:meth:`Voucher.render`, which build the API's JSON object.
A plain dict stored as a voucher (tests, old dumps) keeps working: nothing here requires it.
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

JSON = dict[str, Any]

# The voucher's keys in the order build_voucher writes them (and the API sends them).
FIELDS = (
    "id",
    "code",
    "campaign",
    "campaign_id",
    "category",
    "category_id",
    "categories",
    "type",
    "discount",
    "gift",
    "loyalty_card",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "active",
    "additional_info",
    "metadata",
    "assets",
    "is_referral_code",
    "created_at",
    "updated_at",
    "holder_id",
    "referrer_id",
    "object",
    "publish",
    "redemption",
    "validation_rules_assignments",
)
DERIVED = ("assets", "publish")  # computed from id and code unless overridden (see _extra)
TIMES = ("created_at", "updated_at")
STORED = tuple(f for f in FIELDS if f not in DERIVED)
_FIELD_SET = frozenset(FIELDS)
_DELETED: Any = object()  # an absent key: in its slot, or in ``_extra`` for a removed derived key
_NO_METADATA: Any = object()  # the ``metadata`` slot of an empty ``{}`` not yet read
_PLAIN, _DERIVE, _TIME, _META = range(4)
_PLAN = tuple(
    (
        f,
        _DERIVE if f in DERIVED else _TIME if f in TIMES else _META if f == "metadata" else _PLAIN,
        STORED.index(f) if f in STORED else -1,
    )
    for f in FIELDS
)
_GET_STORED = operator.attrgetter(*STORED)
# Each key's kind, for item reads: one dict lookup instead of membership tests in
# ``_FIELD_SET``, ``DERIVED`` and ``TIMES`` (a redeem reads ~20 fields of its voucher).
_KIND = {f: kind for f, kind, _ in _PLAN}
# Fields whose text many vouchers repeat (a campaign's vouchers all carry its name and id):
# stored as one shared str per distinct value instead of one per voucher (each voucher built
# from a JSON body or a CSV row has its own copy). Besides the memory, a page of vouchers in an
# order unrelated to their creation (``order=code``) reads each voucher's strings from wherever
# it was allocated: shared, they stay in the CPU caches (issue 13, per-page cost at 1M).
SHARED_TEXT = frozenset(("campaign", "campaign_id", "category", "category_id", "type", "object"))
_TEXTS: dict[str, str] = {}
_TEXTS_MAX = 100_000  # distinct shared values kept; past it new values are stored as given


def _shared(value: Any) -> Any:
    if type(value) is not str:
        return value
    found = _TEXTS.get(value)
    if found is not None:
        return found
    if len(_TEXTS) < _TEXTS_MAX and len(value) <= 128:
        _TEXTS[value] = value
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote(code, safe="") leaves unchanged


_DAY_US = 86_400_000_000
_DAY_HEADS: dict[int, str] = {}  # day number -> "YYYY-MM-DDT": few distinct days per store


def _iso_of(value: int) -> str:
    """Stored microseconds as the sandbox's ISO text (state.iso's format: UTC, milliseconds,
    ``Z``), by integer arithmetic: a page of vouchers formats two per voucher, and building a
    datetime for each was most of a page's cost."""
    days, rest = divmod(value, _DAY_US)
    head = _DAY_HEADS.get(days)
    if head is None:
        if len(_DAY_HEADS) > 100_000:
            _DAY_HEADS.clear()
        head = _DAY_HEADS[days] = (_EPOCH + timedelta(days=days)).date().isoformat() + "T"
    seconds, micro = divmod(rest, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return "%s%02d:%02d:%02d.%03dZ" % (head, hours, minutes, seconds, micro // 1000)  # noqa: UP031


def _unpack_time(value: Any) -> Any:
    if type(value) is int:
        return _iso_of(value)
    return value[0] if type(value) is tuple else value


def _quoted(code: str) -> str:
    """``quote(code, safe="")``: the code in the assets' and publications' URLs."""
    if code.isascii() and code.isalnum():  # most codes: two str checks instead of the regex
        return code
    return code if _URL_SAFE.fullmatch(code) else quote(code, safe="")


def _pack_time(value: Any) -> Any:
    """Integer microseconds when they format back to exactly ``value`` (the sandbox's own
    ``...T12:00:00.000Z`` stamps); anything else is kept as given, a value that is not text
    (never written by the sandbox) boxed in a 1-tuple so it is not read as microseconds."""
    if value is not None and not isinstance(value, str):
        return (value,)
    if value is None or len(value) != 24 or not value.endswith("Z"):
        return value
    try:
        packed = (datetime.fromisoformat(value[:-1] + "+00:00") - _EPOCH) // timedelta(microseconds=1)
    except ValueError:
        return value
    return packed if _iso_of(packed) == value else value


def assets_of(vid: str, code: str) -> JSON:
    qcode = _quoted(code)
    return {
        "qr": {"id": f"U2FsdGVkX1{vid[2:]}qr", "url": f"https://dl.voucherify.io/api/v1/assets/qr/{qcode}"},
        "barcode": {
            "id": f"U2FsdGVkX1{vid[2:]}bc",
            "url": f"https://dl.voucherify.io/api/v1/assets/barcode/{qcode}",
        },
    }


def publish_of(code: str) -> JSON:
    qcode = _quoted(code)
    return {"object": "list", "count": 0, "url": f"/v1/vouchers/{qcode}/publications?page=1&limit=10"}


class Voucher(MutableMapping[str, Any]):
    """A stored voucher; behaves as its JSON dict (see the module docstring)."""

    __slots__ = (*STORED, "_extra")

    def __init__(self, fields: Mapping[str, Any] = ()) -> None:  # type: ignore[assignment]
        self._extra: JSON | None = None
        for key in STORED:  # every slot set (_DELETED: absent), so reads never raise
            object.__setattr__(self, key, _DELETED)
        for key, value in dict(fields).items():
            self[key] = value

    # ---- derived fields -----------------------------------------------------------------
    def _derived(self, key: str) -> Any:
        vid, code = getattr(self, "id", None), getattr(self, "code", None)
        if not isinstance(code, str) or (key == "assets" and not isinstance(vid, str)):
            return _DELETED  # cannot be derived: absent
        return assets_of(str(vid), code) if key == "assets" else publish_of(code)

    def _derived_value(self, key: str) -> Any:
        extra = self._extra
        if extra is not None and key in extra:
            return extra[key]
        return self._derived(key)

    # ---- mapping protocol ---------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        kind = _KIND.get(key)
        if kind is None:
            if self._extra is None or key not in self._extra:
                raise KeyError(key)
            return self._extra[key]
        if kind == _DERIVE:
            value = self._derived_value(key)
        else:
            value = object.__getattribute__(self, key)
            if kind == _TIME and value is not _DELETED:
                return _unpack_time(value)
            if value is _NO_METADATA:
                value = {}  # materialised when read: callers may change it in place
                object.__setattr__(self, key, value)
        if value is _DELETED:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        if key in DERIVED:
            derived = self._derived(key)
            if value == derived:
                if self._extra is not None:
                    self._extra.pop(key, None)
            else:
                self._extra_dict()[key] = copy.deepcopy(value)
        elif key in _FIELD_SET:
            if key in TIMES:
                value = _pack_time(value)
            elif key == "metadata" and type(value) is dict and not value:
                value = _NO_METADATA  # an empty metadata costs nothing until read
            elif key in SHARED_TEXT:
                value = _shared(value)
            object.__setattr__(self, key, value)
        else:
            self._extra_dict()[key] = value

    def _extra_dict(self) -> JSON:
        if self._extra is None:
            self._extra = {}
        return self._extra

    def __delitem__(self, key: str) -> None:
        if key in DERIVED:
            if self._derived_value(key) is _DELETED:
                raise KeyError(key)
            self._extra_dict()[key] = _DELETED
        elif key in _FIELD_SET:
            if object.__getattribute__(self, key) is _DELETED:
                raise KeyError(key)
            object.__setattr__(self, key, _DELETED)
        elif self._extra is not None and key in self._extra:
            del self._extra[key]
        else:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if key in DERIVED:
            return self._derived_value(str(key)) is not _DELETED
        if key in _FIELD_SET:
            return object.__getattribute__(self, str(key)) is not _DELETED
        return self._extra is not None and key in self._extra

    def __iter__(self) -> Iterator[str]:
        for key in FIELDS:
            if key in self:
                yield key
        if self._extra:
            yield from (k for k in self._extra if k not in _FIELD_SET)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        # What ``len(self) > 0`` says, from the first key: ``voucher or {}`` in the redeem path
        # walked all 29 fields through ``__len__`` (~10 us) on every redeem.
        if object.__getattribute__(self, "id") is not _DELETED:
            return True  # the first key there is (what ``next(iter(self))`` finds first)
        return next(iter(self), None) is not None

    def get(self, key: str, default: Any = None) -> Any:
        kind = _KIND.get(key)
        if kind == _PLAIN:  # the usual read, without ``__getitem__``'s call and raise
            value = object.__getattribute__(self, key)
            return default if value is _DELETED else value
        if kind is None:  # a key outside FIELDS lives in ``_extra`` only; absent, nothing raised
            # (a redeem asks for ``applicable_to``, which a voucher seldom has: ~0.3 us a raise)
            extra = self._extra
            return default if extra is None else extra.get(key, default)
        try:
            return self[key]
        except KeyError:
            return default

    def setdefault(self, key: str, default: Any = None) -> Any:
        if _KIND.get(key) == _PLAIN:  # a redeem's ``setdefault("redemption", {})``: one slot read
            value = object.__getattribute__(self, key)
            if value is not _DELETED:
                return value
        if key not in self:
            self[key] = default
        return self[key]  # the stored value (an empty metadata is materialised, not ``default``)

    # ---- raw access (indexes) -----------------------------------------------------------
    def micros_of(self, key: str) -> int | None:
        """``created_at``/``updated_at`` as stored microseconds (None: absent, null or text)."""
        value = getattr(self, key, None)
        return value if type(value) is int else None

    # ---- output -------------------------------------------------------------------------
    def render(self) -> JSON:
        """The API's JSON object (nested stored objects shared, derived ones fresh)."""
        out: JSON = {}
        extra = self._extra
        values = _GET_STORED(self)  # every slot in one call
        for key, kind, at in _PLAN:
            if kind == _PLAIN:
                value = values[at]
            elif kind == _DERIVE:
                value = extra[key] if extra is not None and key in extra else self._derived(key)
            elif kind == _TIME:
                value = _unpack_time(values[at])
            else:
                value = values[at]
                if value is _NO_METADATA:
                    value = {}  # not materialised in the store: rendering must not grow it
            if value is not _DELETED:
                out[key] = value
        if extra:
            out.update((k, v) for k, v in extra.items() if k not in _FIELD_SET)
        return out

    def __repr__(self) -> str:
        return f"Voucher({self.render()!r})"

    def __copy__(self) -> Voucher:
        return self._copy(lambda value: value)

    def __deepcopy__(self, memo: dict[int, Any]) -> Voucher:
        return self._copy(lambda value: copy.deepcopy(value, memo))

    def _copy(self, each: Any) -> Voucher:
        new = Voucher()
        for key in STORED:
            value = getattr(self, key, _DELETED)
            if value is not _DELETED:
                object.__setattr__(new, key, value if value is _NO_METADATA else each(value))
        if self._extra:  # tombstones (_DELETED) kept as themselves
            new._extra = {k: v if v is _DELETED else each(v) for k, v in self._extra.items()}
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        return (Voucher, (self.render(),))


def jsonable(obj: Any) -> Any:
    """``json.dumps(..., default=jsonable)``: a stored voucher as its JSON object."""
    if isinstance(obj, Voucher):
        return obj.render()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def render(voucher: Mapping[str, Any]) -> JSON:
    """A stored voucher (compact or a plain dict) as the API's JSON object."""
    return voucher.render() if isinstance(voucher, Voucher) else dict(voucher)


def compact(voucher: Mapping[str, Any]) -> JSON:
    """``voucher`` in its stored form (itself when it is one already)."""
    return as_json(voucher if isinstance(voucher, Voucher) else Voucher(voucher))


def as_json(voucher: Voucher) -> JSON:
    """``voucher`` typed as the JSON dict it stands in for. The sandbox's modules type stored
    objects as ``dict[str, Any]`` and use only the mapping protocol :class:`Voucher` implements
    (item access, ``get``, ``in``, iteration, ``update``, ``setdefault``, ``pop``); the one
    dict-only operation, ``json.dumps``, goes through :func:`jsonable`."""
    return cast(JSON, voucher)
