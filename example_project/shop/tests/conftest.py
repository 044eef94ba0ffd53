"""The shop's tests run on PostgreSQL or, like the demo by default, on a SQLite file."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: Any) -> None:
    """A SQLite test database in a file, not in memory: threads then share one database with
    the demo's real locking (an in-memory database uses shared-cache table locks instead)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("shopdb") / "test.sqlite3")
