"""A campaign's vouchers: built from the campaign's voucher template, generated in chunks.

Inheritance (the add-vouchers-to-campaign description: "New vouchers will inherit properties
from the campaign profile. However, it is possible to overwrite some of them"): type and
discount / gift / loyalty card from ``campaign["voucher"]``; dates and validity from the
template, else from the campaign; ``redemption.quantity`` from the template; ``category``
from the campaign. A request may override ``category``, ``metadata`` (merged over the
template's), ``redemption``, ``start_date``, ``expiration_date``, ``additional_info`` and
``active`` (CampaignsVouchersCreateBaseRequestBody and the add-voucher-with-code example).

Generation holds the state lock one chunk at a time (:data:`CHUNK` codes at most, for about
:data:`HOLD_SECONDS` at most), and lets other
requests in between chunks (:func:`breathe`), so ten thousand codes never keep the sandbox
from answering for the whole job.
"""

from __future__ import annotations

import time
from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.engine.codegen import CodeSource
from django_voucherify.sandbox.handlers.vouchers import build_voucher
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

#: At most this many codes, and about this long, per hold of the state lock (a loaded machine
#: builds fewer codes per second: the time bound keeps other requests' wait short anyway).
CHUNK = 200
HOLD_SECONDS = 0.02
#: Fields a request may set on a campaign's new voucher (over the inherited ones).
OVERRIDES = ("category", "redemption", "start_date", "expiration_date", "additional_info", "active")
INHERITED_DATES = ("start_date", "expiration_date")
VALIDITY = ("validity_timeframe", "validity_day_of_week", "validity_hours")
VALUES = ("discount", "gift", "loyalty_card")


def voucher_payload(campaign: JSON, overrides: JSON | None = None) -> JSON:
    """The create-voucher payload of a new voucher of ``campaign``."""
    template: JSON = campaign.get("voucher") or {}
    given = overrides or {}
    payload: JSON = {
        "type": template.get("type"),
        "campaign": campaign["name"],
        "campaign_id": campaign["id"],
        "category": campaign.get("category"),
        "redemption": template.get("redemption"),
    }
    for name in VALUES:
        if template.get(name) is not None:
            payload[name] = template[name]
    for name in INHERITED_DATES:
        payload[name] = template.get(name) or campaign.get(name)
    for name in VALIDITY:
        value = template.get(name) if template.get(name) is not None else campaign.get(name)
        if value is not None:
            payload[name] = value
    payload.update({k: given[k] for k in OVERRIDES if given.get(k) is not None})
    metadata = {**(template.get("metadata") or {}), **(given.get("metadata") or {})}
    if metadata:
        payload["metadata"] = metadata
    return payload


def build(state: SandboxState, campaign: JSON, code: str, overrides: JSON | None = None) -> JSON:
    """A new voucher of ``campaign`` with ``code`` (not yet stored; the code is not checked)."""
    voucher = build_voucher(state, code, voucher_payload(campaign, overrides))
    if campaign.get("campaign_type") == "REFERRAL_PROGRAM":
        voucher["is_referral_code"] = True
    return voucher


def store(state: SandboxState, campaign: JSON, vouchers: list[JSON]) -> None:
    """Store new vouchers of ``campaign`` (one index sort for the batch; the store's write
    queues them for publication: campaign_store.FreeCodes)."""
    state.put_vouchers(vouchers)


def code_taken(state: SandboxState, code: str) -> bool:
    return code in state.vouchers or code in state.bin


def generate_chunk(
    state: SandboxState, campaign: JSON, source: CodeSource, count: int, overrides: JSON
) -> tuple[list[JSON], bool]:
    """Generate and store up to ``count`` vouchers of ``campaign`` (call with the lock held),
    stopping early once :data:`HOLD_SECONDS` have passed; return the vouchers made and
    whether the code space ran out."""
    made: list[JSON] = []
    fresh: set[str] = set()
    ran_out = False
    deadline = time.perf_counter() + HOLD_SECONDS
    for _ in range(count):
        code = source.take(lambda c: c in fresh or code_taken(state, c))
        if code is None:
            ran_out = True
            break
        fresh.add(code)
        made.append(build(state, campaign, code, overrides))
        if time.perf_counter() > deadline:
            break
    store(state, campaign, made)
    return made, ran_out


def breathe(state: SandboxState) -> None:
    """Let other requests in between two chunks (jobs.breathe; a name of its own here, so a
    test can watch the campaign jobs' breaths)."""
    jobs.breathe(state)
