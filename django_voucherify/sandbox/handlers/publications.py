"""Publications (SCOPE-2.md "Publications"): give a customer a code, and list what was given.

create-publication: "selects vouchers that are suitable for publication, adds a publish entry
and returns the publication. A voucher is suitable for publication when it's active and hasn't
been published yet." The source is a campaign (name or id, or ``{"name", "count"}`` for several
codes) or one voucher by code. The customer is upserted as in redemptions; the voucher gets the
customer as ``holder_id`` and its ``publish.count`` grows.

Rules (see docs/sandbox.md for what is inferred):
- ``join_once`` (the campaign's flag, or ``?join_once=true``): a customer who already got a code
  of the campaign gets that publication again, not a new code.
- A ``source_id`` already used answers its publication again (the merchant's id of it).
- No code left: an ``AUTO_UPDATE`` campaign generates one more code (its type's promise that
  publishable codes grow with customers); any other answers 400
  ``no_voucher_suitable_for_publication``, and the failed attempt is stored as a publication
  with ``result: FAILURE``, ``failure_code``, ``failure_message`` and no voucher (the spec's
  ``ListPublicationsItemInvalid``): it is listed, counted by the campaign summary's
  ``publications_failed``, never replayed by its ``source_id`` nor by ``join_once`` (a retry
  once codes were added is served).
Requests run under the state lock, so two simultaneous publications are one after the other:
the second sees the first's ``join_once`` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_voucherify.sandbox import campaign_store
from django_voucherify.sandbox.compact import render
from django_voucherify.sandbox.engine.codegen import CodeSource
from django_voucherify.sandbox.errors import SandboxError, bad_request, invalid_payload
from django_voucherify.sandbox.filters import conditions_predicate
from django_voucherify.sandbox.handlers import campaign_vouchers
from django_voucherify.sandbox.listing import int_param, parse_order
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

NO_CODE_LEFT = "no_voucher_suitable_for_publication"
MAX_COUNT = 100  # codes per publication (the sandbox's bound; Voucherify documents none)


def _no_code_left(campaign: JSON) -> Exception:
    return bad_request(
        NO_CODE_LEFT,
        "Couldn't find any voucher suitable for publication.",
        f"Campaign {campaign['name']} has no active, unpublished code left",
        resource_id=campaign["id"],
        resource_type="campaign",
    )


def _customer_view(customer: JSON) -> JSON:
    keep = ("id", "source_id", "name", "email", "metadata")
    return {**{k: customer.get(k) for k in keep}, "object": "customer"}


def _voucher_item(voucher: JSON) -> JSON:
    """ListPublicationsItemVoucher, plus the campaign's id (the summary counts by it)."""
    item: JSON = {
        "code": voucher["code"],
        "object": "voucher",
        "campaign": voucher.get("campaign"),
        "campaign_id": voucher.get("campaign_id"),
        "is_referral_code": bool(voucher.get("is_referral_code")),
    }
    for name in ("discount", "gift", "loyalty_card"):
        if voucher.get(name) is not None:
            item[name] = voucher[name]
    return item


def _publish(state: SandboxState, voucher: JSON, customer: JSON) -> None:
    voucher["holder_id"] = customer["id"]
    count = int((voucher.get("publish") or {}).get("count") or 0) + 1
    voucher["publish"] = {**(voucher.get("publish") or {}), "object": "list", "count": count}
    state.vouchers.touch(voucher["code"])


def _campaign_voucher(state: SandboxState, campaign: JSON, taken: set[str]) -> JSON:
    voucher = campaign_store.take_free_code(state, campaign["id"], taken)
    if voucher is not None:
        return voucher
    if campaign.get("type") == "AUTO_UPDATE" and "voucher" in campaign:
        source = CodeSource(campaign["voucher"]["code_config"])
        # A campaign whose codes fill its code_config's space makes no more (review 17: each
        # publication of such a campaign drew MAX_MISSES codes under the lock to find none).
        full = campaign_store.vouchers_count(state, campaign["id"]) >= source.capacity
        if not full and campaign_vouchers.generate_chunk(state, campaign, source, 1, {})[0]:
            voucher = campaign_store.take_free_code(state, campaign["id"], taken)
            if voucher is not None:
                return voucher
    raise _no_code_left(campaign)


