"""Campaigns and publications: where they are stored, and the indexes derived from them.

Stored (persisted with ``--data``, JSON as the API returns it) in ``state.extra``:
``campaigns`` (id -> campaign, creation order), ``campaigns_bin`` (id -> campaign deleted
without ``force``), ``publications`` (id -> publication, creation order) and
``campaign_joins`` (``"<campaign id> <customer id>"`` -> the code a ``join_once`` campaign gave). Nothing here
touches ``state.py``'s collections, so a save/load carries them as they are.

Derived (never persisted, rebuilt on first use after a load): a campaign's id by name
(``state.transient``: each index remembers the stored dict it was built from; when
``load_json`` replaces ``state.extra`` the index no longer matches and is rebuilt), and the
codes of each campaign not yet published (:class:`FreeCodes`, a queue kept in step with every
voucher write, so a publication takes its code in O(1) instead of scanning the campaign's
vouchers).

A campaign's vouchers are found through the voucher store's own equality bucket on
``campaign_id`` (store.Bucket), kept in step with every voucher write.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Collection, Mapping
from typing import Any

from django_voucherify.sandbox.engine.eligibility import Failure
from django_voucherify.sandbox.errors import not_found
from django_voucherify.sandbox.state import SandboxState
from django_voucherify.sandbox.store import Bucket

JSON = dict[str, Any]


def campaigns(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault("campaigns", {})
    return found


def campaigns_bin(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault("campaigns_bin", {})
    return found


def publications(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault("publications", {})
    return found


def _derived(state: SandboxState, name: str, source: Any) -> JSON | None:
    """The transient index ``name`` if it was built from ``source`` (this very object)."""
    index: JSON | None = state.transient.get(name)
    if index is not None and index.get("source") is source:
        return index
    return None


# ---- campaigns by name ---------------------------------------------------------------------
def _names(state: SandboxState) -> dict[str, str]:
    stored = campaigns(state)
    index = _derived(state, "campaign_names", stored)
    if index is None:
        index = {"source": stored, "ids": {c["name"]: cid for cid, c in stored.items() if c.get("name")}}
        state.transient["campaign_names"] = index
    names: dict[str, str] = index["ids"]
    return names


def find(state: SandboxState, id_or_name: str) -> JSON | None:
    """A campaign by ``camp_`` id or by name (Voucherify accepts both in paths)."""
    stored = campaigns(state)
    found = stored.get(id_or_name)
    if found is None:
        cid = _names(state).get(id_or_name)
        found = stored.get(cid) if cid else None
    return found


def get_or_404(state: SandboxState, id_or_name: str) -> JSON:
    found = find(state, id_or_name)
    if found is None:
        raise not_found("campaign", id_or_name)
    return found


def name_taken(state: SandboxState, name: str) -> bool:
    return name in _names(state)


def put(state: SandboxState, campaign: JSON) -> None:
    campaigns(state)[campaign["id"]] = campaign
    _names(state)[campaign["name"]] = campaign["id"]


def remove(state: SandboxState, campaign: JSON) -> None:
    campaigns(state).pop(campaign["id"], None)
    _names(state).pop(campaign["name"], None)
    _watch(state).forget(campaign["id"])


# ---- a campaign's vouchers -----------------------------------------------------------------
def voucher_codes(state: SandboxState, campaign_id: str) -> set[str]:
    """The codes of the campaign's stored vouchers (a live set: copy it before writing)."""
    return state.vouchers.bucket("campaign_id").keys_of.get(campaign_id, set())


def vouchers_count(state: SandboxState, campaign_id: str) -> int:
    return len(voucher_codes(state, campaign_id))


def _publishable(voucher: JSON | None) -> bool:
    """Voucherify: "A voucher is suitable for publication when it's active and hasn't been
    published yet"."""
    if voucher is None or voucher.get("active") is False or voucher.get("holder_id"):
        return False
    publish = voucher.get("publish") or {}
    return not publish.get("count")


#: The name the free-code watch is registered under among the voucher store's buckets (a
#: name no filter uses: filter fields are plain field names).
FREE_CODES = "@campaign_free_codes"


