"""Indexed collections: the sandbox's stored objects kept in sorted orders, maintained on write.

Why: a list request used to sort the whole collection and parse every timestamp, so walking a
large store page by page was quadratic. Here every collection that a list endpoint pages is an
:class:`IndexedDict` (a ``dict`` of the stored objects, as before) that also keeps, per documented
ordering, a list of ``(value, seq, key, obj)`` rows sorted with :mod:`bisect` (``obj``, the
stored object itself, so a page reads its objects without a lookup in a dict of a million
keys; it never takes part in comparisons, ``seq`` being unique). Values are extracted
once, when an object is written (timestamps parsed to integer microseconds), and ``seq`` is the
object's creation rank, the tie-break (see docs/sandbox.md, "Listing").

Writes: assigning ``collection[key] = obj`` (re)indexes the object; a handler that changes an
indexed field of a stored object in place calls :meth:`IndexedDict.touch`. ``version`` grows with
every write, so derived views (filtered selections) know when they are stale.

Indexing is deferred to the next read: a write notes the key (O(1)), and the first reader of an
index or bucket (:meth:`IndexedDict.ordered`, ``indexes``, :meth:`IndexedDict.bucket`) puts the
noted objects in first (:meth:`Group.settle`). A redeem writes a redemption (five orderings) and
an order (two): extracting and placing seven rows was a tenth of its cost, paid again for every
redeem while nobody lists. A read sees exactly what indexing on write gave, with each object's
values as they are when it is read (a ``touch`` still notes a key again).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from django_voucherify.sandbox.compact import Voucher

JSON = dict[str, Any]
Extract = Callable[[JSON], Any]
Row = tuple[Any, int, str, Any]
_OBJ = itemgetter(3)  # a row's stored object

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
COMPACT_MIN = 1024  # below this many scattered rows a store fits in the CPU caches anyway
MERGE_BY_PASS = 256  # from this many pending rows an index read merges them in one pass
MISSING = -1  # the value of an absent/null timestamp: sorts first, outside every date window


def micros(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, unlike floats)."""
    return (moment - EPOCH) // ONE_US


def timestamp_of(field: str) -> Extract:
    """Extractor: ``obj[field]`` (ISO 8601) as microseconds, :data:`MISSING` when absent."""
    from django_voucherify.sandbox.state import parse_iso

    def extract(obj: JSON) -> int:
        if isinstance(obj, Voucher):
            # The stored microseconds themselves: the index row shares the voucher's int.
            raw = obj.micros_of(field)
            if raw is not None:
                return raw
        value = obj.get(field)
        if not isinstance(value, str) or not value:
            return MISSING
        try:
            return micros(parse_iso(value))
        except ValueError:
            return MISSING

    return extract


def timestamp_or(field: str, fallback: str) -> Extract:
    """Extractor: ``obj[field]``, or ``obj[fallback]`` when that is absent (as microseconds)."""
    first, second = timestamp_of(field), timestamp_of(fallback)

    def extract(obj: JSON) -> int:
        value = first(obj)
        return int(value if value != MISSING else second(obj))

    return extract


def text_of(field: str) -> Extract:
    """Extractor: ``obj[field]`` as ``(present, text)``, so null sorts before every string."""

    def extract(obj: JSON) -> tuple[bool, str]:
        value = obj.get(field)
        return (value is not None, "" if value is None else str(value))

    return extract


def key_of(field: str) -> Extract:
    """Extractor: ``obj[field]``, a field never null (such as a voucher's code), as is: no
    per-object tuple as in :func:`text_of`."""

    def extract(obj: JSON) -> str:
        return str(obj.get(field) or "")

    return extract


#: put_many sorts and compacts only for a batch of at least 1/BULK_SHARE of the store's size:
#: then those O(store) passes are O(1) amortised per object stored.
BULK_SHARE = 4


