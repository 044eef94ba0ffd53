"""docs/endpoints.md is the generated coverage table, kept current by these tests.

Regenerate with ``python -m django_voucherify.api.endpoints > docs/endpoints.md``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from django_voucherify.api import ENDPOINTS
from django_voucherify.api.endpoints import coverage_markdown

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "endpoints.md"
ROW = re.compile(
    r"^\| ([A-Za-z0-9-]+) \| (GET|POST|PUT|DELETE) \| `([^`]+)` \| `client\.(\w+)\.(\w+)\(\)` \|$",
    re.MULTILINE,
)


def test_docs_endpoints_md_is_current():
    assert DOC.read_text(encoding="utf-8") == coverage_markdown(), (
        "docs/endpoints.md is stale: run `python -m django_voucherify.api.endpoints > docs/endpoints.md`"
    )


def test_coverage_table_lists_every_registered_endpoint_once():
    rows = ROW.findall(coverage_markdown())
    assert len(rows) == len(ENDPOINTS) >= 45
    assert len({row[0] for row in rows}) == len(rows)
    for operation_id, method, path, namespace, name in rows:
        ep = ENDPOINTS[operation_id]
        assert (method, path, namespace, name) == (ep.http_method, ep.path, ep.namespace, ep.method_name)
    assert f"\n{len(ENDPOINTS)} operations.\n" in coverage_markdown()


def test_documented_regeneration_command_prints_the_table():
    """The command the doc and the module docstring give must print the same full table
    (run as ``__main__`` the module is a second copy whose ``ENDPOINTS`` stays empty unless
    the entry point reads the package's registry)."""
    done = subprocess.run(
        [sys.executable, "-m", "django_voucherify.api.endpoints"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == coverage_markdown()
