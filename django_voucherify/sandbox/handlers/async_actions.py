"""Async actions: the record every import/bulk endpoint returns, GET one, and the list.

Requests create the action ENQUEUED and answer ``{"async_action_id": "aa_..."}`` (202, or 200
for the orders import, as the spec documents); :mod:`~django_voucherify.sandbox.jobs` moves it
to IN_PROGRESS and then DONE/FAILED with ``progress`` 100 and a ``result`` shaped like the
spec's result schemas (``message``, ``done_count``, ``failed_count``, ``failed``...).
The list (``AsyncActionBase`` items, so no ``result``) is newest first.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.errors import not_found
from django_voucherify.sandbox.listing import date_param, int_param
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState, parse_iso

JSON = dict[str, Any]


def start_async_action(state: SandboxState, type_: str, kind: str, payload: JSON, request_id: str) -> JSON:
    """Create an ENQUEUED async action of spec ``type_`` (e.g. ``VOUCHERS.IMPORT``) whose job
    is the registered job function ``kind``, and return it."""
    action: JSON = {
        "id": state.new_id("aa_"),
        "type": type_,
        "status": "ENQUEUED",
        "operation_status": "UNKNOWN",
        "created_at": state.now_iso(),
        "updated_at": None,
        "request_id": request_id,
        "processing_time": None,
        "progress": 0,
        "object": "async_action",
    }
    jobs.enqueue(state, action, kind, payload)
    return action


def finish(action: JSON, result: JSON, failed: bool = False) -> None:
    """Set a job's outcome (called by job functions)."""
    action["result"] = result
    action["status"] = "FAILED" if failed else "DONE"
    action["operation_status"] = "FAILED" if failed else "SUCCESS"


def accepted(action: JSON, status: int = 202) -> SandboxResponse:
    return ok({"async_action_id": action["id"]}, status)


@route("GET", "/v1/async-actions/{asyncActionId}", operation_id="get-async-action")
def get_async_action(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    action = state.async_actions.get(req.path_params["asyncActionId"])
    if action is None:
        raise not_found("async_action", req.path_params["asyncActionId"])
    return ok(action)


@route("GET", "/v1/async-actions", operation_id="list-async-actions")
def list_async_actions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    limit = int_param(req.query, "limit", 10, 1, 100)
    items = list(reversed(state.async_actions.values()))
    if req.query.get("end_date"):
        end = date_param(req.query["end_date"], "end_date")
        items = [a for a in items if parse_iso(a["created_at"]) < end]
    page = [{k: v for k, v in a.items() if k != "result"} for a in items[:limit]]
    return ok(
        {
            "object": "list",
            "data_ref": "async_actions",
            "async_actions": page,
            "has_more": len(items) > limit,
        }
    )
