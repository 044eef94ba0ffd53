"""All sandbox data, in the spec's JSON shapes, behind one re-entrant lock.

Contract:
- Every object is stored exactly as the API returns it (plain dicts/lists/str/int), so handlers
  serialise them without conversion and :meth:`SandboxState.to_json` persists them as they are.
- ``state.lock`` (an ``RLock``) guards everything. The WSGI app already holds it while a handler
  runs, so handlers need not take it; background threads (async actions) must.
- Time comes from ``state.clock`` (injectable, aware UTC) and is formatted by :func:`iso`
  (``2022-03-09T11:19:04.819Z``, the spec's examples' format).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from django_voucherify.sandbox import ids
from django_voucherify.sandbox.compact import compact, jsonable
from django_voucherify.sandbox.errors import invalid_payload, not_found
from django_voucherify.sandbox.store import IndexedDict, indexed, key_of, text_of, timestamp_of, timestamp_or

JSON = dict[str, Any]


def iso(dt: datetime) -> str:
    """Format an aware datetime like Voucherify: UTC, milliseconds, ``Z`` suffix."""
    if dt.tzinfo is not UTC:  # the clock's own times are UTC already: no conversion to make
        dt = dt.astimezone(UTC)
    # Formatted by hand: strftime is several times slower, and every redeem stamps objects;
    # ``%`` with a tuple costs half the f-string's seven format specs (~1 us a call).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        dt.year,
        dt.month,
        dt.day,
        dt.hour,
        dt.minute,
        dt.second,
        dt.microsecond // 1000,
    )


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset; a naive value is taken as UTC)."""
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _redemption_code(obj: JSON) -> tuple[bool, str]:
    code = (obj.get("voucher") or {}).get("code")
    return (code is not None, "" if code is None else str(code))


# The sorted indexes kept per listed collection: one per documented ordering (and per date
# window the list endpoints take), see store.py. Redemptions and rollbacks share theirs.
VOUCHER_ORDERS = {
    "created_at": timestamp_of("created_at"),
    "updated_at": timestamp_of("updated_at"),
    "code": key_of("code"),
}
CUSTOMER_ORDERS = {
    "created_at": timestamp_of("created_at"),
    "updated_at": timestamp_of("updated_at"),
    "source_id": text_of("source_id"),
    # starting_after on updated_at: a never-updated customer last changed when created
    "changed_at": timestamp_or("updated_at", "created_at"),
}
ORDER_ORDERS = {"created_at": timestamp_of("created_at"), "updated_at": timestamp_of("updated_at")}
REDEMPTION_ORDERS = {
    "created_at": timestamp_of("date"),
    "id": text_of("id"),
    "voucher_code": _redemption_code,
    "tracking_id": text_of("tracking_id"),
    "customer_id": text_of("customer_id"),
}


def system_clock() -> datetime:
    return datetime.now(UTC)


# Collections persisted by to_json/from_json, with their meaning.
COLLECTIONS = (
    "vouchers",  # code -> voucher
    "bin",  # code -> voucher deleted without force (code stays reserved)
    "customers",  # id -> customer
    "orders",  # id -> order
    "redemptions",  # id -> redemption (r_ / rf_, parents and children)
    "rollbacks",  # id -> rollback (rr_)
    "sessions",  # session key -> validation session
    "voucher_transactions",  # voucher id -> [transaction, ...] (oldest first)
    "customer_activities",  # customer id -> [activity, ...] (oldest first)
    "async_actions",  # id -> async action
    "exports",  # id -> export
    "extra",  # free space for engine modules (JSON-able only)
)