class OrderIndex:
    """The keys of one collection sorted by ``(value, seq)``; removals are bisections.

    Out-of-order inserts: a row that does not sort last (a random id, for the ``id`` ordering of
    redemptions) waits in ``_pending`` until :attr:`rows` is next read, and the waiting rows are
    then merged in together (:meth:`_merge`). Bisect-inserting each one shifted, on average, half
    the list: ~30 us per redeem with 100k redemptions stored, growing with the store, for an
    ordering nobody may ever list. A write is now O(1); a read after k writes pays one merge.

    Locality: a page reads ``limit`` consecutive rows. Rows made in creation order (appended)
    sit next to each other in memory, but rows sorted by a text (a code, a random id) were made
    in creation order too, so consecutive rows of such an index lie anywhere in the heap: at 1M
    objects each row of a page was a cache and TLB miss (``order=-code`` cost 1.3x per page at
    1M what it did at 1k). :meth:`compact` re-makes the rows in index order (contiguous); it
    runs after a bulk sort and, amortised, once out-of-order inserts (pending or merged) reach
    half the rows.
    """

    __slots__ = ("_pending", "_row_of", "_rows", "_scattered", "extract", "owner")

    def __init__(self, extract: Extract, owner: Group | None = None) -> None:
        self.extract = extract
        # The group whose writes this index takes in when read (see Group.settle).
        self.owner = owner
        self._rows: list[Row] = []  # sorted; every row except the pending ones
        # Rows that did not sort last, by key (a removal finds its row in O(1)), not yet merged.
        self._pending: dict[str, Row] = {}
        self._row_of: dict[str, Row] = {}
        self._scattered = 0  # rows inserted out of order since the last compact()

    @property
    def rows(self) -> list[Row]:
        """Every row, sorted (the pending ones merged in first). The list object is always the
        same one, so a reference taken earlier sees later merges."""
        owner = self.owner
        if owner is not None and owner.unindexed:
            owner.settle()
        if self._pending:
            self._merge()
        return self._rows

    def size(self) -> int:
        """How many rows (pending ones included), without merging."""
        owner = self.owner
        if owner is not None and owner.unindexed:
            owner.settle()
        return len(self._rows) + len(self._pending)

    def put(self, key: str, obj: JSON, seq: int) -> None:
        row = (self.extract(obj), seq, key, obj)
        old = self._row_of.get(key)
        if old is not None and old[3] is obj and old[0] == row[0] and old[1] == seq:
            return
        if old is not None:
            self._remove(old)
        rows = self._rows
        if not rows or rows[-1] < row:
            rows.append(row)  # the common case: a new object is the latest
        else:
            self._pending[key] = row
            self._scattered += 1
        self._row_of[key] = row
        if self._scattered > COMPACT_MIN and self._scattered * 2 > self.size():
            self.compact()  # O(n) once per n/2 scattered inserts: O(1) amortised

    def _merge(self) -> None:
        """Merge the pending rows into ``_rows`` (kept the same list object).

        A few are bisect-inserted (one memmove each, no row touched); more are merged in one
        pass that copies the rows after the first insertion point: a copy costs a few ns per
        row, a shift a fraction of one, so the pass wins past ~MERGE_BY_PASS rows (measured at
        10k-1M rows). ``list.sort`` over the two runs would compare every row (several times
        slower than the pass: it reads each row's value, a cache miss apiece in a large store).
        """
        pending = sorted(self._pending.values())
        self._pending.clear()
        rows = self._rows
        if len(pending) < MERGE_BY_PASS:
            for row in pending:
                insort(rows, row)
            return
        first = lo = bisect_right(rows, pending[0])
        merged: list[Row] = []
        for row in pending:
            hi = bisect_right(rows, row, lo)
            merged += rows[lo:hi]
            merged.append(row)
            lo = hi
        merged += rows[lo:]
        rows[first:] = merged

    def compact(self) -> None:
        """Re-make every row (same values) in index order, so that the rows of a page are
        neighbours in memory (see the class docstring); the list object itself is kept."""
        rows = self.rows
        rows[:] = [(value, seq, key, obj) for value, seq, key, obj in rows]
        self._row_of = {row[2]: row for row in rows}
        self._scattered = 0

    def append_unsorted(self, key: str, obj: JSON, seq: int) -> None:
        """Add a new key's row at the end; the caller calls :meth:`sort` afterwards (bulk loads)."""
        row = (self.extract(obj), seq, key, obj)
        self._rows.append(row)
        self._row_of[key] = row

    def sort(self) -> None:
        """Sort every row, pending ones included (after :meth:`append_unsorted`)."""
        self._rows.extend(self._pending.values())
        self._pending.clear()
        self._rows.sort()

    def discard(self, key: str) -> None:
        old = self._row_of.pop(key, None)
        if old is not None:
            self._remove(old)

    def _remove(self, row: Row) -> None:
        # A key's row is either pending or in ``_rows``, never both; no merge is forced.
        if self._pending.pop(row[2], None) is None:
            del self._rows[bisect_left(self._rows, row)]

    def value(self, key: str) -> Any:
        owner = self.owner
        if owner is not None and owner.unindexed:
            owner.settle()
        return self._row_of[key][0]

    def row(self, key: str) -> Row:
        owner = self.owner
        if owner is not None and owner.unindexed:
            owner.settle()
        return self._row_of[key]

    def clear(self) -> None:
        self._rows.clear()
        self._pending.clear()
        self._row_of.clear()
        self._scattered = 0


