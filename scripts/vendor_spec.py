#!/usr/bin/env python3
"""Regenerate ``django_voucherify/sandbox/data/voucherify-openapi.json`` from Voucherify's spec.

The repository carries the part of Voucherify's published OpenAPI spec (MIT licensed, see the
``info.license`` it keeps) that the sandbox's conformance checks and the client's tests use: the
operations in scope (their paths, parameters, request bodies, responses and examples) and every
component those reach through ``$ref``, nothing more. The scope itself (``SCOPE.md``'s tables:
operationId, method, path) is kept under ``x-django-voucherify.scope`` so the tests can check the
client's endpoint registry against it without the Markdown file.

Usage, with a newer spec checked out from github.com/voucherifyio/voucherify-openapi::

    python scripts/vendor_spec.py path/to/openapi.json path/to/SCOPE.md [more scope files...]

A scope file may be narrowed to one of its ``## Section`` tables with ``FILE#Section``. The
current subset is all of ``SCOPE.md`` and ``SCOPE-2.md``; each row records its file and section
(``sandbox/openapi.py`` tells the first part, which the sandbox serves, from the rest)::

    python scripts/vendor_spec.py openapi.json SCOPE.md SCOPE-2.md

The output is deterministic (sorted keys), so a regeneration's diff shows exactly what changed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "django_voucherify/sandbox/data/voucherify-openapi.json"
ROW = re.compile(r"^\| ([A-Za-z0-9-]+) \| (GET|POST|PUT|DELETE|PATCH) \| (/\S+) \|$", re.MULTILINE)
METHODS = {"get", "post", "put", "delete", "patch"}


def read_scope(files: list[str]) -> list[dict[str, str]]:
    """The table rows of each scope file; ``FILE#Section`` reads only that ``## Section``."""
    rows: list[dict[str, str]] = []
    for spec in files:
        name, _, section = spec.partition("#")
        file = Path(name)
        text = file.read_text()
        if section:
            parts = re.split(r"^## ", text, flags=re.MULTILINE)
            chosen = [p for p in parts if p.split("\n", 1)[0].strip() == section]
            if not chosen:
                raise SystemExit(f"{file.name} has no section '## {section}'")
            text = chosen[0]
        for part in re.split(r"^(?=## )", text, flags=re.MULTILINE):
            heading = part.split("\n", 1)[0].removeprefix("## ").strip() if part.startswith("## ") else ""
            for operation_id, method, path in ROW.findall(part):
                rows.append(
                    {
                        "operationId": operation_id,
                        "method": method,
                        "path": path,
                        "scope": file.name,
                        "section": heading,
                    }
                )
    return rows


def refs(node: Any) -> set[str]:
    """Every ``#/components/...`` reference under ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def subset(spec: dict[str, Any], scope: list[dict[str, str]]) -> dict[str, Any]:
    wanted = {row["operationId"] for row in scope}
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        kept = {
            key: value
            for key, value in item.items()
            if key not in METHODS or (isinstance(value, dict) and value.get("operationId") in wanted)
        }
        if any(key in METHODS for key in kept):
            paths[path] = kept
    found = {op["operationId"] for item in paths.values() for k, op in item.items() if k in METHODS}
    if missing := wanted - found:
        raise SystemExit(f"operations in scope but not in the spec: {sorted(missing)}")

    components: dict[str, dict[str, Any]] = {}
    todo = sorted(refs(paths))
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        value = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = value
        todo.extend(refs(value) - seen)
    return {
        "openapi": spec["openapi"],
        "info": {k: spec["info"][k] for k in ("title", "version", "license") if k in spec["info"]},
        "x-django-voucherify": {
            "note": (
                "A subset of Voucherify's published OpenAPI spec (github.com/voucherifyio/"
                "voucherify-openapi, MIT licensed): the operations in scope and the components they "
                "reference. Regenerate with scripts/vendor_spec.py; do not edit by hand."
            ),
            "scope": scope,
        },
        "paths": paths,
        "components": {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("openapi", type=Path)
    parser.add_argument("scope", nargs="+", help="scope files; FILE#Section reads one section only")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    spec = json.loads(args.openapi.read_text())
    data = subset(spec, read_scope(args.scope))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(
        f"{args.out}: {len(data['x-django-voucherify']['scope'])} operations, "
        f"{sum(len(v) for v in data['components'].values())} components, {args.out.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
