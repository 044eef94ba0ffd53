"""Size and shape of the package: modules and lines per feature, and import circles between
its top-level packages (A imports B and B imports A, lazy imports inside functions included).

    python scripts/codebase_metrics.py            # from the repository root, dev virtualenv

Used for the before/after figures of redesigns (issue 12); grimp comes with import-linter.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "django_voucherify"
FEATURES = ("checkout", "sync", "jobs", "vouchers", "tasks", "admin", "rest", "api", "models", "sandbox")


def lines(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    package = ROOT / PACKAGE
    files = [p for p in package.rglob("*.py") if "migrations" not in p.parts]
    print(f"modules: {len(files)}, lines: {sum(map(lines, files))}")
    for feature in FEATURES:
        inside = [p for p in files if package / feature in p.parents]
        if inside:
            sizes = [lines(p) for p in inside]
            print(f"  {feature}: {len(inside)} modules, {sum(sizes)} lines, largest {max(sizes)}")
    graph = grimp.build_graph(PACKAGE)
    tops = sorted({m.split(".")[1] for m in graph.modules if m.count(".") >= 1})

    def imports(a: str, b: str) -> bool:
        return graph.chain_exists(
            importer=f"{PACKAGE}.{a}", imported=f"{PACKAGE}.{b}", as_packages=True
        ) and any(
            graph.direct_import_exists(importer=i, imported=j, as_packages=False)
            for i in graph.find_descendants(f"{PACKAGE}.{a}") | {f"{PACKAGE}.{a}"}
            if i in graph.modules
            for j in graph.find_descendants(f"{PACKAGE}.{b}") | {f"{PACKAGE}.{b}"}
            if j in graph.modules
        )

    circles = [(a, b) for a, b in itertools.combinations(tops, 2) if imports(a, b) and imports(b, a)]
    print(f"import circles between top-level packages: {len(circles)} {circles}")


if __name__ == "__main__":
    main()
