"""docs/endpoints.md is the generated coverage table, kept current by this test.

Regenerate with ``python -m django_voucherify.api.endpoints > docs/endpoints.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

from django_voucherify.api import ENDPOINTS
from django_voucherify.api.endpoints import coverage_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "endpoints.md"


def test_docs_endpoints_md_is_current():
    assert DOC.read_text(encoding="utf-8") == coverage_markdown(), (
        "docs/endpoints.md is stale: run "
        "`python -m django_voucherify.api.endpoints > docs/endpoints.md`"
    )


def test_coverage_table_lists_every_registered_endpoint_once():
    rows = re.findall(r"^\| ([a-z0-9-]+) \| (GET|POST|PUT|DELETE) \| `([^`]+)` \| `client\.(\w+)\.(\w+)\(\)` \|$",
                      coverage_markdown(), re.MULTILINE)
    assert len(rows) == len(ENDPOINTS) == len({row[0] for row in rows})
    for operation_id, method, path, namespace, name in rows:
        ep = ENDPOINTS[operation_id]
        assert (method, path, namespace, name) == (ep.http_method, ep.path, ep.namespace, ep.method_name)
    assert f"\n{len(ENDPOINTS)} operations.\n" in coverage_markdown()