class SandboxState:
    """In-memory store. Attribute per collection (see ``COLLECTIONS``) plus source_id indexes."""

    def __init__(self, clock: Callable[[], datetime] = system_clock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.bin: dict[str, JSON] = {}
        self._index_collections({}, {}, {}, {}, {})
        self.sessions: dict[str, JSON] = {}
        self.voucher_transactions: dict[str, list[JSON]] = {}
        self.customer_activities: dict[str, list[JSON]] = {}
        self.async_actions: dict[str, JSON] = {}
        self.exports: dict[str, JSON] = {}
        self.extra: dict[str, Any] = {}
        # Kept in memory only, never persisted (bulky, reproducible or short-lived data such as
        # export files, which would otherwise be rewritten to ``--data`` forever).
        self.transient: dict[str, Any] = {}
        # Derived indexes, rebuilt by from_json.
        self.voucher_codes_by_id: dict[str, str] = {}
        self.customer_ids_by_source: dict[str, str] = {}
        self.order_ids_by_source: dict[str, str] = {}
        # Called (under the lock) after each mutating request; the server persists from here.
        self.on_change: list[Callable[[], None]] = []
        # Background jobs (async actions, exports): seconds per state step, running threads.
        self.job_delay: float = 0.01
        self.threads: list[threading.Thread] = []
        # Jobs run only while this is set; a test clears it to act on queued jobs without racing
        # them (a delay alone loses that race on a loaded machine).
        self.jobs_may_run = threading.Event()
        self.jobs_may_run.set()

    def _index_collections(
        self, vouchers: JSON, customers: JSON, orders: JSON, redemptions: JSON, rollbacks: JSON
    ) -> None:
        self.vouchers: IndexedDict = indexed(VOUCHER_ORDERS, vouchers)
        self.customers: IndexedDict = indexed(CUSTOMER_ORDERS, customers)
        self.orders: IndexedDict = indexed(ORDER_ORDERS, orders)
        self.redemptions: IndexedDict = indexed(REDEMPTION_ORDERS, redemptions)
        self.rollbacks = IndexedDict(REDEMPTION_ORDERS, rollbacks.items(), share_with=self.redemptions)

    # ---- time and ids -------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock()

    def now_iso(self) -> str:
        return iso(self.clock())

    @staticmethod
    def new_id(prefix: str, length: int = 18) -> str:
        """A Voucherify-like id: ``prefix`` + random lower-case alphanumerics (see :mod:`.ids`)."""
        return ids.new_id(prefix, length)

    # ---- vouchers -----------------------------------------------------------------------
    def get_voucher_or_404(self, code: str) -> JSON:
        """The voucher by code (or by ``v_`` id, which Voucherify also accepts); 404 otherwise."""
        v = self.vouchers.get(code)
        if v is None and code in self.voucher_codes_by_id:
            v = self.vouchers.get(self.voucher_codes_by_id[code])
        if v is None:
            raise not_found("voucher", code)
        return v

    def put_voucher(self, voucher: JSON) -> None:
        self.vouchers[voucher["code"]] = voucher
        self.voucher_codes_by_id[voucher["id"]] = voucher["code"]

    def put_vouchers(self, vouchers: Iterable[JSON]) -> None:
        """:meth:`put_voucher` for many at once (one sort per index: see ``put_many``)."""
        batch = list(vouchers)
        self.vouchers.put_many((v["code"], v) for v in batch)
        self.voucher_codes_by_id.update((v["id"], v["code"]) for v in batch)

    def remove_voucher(self, code: str) -> JSON:
        v: JSON = self.vouchers.pop(code)
        self.voucher_codes_by_id.pop(v["id"], None)
        return v

    def add_voucher_transaction(
        self,
        voucher: JSON,
        type_: str,
        balance: JSON,
        *,
        source_id: str | None = None,
        source: str = "API",
        reason: str | None = None,
        related_transaction_id: str | None = None,
        details: JSON | None = None,
    ) -> JSON:
        """Append a transaction (``VoucherTransaction`` shape) for ``voucher`` and return it.

        ``type_``: CREDITS_ADDITION / CREDITS_REMOVAL / CREDITS_REDEMPTION / CREDITS_REFUND (gift)
        or POINTS_* (loyalty). ``balance`` is the ``details.balance`` object (VoucherBalance).
        ``details`` is merged in (e.g. ``{"redemption": {"id": ...}, "order": {...}}``).
        """
        tx: JSON = {
            "id": self.new_id("vtx_"),
            "source_id": source_id,
            "voucher_id": voucher["id"],
            "campaign_id": voucher.get("campaign_id"),
            "source": source,
            "reason": reason,
            "type": type_,
            "details": {"balance": balance, **(details or {})},
            "related_transaction_id": related_transaction_id,
            "created_at": self.now_iso(),
        }
        self.voucher_transactions.setdefault(voucher["id"], []).append(tx)
        index = self.transient.get("campaign_transactions")  # campaign_store.CampaignTransactions
        if index is not None and tx["campaign_id"] is not None:
            index.added(self, tx)
        return tx

    # ---- customers ----------------------------------------------------------------------
    def find_customer(self, id_or_source_id: str) -> JSON | None:
        """Look a customer up by ``cust_`` id first, then by ``source_id``."""
        c = self.customers.get(id_or_source_id)
        if c is None:
            cid = self.customer_ids_by_source.get(id_or_source_id)
            c = self.customers.get(cid) if cid else None
        return c

    def get_customer_or_404(self, id_or_source_id: str) -> JSON:
        c = self.find_customer(id_or_source_id)
        if c is None:
            raise not_found("customer", id_or_source_id)
        return c

    def upsert_customer(self, payload: JSON) -> JSON:
        """Create or update a customer from a request's ``customer`` object.

        Identity: ``id`` (must exist, 404 otherwise), else ``source_id`` (updated when known,
        created when new), else a new anonymous customer. Only given fields change; metadata
        is replaced as a whole, as Voucherify's PUT/upsert does.
        """
        self.check_customer_upsert(payload)
        cust: JSON | None
        if payload.get("id"):
            cust = self.customers[str(payload["id"])]
        elif payload.get("source_id"):
            cust = self.find_customer(str(payload["source_id"]))
        else:
            cust = None
        now = self.now_iso()
        if cust is None:
            from django_voucherify.sandbox.objects import new_customer

            cust = new_customer(self.new_id("cust_"), payload.get("source_id"), now)
            self.customers[cust["id"]] = cust
            if cust["source_id"]:
                self.customer_ids_by_source[cust["source_id"]] = cust["id"]
            changed = created = True
        else:
            changed = created = False
        for key in ("name", "description", "email", "phone", "birthday", "birthdate"):
            if key in payload and cust.get(key) != payload[key]:
                cust[key] = payload[key]
                changed = True
        if "metadata" in payload and cust.get("metadata") != payload["metadata"]:
            if payload["metadata"] is None:
                del cust["metadata"]  # cleared: left out, as for a customer created without any
            else:
                cust["metadata"] = payload["metadata"]
            changed = True
        if isinstance(payload.get("address"), dict):
            addr = dict(cust.get("address") or {})
            addr.update(payload["address"])
            if addr != cust.get("address"):
                cust["address"] = addr
                changed = True
        if changed:
            if created:
                self.add_customer_activity(cust, "customer.created", {"customer": copy.deepcopy(cust)})
            else:
                cust["updated_at"] = now
                self.customers.touch(cust["id"])
                self.add_customer_activity(cust, "customer.updated", {"customer": copy.deepcopy(cust)})
        return cust

    def check_customer_upsert(self, payload: Any) -> None:
        """Raise what :meth:`upsert_customer` would refuse ``payload`` for, changing nothing: a
        caller that upserts several objects checks them all first, so a refusal of the last
        one leaves the first unchanged."""
        if not isinstance(payload, dict):
            raise invalid_payload("customer must be an object")
        if payload.get("id") and str(payload["id"]) not in self.customers:
            raise not_found("customer", str(payload["id"]))

    def add_customer_activity(
        self, customer: JSON, type_: str, data: JSON, group_id: str | None = None
    ) -> JSON:
        """Record a ``CustomerActivity`` (``type`` e.g. ``customer.redemption.succeeded``;
        ``data`` is the event's data object, e.g. ``{"customer": ..., "redemption": ...}``)."""
        activity: JSON = {
            "id": self.new_id("evcus_"),
            "type": type_,
            "data": {"data": data, "event_source": {"channel": "API"}},
            "created_at": self.now_iso(),
            "group_id": group_id or self.new_id("v-"),
        }
        self.customer_activities.setdefault(customer["id"], []).append(activity)
        return activity

    # ---- orders -------------------------------------------------------------------------
    def find_order(self, id_or_source_id: str) -> JSON | None:
        o = self.orders.get(id_or_source_id)
        if o is None:
            oid = self.order_ids_by_source.get(id_or_source_id)
            o = self.orders.get(oid) if oid else None
        return o

    def get_order_or_404(self, id_or_source_id: str) -> JSON:
        o = self.find_order(id_or_source_id)
        if o is None:
            raise not_found("order", id_or_source_id)
        return o

    def put_order(self, order: JSON) -> None:
        self.orders[order["id"]] = order
        if order.get("source_id"):
            self.order_ids_by_source[order["source_id"]] = order["id"]

    # ---- persistence --------------------------------------------------------------------
    def to_json(self) -> str:
        """Serialise every collection (indexes are derived, so not stored)."""
        with self.lock:
            return json.dumps({name: getattr(self, name) for name in COLLECTIONS}, default=jsonable)

    def load_json(self, text: str) -> None:
        """Replace the contents with a :meth:`to_json` dump and rebuild the indexes."""
        data = json.loads(text)
        with self.lock:
            for name in COLLECTIONS:
                setattr(self, name, data.get(name, {}))
            # Vouchers back in their compact stored form (see compact.py).
            vouchers: JSON = {code: compact(v) for code, v in data.get("vouchers", {}).items()}
            self.bin = {code: compact(v) for code, v in self.bin.items()}
            # Creation order (the tie-break) is the dump's order; rollbacks are re-ranked
            # after redemptions, a reload's only loss (see docs/sandbox.md).
            self._index_collections(vouchers, self.customers, self.orders, self.redemptions, self.rollbacks)
            self.voucher_codes_by_id = {v["id"]: c for c, v in self.vouchers.items()}
            self.customer_ids_by_source = {
                c["source_id"]: i for i, c in self.customers.items() if c.get("source_id")
            }
            self.order_ids_by_source = {
                o["source_id"]: i for i, o in self.orders.items() if o.get("source_id")
            }

    @classmethod
    def from_json(cls, text: str, clock: Callable[[], datetime] = system_clock) -> SandboxState:
        state = cls(clock)
        state.load_json(text)
        return state

    def drop_views(self) -> None:
        """Forget the cached filtered selections: a handler may have changed a filtered field
        of a stored object in place (the sorted indexes themselves are kept by ``touch``)."""
        for coll in (self.vouchers, self.customers, self.orders, self.redemptions):
            coll.views.clear()

    def changed(self) -> None:
        """Notify persistence listeners that a mutation happened (and drop cached views)."""
        self.drop_views()
        for cb in list(self.on_change):
            cb()