class FreeCodes(Bucket):
    """Each campaign's publishable codes, oldest first, kept in step with every voucher write.

    Registered among the voucher store's equality buckets (store.Group.buckets), so every write
    of a voucher, by any door (generation, import, create-voucher with a ``campaign_id``,
    enable-voucher, ...), passes through :meth:`put`: a code of a campaign whose queue is built
    joins it when it becomes publishable. A publication then takes its code in O(1) amortised,
    also once the campaign is exhausted (review 17: the queue was rebuilt from all the
    campaign's vouchers on every publication of an exhausted AUTO_UPDATE campaign, O(N) each).
    Codes that stop being publishable stay queued and are skipped when reached (each once).
    """

    __slots__ = ("queued", "queues")

    def __init__(self) -> None:
        super().__init__(FREE_CODES)
        self.queues: dict[str, deque[str]] = {}
        self.queued: dict[str, set[str]] = {}  # the codes in each queue (no code twice)

    def put(self, key: str, obj: JSON) -> None:
        campaign_id = obj.get("campaign_id")
        if campaign_id is None:
            return
        queued = self.queued.get(campaign_id)
        if queued is None or key in queued or not _publishable(obj):
            return
        queued.add(key)
        self.queues[campaign_id].append(key)

    def discard(self, key: str) -> None:
        """A deleted voucher's code stays queued: it is skipped when reached."""

    def build(self, state: SandboxState, campaign_id: str) -> None:
        """The campaign's queue from its stored vouchers (once per campaign and load), in
        creation order, as Voucherify publishes the oldest unpublished code first."""
        codes = voucher_codes(state, campaign_id)
        seq = state.vouchers.seq
        free = sorted((c for c in codes if _publishable(state.vouchers.get(c))), key=lambda c: seq.get(c, 0))
        self.queues[campaign_id] = deque(free)
        self.queued[campaign_id] = set(free)

    def forget(self, campaign_id: str) -> None:
        self.queues.pop(campaign_id, None)
        self.queued.pop(campaign_id, None)


def _watch(state: SandboxState) -> FreeCodes:
    """The free-code watch of the current voucher store (a load replaces the store: a new one),
    every voucher written so far passed through it (writes are indexed when next read:
    store.Group.settle)."""
    group = state.vouchers.group
    group.settle()
    buckets = group.buckets
    watch = buckets.get(FREE_CODES)
    if not isinstance(watch, FreeCodes):
        watch = buckets[FREE_CODES] = FreeCodes()
    return watch


def _free(state: SandboxState, campaign_id: str) -> tuple[deque[str], set[str]]:
    watch = _watch(state)
    if campaign_id not in watch.queues:
        watch.build(state, campaign_id)
    return watch.queues[campaign_id], watch.queued[campaign_id]


def take_free_code(state: SandboxState, campaign_id: str, taken: Collection[str] = ()) -> JSON | None:
    """The oldest publishable voucher of the campaign (removed from the queue), or None.

    Codes deleted, disabled or published by another door since they were queued are skipped
    here (each is looked at once). ``taken``: codes this request already took but has not
    published yet (a publication of several codes). A code taken but then not published
    goes back with :func:`give_back`."""
    queue, queued = _free(state, campaign_id)
    while queue:
        code = queue.popleft()
        queued.discard(code)
        if code in taken:
            continue
        voucher = state.vouchers.get(code)
        if _publishable(voucher) and voucher is not None and voucher.get("campaign_id") == campaign_id:
            return voucher
    return None


def give_back(state: SandboxState, campaign_id: str, codes: list[str]) -> None:
    """Codes :func:`take_free_code` handed out but a failed publication did not publish: back
    at the front of the queue, in their order."""
    queue, queued = _free(state, campaign_id)
    for code in reversed(codes):
        if code not in queued:
            queued.add(code)
            queue.appendleft(code)


# ---- a campaign's transactions -------------------------------------------------------------
TxKey = tuple[str, int, int]


class CampaignTransactions:
    """The transactions of each campaign's cards, oldest first, kept in step by
    ``SandboxState.add_voucher_transaction`` (through ``state.transient``), so a page of
    list-campaign-transactions is a bisection and a slice, not a merge of every card's log
    (review 17: each page re-read and re-sorted all the campaign's transactions).

    Order: creation time (milliseconds); ties by the cards' creation order, then by each
    card's own order (the sandbox keeps no global transaction sequence)."""

    def __init__(self, source: dict[str, list[JSON]]) -> None:
        self.source = source  # state.voucher_transactions this index was built from
        self.lists: dict[str, list[JSON]] = {}
        self.keys: dict[str, TxKey] = {}  # transaction id -> its sort key

    def build(self, state: SandboxState) -> None:
        """Every campaign's list, in one pass over all transactions (once per load). By the
        transaction's own ``campaign_id``, as the campaign's transactions export filters: a
        card deleted later keeps its transactions listed."""
        seq, codes = state.vouchers.seq, state.voucher_codes_by_id
        for voucher_id, txs in self.source.items():
            rank = seq.get(codes.get(voucher_id, ""), 0)
            for i, tx in enumerate(txs):
                if tx.get("campaign_id") is None:
                    continue
                self.keys[tx["id"]] = (str(tx.get("created_at") or ""), rank, i)
                self.lists.setdefault(str(tx["campaign_id"]), []).append(tx)
        for found in self.lists.values():
            found.sort(key=self.key)

    def key(self, tx: JSON) -> TxKey:
        return self.keys[tx["id"]]

    def added(self, state: SandboxState, tx: JSON) -> None:
        """A new transaction (called by add_voucher_transaction once it is stored)."""
        txs = self.lists.setdefault(str(tx["campaign_id"]), [])
        code = state.voucher_codes_by_id.get(tx["voucher_id"], "")
        position = len(self.source.get(tx["voucher_id"], ())) - 1
        self.keys[tx["id"]] = (str(tx.get("created_at") or ""), state.vouchers.seq.get(code, 0), position)
        insort(txs, tx, key=self.key)  # nearly always at the end: the newest

    def position(self, campaign_id: str, tx_id: str) -> int | None:
        """Where transaction ``tx_id`` sits in the campaign's list (a bisection), or None."""
        txs = self.lists.get(campaign_id, [])
        key = self.keys.get(tx_id)
        if key is None:
            return None
        i = bisect_left(txs, key, key=self.key)
        return i if i < len(txs) and txs[i]["id"] == tx_id else None


