"""Outbox rows for the sync tests at scale: a large synced history, pending customers, and the
plan PostgreSQL picks for a lookup (which indexes it scans)."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.utils import timezone

from django_voucherify.models import Customer, OutboxEntry, OutboxState
from django_voucherify.sync import muted


def seed_history(count: int, start: int = 0) -> None:
    """``count`` already-synced rows (1 in 10 a synced deletion) and a few unsent deletions of
    other source_ids, bulk-inserted, then ANALYZE (the planner sees a large history)."""
    now = timezone.now()
    OutboxEntry.objects.bulk_create(
        [
            OutboxEntry(
                kind="customer",
                object_pk=f"h{i}",
                source_id=f"hist-{i}",
                action="delete" if i % 10 == 0 else "upsert",
                state=OutboxState.FAILED if i % 1000 == 1 else OutboxState.SYNCED,
                delivered_version=1,
                created_at=now,
                updated_at=now,
            )
            for i in range(start, start + count)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {OutboxEntry._meta.db_table}")


def pending_customers(*source_ids: str, due_at: Any = None) -> list[int]:
    """Customers saved without the receivers, each with a pending outbox row; the row ids."""
    now = timezone.now()
    ids = []
    for source_id in source_ids:
        with muted():
            customer = Customer.objects.create(source_id=source_id, name=source_id.upper())
        entry = OutboxEntry.objects.create(
            kind="customer",
            object_pk=str(customer.pk),
            source_id=source_id,
            action="upsert",
            due_at=due_at,
            created_at=now,
            updated_at=now,
        )
        ids.append(entry.pk)
    return ids


def plan_nodes(sql: str, params: Any) -> list[dict[str, Any]]:
    """Every node of the EXPLAIN plan of ``sql``, sequential scans disabled: a lookup that has
    no index to use still shows up as a Seq Scan (or scans an index it cannot narrow)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes, todo = [], [plan]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def index_names(nodes: list[dict[str, Any]]) -> set[str]:
    """The indexes a plan's nodes scan; asserts none of them is a Seq Scan of the outbox."""
    table = OutboxEntry._meta.db_table
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == table], nodes
    return {n["Index Name"] for n in nodes if "Index Name" in n}