def window(
    rows: list[Row], after: Any = None, before: Any = None, skip_missing: bool = False
) -> tuple[int, int]:
    """Positions ``[lo, hi)`` of the rows whose value is ``> after`` and ``< before``.

    Rows are sorted by ``(value, seq, key)``; ``(v, +inf)`` sorts after every row of value v.
    """
    lo, hi = 0, len(rows)
    if after is not None:
        lo = bisect_right(rows, (after, float("inf")))
    elif skip_missing:
        lo = bisect_right(rows, (MISSING, float("inf")))
    if before is not None:
        hi = bisect_left(rows, (before,))
    return lo, max(lo, hi)


def bucket_text(value: Any) -> str | None:
    """A field's value as the filters compare it (filters._text): the key of its bucket."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Bucket:
    """The keys of one collection grouped by one field's value (as :func:`bucket_text`), so an
    equality filter's first page after a write reads its candidates instead of every object."""

    __slots__ = ("_value_of", "field", "keys_of")

    def __init__(self, field: str) -> None:
        self.field = field
        self.keys_of: dict[str, set[str]] = {}
        self._value_of: dict[str, str] = {}  # key -> its bucket (keys whose value is null: none)

    def put(self, key: str, obj: JSON) -> None:
        value = bucket_text(obj.get(self.field))
        old = self._value_of.get(key)
        if old == value:
            return
        if old is not None:
            self._drop(key, old)
        if value is not None:
            self.keys_of.setdefault(value, set()).add(key)
            self._value_of[key] = value

    def discard(self, key: str) -> None:
        old = self._value_of.get(key)
        if old is not None:
            self._drop(key, old)

    def _drop(self, key: str, value: str) -> None:
        del self._value_of[key]
        keys = self.keys_of[value]
        keys.discard(key)
        if not keys:
            del self.keys_of[value]


KEY = "@key"  # a filter clause on the collection's own key (a voucher's code)
Clause = list[tuple[str, tuple[str, ...]]]  # (field, values): a key matches one of them


class Group:
    """Indexes, creation ranks and cached views shared by one or more :class:`IndexedDict`."""

    def __init__(self, orders: Mapping[str, Extract]) -> None:
        self.indexes = {name: OrderIndex(extract, self) for name, extract in orders.items()}
        # Equality buckets per filtered field, built on a filter's first use and then kept
        # in step with every write (memory is spent only on fields that are filtered on).
        self.buckets: dict[str, Bucket] = {}
        self.seq: dict[str, int] = {}
        self.next_seq = 0
        self.version = 0
        self.views: dict[Any, Any] = {}
        self.members: list[IndexedDict] = []
        # Written and not yet indexed, key -> (object, seq), in write order (see the module doc).
        self.unindexed: dict[str, tuple[JSON, int]] = {}

    def settle(self) -> None:
        """Index the objects written since the last read, in the order they were written."""
        if not self.unindexed:
            return
        noted, self.unindexed = self.unindexed, {}
        indexes = list(self.indexes.values())
        buckets = list(self.buckets.values())
        for key, (obj, seq) in noted.items():
            for index in indexes:
                index.put(key, obj, seq)
            for bucket in buckets:
                bucket.put(key, obj)

    def lookup(self, key: str) -> JSON:
        for member in self.members:
            if key in member:
                return dict.__getitem__(member, key)
        raise KeyError(key)