TRANSACTIONS = "campaign_transactions"


def transactions_index(state: SandboxState) -> CampaignTransactions:
    index = state.transient.get(TRANSACTIONS)
    if not isinstance(index, CampaignTransactions) or index.source is not state.voucher_transactions:
        index = CampaignTransactions(state.voucher_transactions)
        index.build(state)
        state.transient[TRANSACTIONS] = index
    return index


def transactions_of(state: SandboxState, campaign_id: str) -> list[JSON]:
    """The campaign's transactions, oldest first (a live list: do not change it)."""
    return transactions_index(state).lists.get(campaign_id, [])


# ---- publications --------------------------------------------------------------------------
def _joined(state: SandboxState) -> dict[str, str]:
    """``campaign_id customer_id`` -> the code the customer got from that campaign (persisted:
    ``join_once`` must hold across a restart)."""
    joined: dict[str, str] = state.extra.setdefault("campaign_joins", {})
    return joined


def joined_code(state: SandboxState, campaign_id: str, customer_id: str) -> str | None:
    return _joined(state).get(f"{campaign_id} {customer_id}")


def remember_join(state: SandboxState, campaign_id: str, customer_id: str, code: str) -> None:
    _joined(state).setdefault(f"{campaign_id} {customer_id}", code)


def publication_campaigns(state: SandboxState) -> dict[str, str]:
    """Publication id -> the id of the campaign its codes came from (persisted: a publication
    of several codes names no campaign itself)."""
    found: dict[str, str] = state.extra.setdefault("publication_campaigns", {})
    return found


def _publication_index(state: SandboxState) -> JSON:
    """Publication ids by campaign id and by customer id, in creation order (derived)."""
    stored = publications(state)
    index = _derived(state, "publication_index", stored)
    if index is None:
        index = {"source": stored, "campaign": {}, "customer": {}}
        state.transient["publication_index"] = index
        for pub in stored.values():
            _index_publication(state, index, pub)
    return index


def _index_publication(state: SandboxState, index: JSON, pub: JSON) -> None:
    campaign_id = publication_campaigns(state).get(pub["id"])
    if campaign_id:
        index["campaign"].setdefault(campaign_id, []).append(pub["id"])
    if pub.get("customer_id"):
        index["customer"].setdefault(pub["customer_id"], []).append(pub["id"])


def add_publication(state: SandboxState, pub: JSON, campaign_id: str | None) -> None:
    index = _publication_index(state)  # built before the new one is stored: no double entry
    publications(state)[pub["id"]] = pub
    if campaign_id:
        publication_campaigns(state)[pub["id"]] = campaign_id
    _index_publication(state, index, pub)


def publications_of(
    state: SandboxState, *, campaign_id: str | None = None, customer_id: str | None = None
) -> list[JSON]:
    """The publications of a campaign or of a customer, oldest first, through the index."""
    index = _publication_index(state)
    ids = index["campaign"].get(campaign_id, []) if campaign_id else index["customer"].get(customer_id, [])
    stored = publications(state)
    return [stored[pid] for pid in ids if pid in stored]


def disabled_campaign(state: SandboxState, voucher: Mapping[str, Any]) -> Failure | None:
    """disable-campaign: "The vouchers in this campaign can no longer be redeemed." Such a
    voucher fails as a disabled voucher does (``voucher_disabled``: the spec names no key of
    its own for it), the details naming the campaign."""
    campaign_id = voucher.get("campaign_id")
    campaign = campaigns(state).get(campaign_id) if campaign_id else None
    if campaign is None or campaign.get("active") is not False:
        return None
    return Failure("voucher_disabled", f"{voucher.get('code')}: campaign {campaign['name']} is disabled")
