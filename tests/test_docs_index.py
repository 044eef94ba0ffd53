"""docs/index.md, where the README sends a newcomer, lists every page of docs/."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_docs_page_is_listed_in_the_index():
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", (DOCS / "index.md").read_text(encoding="utf-8")))
    pages = {page.name for page in DOCS.glob("*.md")} - {"index.md"}
    assert sorted(pages - linked) == []
