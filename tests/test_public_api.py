"""Each feature package has one face: its ``__init__`` exports the public API in ``__all__``,
every exported name imports, and the documentation names every one of them."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

FACES = [
    "django_voucherify",
    "django_voucherify.api",
    "django_voucherify.checkout",
    "django_voucherify.jobs",
    "django_voucherify.sync",
    "django_voucherify.vouchers",
    "django_voucherify.webhooks",
    "django_voucherify.sandbox",
]
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _exports() -> list[tuple[str, str]]:
    return [
        (face, name)
        for face in FACES
        for name in importlib.import_module(face).__all__
        if not name.startswith("__")
    ]


@pytest.mark.parametrize("face", FACES)
def test_every_face_declares_its_public_api(face):
    module = importlib.import_module(face)
    exported = module.__all__
    assert exported, face
    assert len(set(exported)) == len(exported), face


@pytest.mark.parametrize(("face", "name"), _exports(), ids=lambda value: value)
def test_every_exported_name_imports(face, name):
    namespace: dict[str, object] = {}
    exec(f"from {face} import {name}", namespace)  # the statement a shop writes
    assert namespace[name] is getattr(importlib.import_module(face), name)


def test_the_documentation_names_every_exported_name():
    pages = (DOCS / "python-api.md").read_text(encoding="utf-8").split("\n## ")
    section = {face: page for page in pages[1:] for face in FACES if f"`{face}`" in page.splitlines()[0]}
    missing = [
        f"{face}.{name}"
        for face, name in _exports()
        if not re.search(rf"^\| `{re.escape(name)}` \|", section.get(face, ""), re.MULTILINE)
    ]
    assert not missing, f"not named in docs/: {missing}"