class IndexedDict(dict[str, JSON]):
    """A ``dict`` of stored objects with sorted indexes (``orders``) and creation ranks.

    ``orders`` maps an ordering name (e.g. ``"created_at"``) to its extractor. Only the mutating
    ``dict`` methods the sandbox uses are overridden; each keeps the indexes in step.
    """

    def __init__(
        self,
        orders: Mapping[str, Extract],
        items: Iterable[tuple[str, JSON]] = (),
        *,
        share_with: IndexedDict | None = None,
    ) -> None:
        super().__init__()
        # ``share_with``: one index over two dicts (redemptions and rollbacks list together).
        self.group: Group = share_with.group if share_with is not None else Group(orders)
        self.group.members.append(self)
        self.seq = self.group.seq
        self.views = self.group.views  # derived selections, dropped on every write
        for key, obj in items:
            self[key] = obj

    @property
    def version(self) -> int:
        return self.group.version

    @property
    def indexes(self) -> dict[str, OrderIndex]:
        """The sorted indexes by ordering name, every write indexed."""
        self.group.settle()
        return self.group.indexes

    def _index(self, key: str, obj: JSON) -> None:
        group = self.group
        seq = self.seq.get(key)
        if seq is None:
            seq = self.seq[key] = group.next_seq
            group.next_seq += 1
        group.unindexed[key] = (obj, seq)  # indexed by the next reader (Group.settle)
        group.version += 1
        if self.views:
            self.views.clear()

    def _unindex(self, key: str) -> None:
        self.seq.pop(key, None)
        self.group.unindexed.pop(key, None)
        for index in self.group.indexes.values():
            index.discard(key)
        for bucket in self.group.buckets.values():
            bucket.discard(key)
        self._wrote()

    def _wrote(self) -> None:
        self.group.version += 1
        if self.views:
            self.views.clear()

    def touch(self, key: str) -> None:
        """Re-index ``self[key]`` after an in-place change of one of its indexed fields."""
        if key in self:
            self._index(key, dict.__getitem__(self, key))

    def __setitem__(self, key: str, obj: JSON) -> None:
        super().__setitem__(key, obj)
        self._index(key, obj)

    def put_many(self, items: Iterable[tuple[str, JSON]]) -> None:
        """Store many objects at once, as ``self[key] = obj`` each would, in order.

        New keys get their rows appended and every index is sorted once at the end (Timsort:
        nearly linear on rows already in order, such as creation times), instead of one
        ``insort`` per object, whose list shifting makes loading n objects in a text order
        O(n^2). Keys already stored are re-indexed one by one. A batch smaller than
        1/:data:`BULK_SHARE` of the store is stored one object at a time instead (the sort and
        compact would cost O(store), not O(batch)).
        """
        batch = items if isinstance(items, list) else list(items)
        if len(batch) * BULK_SHARE < len(self):
            # A few objects into a large store: one by one (OrderIndex.put, O(1) amortised).
            # The sort and compact below cost O(store) per batch: a job storing 200 codes per
            # chunk, or a publication making one code, paid for every stored voucher each time
            # (review 17: generating 20k codes was quadratic, ~0.1 s of compact per chunk).
            for key, obj in batch:
                self[key] = obj
            return
        indexes = list(self.indexes.values())  # (settled: earlier writes are indexed first)
        added = 0
        again: list[tuple[str, JSON]] = []
        for key, obj in batch:
            if key in self or key in self.seq:
                # Re-indexed after the sort: a bisection into the rows appended unsorted so
                # far removed the wrong row (or none: an IndexError).
                again.append((key, obj))
                continue
            dict.__setitem__(self, key, obj)
            seq = self.seq[key] = self.group.next_seq
            self.group.next_seq += 1
            for index in indexes:
                index.append_unsorted(key, obj, seq)
            for bucket in self.group.buckets.values():
                bucket.put(key, obj)
            added += 1
        if added:
            for index in indexes:
                index.sort()
                index.compact()
            self._wrote()
        for key, obj in again:
            self[key] = obj

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._unindex(key)

    def pop(self, key: str, *default: Any) -> Any:
        had = key in self
        value = super().pop(key, *default)
        if had:
            self._unindex(key)
        return value

    def popitem(self) -> tuple[str, JSON]:
        key, value = super().popitem()
        self._unindex(key)
        return key, value

    def setdefault(self, key: str, default: JSON) -> JSON:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, obj in dict(*args, **kwargs).items():
            self[key] = obj

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def bucket(self, field: str) -> Bucket:
        """The equality bucket of ``field``, built by one pass on first use."""
        self.group.settle()
        found = self.group.buckets.get(field)
        if found is None:
            found = Bucket(field)
            for member in self.group.members:
                for key, obj in dict.items(member):
                    found.put(key, obj)
            self.group.buckets[field] = found
        return found

    def candidates(self, clauses: list[Clause]) -> set[str] | None:
        """The keys that can satisfy every clause (a superset of the matches: the filter's
        predicate still decides), or None when there is no clause."""
        best: set[str] | None = None
        for clause in clauses:
            if len(clause) == 1 and clause[0][0] != KEY and len(clause[0][1]) == 1:
                field, (value,) = clause[0]  # one bucket as is (read only, never changed here)
                keys = self.bucket(field).keys_of.get(value, set())
                best = keys if best is None else best & keys
                continue
            keys = set()
            for field, values in clause:
                if field == KEY:
                    keys.update(v for v in values if v in self)
                    continue
                bucket = self.bucket(field)
                for value in values:
                    keys |= bucket.keys_of.get(value, set())
            best = keys if best is None else best & keys
        return best

    def ordered(self, name: str) -> list[Row]:
        self.group.settle()
        return self.group.indexes[name].rows

    def obj(self, key: str) -> JSON:
        """The stored object ``key`` of this dict's group."""
        return self.group.lookup(key)

    def objects(self, rows: Iterable[Row]) -> list[JSON]:
        """The stored objects of ``rows`` (from any dict of the group). One C loop (``map``),
        not a generator: the rows' memory reads overlap instead of waiting for each other."""
        return list(map(_OBJ, rows))


def indexed(orders: Mapping[str, Extract], items: Mapping[str, JSON] | None = None) -> IndexedDict:
    """A new :class:`IndexedDict` holding ``items`` in their (creation) order."""
    return IndexedDict(orders, (items or {}).items())
