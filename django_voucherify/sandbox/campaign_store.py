"""Campaigns and publications: where they are stored, and the indexes derived from them.

Stored (persisted with ``--data``, JSON as the API returns it) in ``state.extra``:
``campaigns`` (id -> campaign, creation order), ``campaigns_bin`` (id -> campaign deleted
without ``force``), ``publications`` (id -> publication, creation order) and
``campaign_joins`` (``"<campaign id> <customer id>"`` -> the code a ``join_once`` campaign gave). Nothing here
touches ``state.py``'s collections, so a save/load carries them as they are.

Derived (``state.transient``, never persisted, rebuilt on first use after a load): a
campaign's id by name, the codes of each campaign not yet published (a queue, so a publication
takes its code in O(1) instead of scanning the campaign's vouchers). Each index remembers the
stored dict it was built from; when ``load_json`` replaces ``state.extra`` the index no
longer matches and is rebuilt.

A campaign's vouchers are found through the voucher store's own equality bucket on
``campaign_id`` (store.Bucket), kept in step with every voucher write.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from typing import Any

from django_voucherify.sandbox.engine.eligibility import Failure
from django_voucherify.sandbox.errors import not_found
from django_voucherify.sandbox.state import SandboxState

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
    state.transient.get("campaign_free", {}).get("queues", {}).pop(campaign["id"], None)


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


def _free(state: SandboxState, campaign_id: str) -> deque[str]:
    stored = campaigns(state)
    index = _derived(state, "campaign_free", stored)
    if index is None:
        index = state.transient["campaign_free"] = {"source": stored, "queues": {}}
    queues: dict[str, deque[str]] = index["queues"]
    queue = queues.get(campaign_id)
    if queue is None:
        # Built once per campaign (after a load, or for codes added by another door), in
        # creation order, as Voucherify publishes the oldest unpublished code first.
        codes = voucher_codes(state, campaign_id)
        seq = state.vouchers.seq
        queue = queues[campaign_id] = deque(
            sorted((c for c in codes if _publishable(state.vouchers.get(c))), key=lambda c: seq.get(c, 0))
        )
    return queue


def offer_codes(state: SandboxState, campaign_id: str, codes: list[str]) -> None:
    """New codes of the campaign become publishable (called when they are created)."""
    index = _derived(state, "campaign_free", campaigns(state))
    queue = index["queues"].get(campaign_id) if index else None
    if queue is not None:
        queue.extend(codes)


def take_free_code(state: SandboxState, campaign_id: str, taken: Collection[str] = ()) -> JSON | None:
    """The oldest publishable voucher of the campaign (removed from the queue), or None.

    Codes deleted, disabled or published by another door since they were queued are
    skipped here (each is looked at once). When the queue runs dry it is rebuilt once from
    the campaign's vouchers, so a code added by another door is still found. ``taken``: codes
    this request already took but has not published yet (a publication of several codes):
    the rebuilt queue still holds them and must not hand them out twice."""
    for attempt in range(2):
        queue = _free(state, campaign_id)
        while queue:
            code = queue.popleft()
            if code in taken:
                continue
            voucher = state.vouchers.get(code)
            if _publishable(voucher) and voucher is not None and voucher.get("campaign_id") == campaign_id:
                return voucher
        if attempt == 0:
            index = state.transient["campaign_free"]
            index["queues"].pop(campaign_id, None)
    return None


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