def _source(payload: JSON) -> tuple[str | None, str | None, int]:
    """(campaign id or name, voucher code, count) of the request."""
    raw = payload.get("campaign")
    code = payload.get("voucher")
    if code is not None and not isinstance(code, str):
        raise invalid_payload("voucher must be a voucher code (string)")
    count = 1
    name: Any = raw
    if isinstance(raw, dict):
        name = raw.get("name") or raw.get("id")
        if raw.get("count") is not None:
            count = raw["count"]
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
                raise invalid_payload(f"campaign.count must be an integer from 1 to {MAX_COUNT}")
    if name is not None and not isinstance(name, str):
        raise invalid_payload("campaign must be a campaign name or an object with its name")
    if not name and not code:
        raise invalid_payload("campaign or voucher: give the campaign to publish from, or a voucher code")
    return name or None, code or None, count


@route("POST", "/v1/publications", operation_id="create-publication")
def create_publication(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    payload = req.json_object()
    raw_customer = payload.get("customer")
    if not isinstance(raw_customer, dict):
        raise invalid_payload("customer: property is required (an object)")
    for name in ("metadata",):
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            raise invalid_payload(f"{name} must be an object")
    for name in ("channel", "source_id"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise invalid_payload(f"{name} must be a string")
    campaign_ref, code, count = _source(payload)
    join_flag = str(req.query.get("join_once", "")).lower() == "true"
    campaign = campaign_store.get_or_404(state, campaign_ref) if campaign_ref and not code else None
    voucher = state.get_voucher_or_404(code) if code else None
    source_id = payload.get("source_id")
    sources: dict[str, str] = state.extra.setdefault("publication_sources", {})
    pubs = campaign_store.publications(state)
    if source_id and sources.get(source_id) in pubs:
        return ok(_answer(state, pubs[sources[source_id]]))
    customer = state.upsert_customer(raw_customer)
    join_once = campaign is not None and (join_flag or campaign.get("join_once") is True)
    if join_once and campaign is not None:
        earlier = campaign_store.joined_code(state, campaign["id"], customer["id"])
        if earlier in pubs:
            return ok(_answer(state, pubs[str(earlier)]))
    if voucher is not None:
        given = [voucher]
    else:
        assert campaign is not None
        if join_once:
            count = 1  # one code per customer
        given = []
        try:
            for _ in range(count):  # distinct codes: each is published only once all are taken
                given.append(_campaign_voucher(state, campaign, {v["code"] for v in given}))
        except SandboxError as refused:
            # Not enough codes: the ones taken stay publishable, first in the queue again.
            campaign_store.give_back(state, campaign["id"], [v["code"] for v in given])
            _store_failure(state, payload, customer, campaign, refused)
            raise
    for v in given:
        _publish(state, v, customer)
    pub: JSON = {
        "id": state.new_id("pub_", 32),
        "object": "publication",
        "created_at": state.now_iso(),
        "customer_id": customer["id"],
        "tracking_id": customer.get("source_id"),
        "metadata": payload.get("metadata") or {},
        "channel": payload.get("channel") or "API",
        "source_id": source_id,
        "result": "SUCCESS",
        "customer": _customer_view(customer),
        "vouchers_id": [v["id"] for v in given],
    }
    if len(given) == 1:
        pub["voucher"] = _voucher_item(given[0])
    else:
        pub["vouchers"] = [v["code"] for v in given]
    campaign_id = campaign["id"] if campaign is not None else voucher.get("campaign_id") if voucher else None
    campaign_store.add_publication(state, pub, campaign_id)
    if source_id:
        sources[source_id] = pub["id"]
    if join_once and campaign is not None:
        campaign_store.remember_join(state, campaign["id"], customer["id"], pub["id"])
    return ok(_answer(state, pub))


def _store_failure(
    state: SandboxState, payload: JSON, customer: JSON, campaign: JSON, error: SandboxError
) -> None:
    """A publication that gave nothing, kept as Voucherify lists it (``result: FAILURE``)."""
    failed: JSON = {
        "id": state.new_id("pub_", 32),
        "object": "publication",
        "created_at": state.now_iso(),
        "customer_id": customer["id"],
        "tracking_id": customer.get("source_id"),
        "metadata": payload.get("metadata") or {},
        "channel": payload.get("channel") or "API",
        "source_id": payload.get("source_id"),
        "result": "FAILURE",
        "failure_code": error.key,
        "failure_message": error.message,
        "customer": _customer_view(customer),
        "vouchers": [],
        "vouchers_id": [],
    }
    campaign_store.add_publication(state, failed, campaign["id"])


def _answer(state: SandboxState, pub: JSON) -> JSON:
    """The create response: the stored publication with the full voucher (one code)."""
    if "voucher" not in pub:
        return pub
    voucher = state.vouchers.get(pub["voucher"]["code"])
    if voucher is None:
        return pub
    return {**pub, "voucher": render(voucher)}


# ---- list -----------------------------------------------------------------------------------
LIST_ORDERS = (
    "id",
    "-id",
    "voucher_code",
    "-voucher_code",
    "tracking_id",
    "-tracking_id",
    "customer_id",
    "-customer_id",
    "created_at",
    "-created_at",
    "channel",
    "-channel",
)


def _codes(pub: JSON) -> list[str]:
    if "voucher" in pub:
        return [pub["voucher"]["code"]]
    return list(pub.get("vouchers") or [])


FILTER_FIELDS: dict[str, Callable[[JSON], Any]] = {
    "campaign_name": lambda p: p["voucher"].get("campaign") if "voucher" in p else None,
    "customer_id": lambda p: p.get("customer_id"),
    "voucher_type": lambda p: _type_of(p),
    "is_referral_code": lambda p: "voucher" in p and bool(p["voucher"].get("is_referral_code")),
    "parent_object_id": lambda p: (p.get("voucher") or {}).get("campaign_id"),
    "related_object_id": lambda p: (p.get("voucher") or {}).get("code"),
    "source_id": lambda p: p.get("source_id"),
    "failure_code": lambda p: p.get("failure_code"),
    "result": lambda p: p.get("result"),
}


def _type_of(pub: JSON) -> str | None:
    voucher = pub.get("voucher") or {}
    if voucher.get("loyalty_card") is not None:
        return "loyalty"
    if voucher.get("gift") is not None:
        return "gift"
    return "discount" if voucher else None


def _sort_key(field: str) -> Callable[[JSON], str]:
    if field == "voucher_code":
        return lambda p: (_codes(p) or [""])[0]
    return lambda p: str(p.get(field) or "")


@route("GET", "/v1/publications", operation_id="list-publications")
def list_publications(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 1000)
    field, descending = parse_order(q.get("order"), LIST_ORDERS, "-created_at")
    # A campaign or customer filter starts from its index, not from every publication.
    if q.get("campaign"):
        campaign = campaign_store.find(state, str(q["campaign"]))
        items = campaign_store.publications_of(state, campaign_id=campaign["id"]) if campaign else []
        if q.get("customer"):
            cust = state.find_customer(str(q["customer"]))
            cid = cust["id"] if cust else str(q["customer"])
            items = [p for p in items if p.get("customer_id") == cid]
    elif q.get("customer"):
        cust = state.find_customer(str(q["customer"]))
        items = campaign_store.publications_of(state, customer_id=cust["id"] if cust else str(q["customer"]))
    else:
        items = list(campaign_store.publications(state).values())
    if q.get("voucher"):
        items = [p for p in items if str(q["voucher"]) in _codes(p)]
    if q.get("result"):
        items = [p for p in items if p.get("result") == q["result"]]
    if q.get("voucher_type"):
        items = [p for p in items if _type_of(p) == q["voucher_type"]]
    if q.get("is_referral_code") not in (None, ""):
        wanted_ref = str(q["is_referral_code"]).lower() == "true"
        items = [p for p in items if FILTER_FIELDS["is_referral_code"](p) == wanted_ref]
    if q.get("source_id"):
        items = [p for p in items if p.get("source_id") == q["source_id"]]
    predicate = conditions_predicate(q.get("filters") or None, FILTER_FIELDS, any_field=True)
    if predicate is not None:
        items = [p for p in items if predicate(p)]
    if field in ("id", "created_at"):
        # Stored in creation order, which is also "id" order (ids are random; Voucherify's
        # are sortable by creation).
        if descending:
            items.reverse()
    else:
        items.sort(key=_sort_key(field), reverse=descending)  # stable: creation order breaks ties
    start = (page - 1) * limit
    return ok(
        {
            "object": "list",
            "data_ref": "publications",
            "publications": items[start : start + limit],
            "total": len(items),
        }
    )
