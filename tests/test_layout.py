"""The test suite's own layout rule (docs/testing.md): a test module imports nothing from another
test module or from a conftest; what several modules share lives in ``tests/support`` (fixtures
in the folder's ``conftest.py``, which pytest finds by itself)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = (ROOT / "tests", ROOT / "example_project")


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def cross_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line module`` for each import of a test module or conftest in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
            if node.level and not node.module:  # from . import test_x
                modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno} {m}" for m in modules if _is_test_module(m)]
    return found


def test_no_test_module_imports_another_test_module_or_a_conftest():
    offenders = [hit for tree in TREES for path in sorted(tree.rglob("*.py")) for hit in cross_imports(path)]
    assert offenders == []


def test_the_rule_sees_each_form_of_such_an_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from tests.sync.test_drain import run_drain\n"
        "from .conftest import MIN_100\n"
        "from . import test_publish\n"
        "import tests.test_demo_script\n"
        "def f():\n    from tests.api.test_paging import PageServer\n"
        "from tests.support.drain import run_drain\n"  # allowed
    )
    assert [hit.split(" ")[1] for hit in cross_imports(sample, tmp_path)] == [
        "tests.sync.test_drain",
        "conftest",
        "test_publish",
        "tests.test_demo_script",
        "tests.api.test_paging",
    ]
