"""Migration 0027: the outbox's ``(kind, delivered_at)`` index is built without blocking the
outbox's writes on PostgreSQL (``CREATE INDEX CONCURRENTLY``, outside a transaction), can be run
again after a concurrent build that stopped (the INVALID index it left is dropped and built
again), and is a plain index on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import NotSupportedError, OperationalError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext

from django_voucherify.models import OutboxEntry

APP = "django_voucherify"
BEFORE = (APP, "0026_customerpublication_campaign_name")
MIGRATION = (APP, "0027_outbox_kind_delivered_index")
INDEX = "dv_outbox_kind_delivered"
TABLE = OutboxEntry._meta.db_table
CREATE_CONCURRENTLY = f'CREATE INDEX CONCURRENTLY "{INDEX}" ON "{TABLE}" ("kind", "delivered_at")'
DROP_CONCURRENTLY = f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"'


def migrate(target: tuple[str, str], conn: Any = connection) -> list[str]:
    """Migrate ``conn``'s database to ``target``; the SQL it ran."""
    executor = MigrationExecutor(conn)
    with CaptureQueriesContext(conn) as queries:
        executor.migrate([target])
    return [query["sql"] for query in queries.captured_queries]


def applied(conn: Any = connection) -> bool:
    return MIGRATION in MigrationExecutor(conn).loader.applied_migrations


def index_is_valid() -> bool | None:
    """PostgreSQL's ``indisvalid`` for the index on the outbox; None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s AND i.indrelid = %s::regclass",
            [INDEX, TABLE],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def building(sql: list[str]) -> list[str]:
    return [statement for statement in sql if "INDEX" in statement and INDEX in statement]


@pytest.fixture
def at_latest() -> Iterator[None]:
    """Whatever a test leaves, the test database goes back to the latest migrations."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes(APP))
    assert index_is_valid() is True


@pytest.mark.django_db(transaction=True)
def test_postgresql_builds_and_drops_the_index_concurrently(at_latest: None) -> None:
    assert index_is_valid() is True  # the test database was migrated with it

    backwards = migrate(BEFORE)
    assert building(backwards) == [DROP_CONCURRENTLY]
    assert index_is_valid() is None
    assert not applied()

    forwards = migrate(MIGRATION)
    assert building(forwards) == [CREATE_CONCURRENTLY]
    assert index_is_valid() is True
    assert applied()


@pytest.mark.django_db(transaction=True)
def test_a_rerun_after_a_stopped_concurrent_build_drops_the_invalid_index_and_builds_it(
    at_latest: None,
) -> None:
    migrate(BEFORE)
    # A transaction that wrote to the outbox and is still open: the concurrent build records its
    # index, then waits for that transaction to end; lock_timeout stops the wait (as a deploy's
    # timeout, a kill or a cancel would), which leaves the index INVALID.
    writer = connections.create_connection("default")
    try:
        with writer.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f'LOCK TABLE "{TABLE}" IN ROW EXCLUSIVE MODE')
            with connection.cursor() as own:
                own.execute("SET lock_timeout = '200ms'")
            with pytest.raises(OperationalError, match="lock timeout"):
                migrate(MIGRATION)
            cursor.execute("ROLLBACK")
    finally:
        writer.close()
    with connection.cursor() as own:
        own.execute("RESET lock_timeout")
    assert index_is_valid() is False
    assert not applied()

    rerun = migrate(MIGRATION)

    assert building(rerun) == [DROP_CONCURRENTLY, CREATE_CONCURRENTLY]
    assert index_is_valid() is True
    assert applied()


@pytest.mark.django_db(transaction=True)
def test_a_valid_index_built_by_a_run_that_stopped_before_recording_it_is_kept(at_latest: None) -> None:
    migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE INDEX "{INDEX}" ON "{TABLE}" ("kind", "delivered_at")')

    rerun = migrate(MIGRATION)

    assert building(rerun) == []
    assert index_is_valid() is True
    assert applied()


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_it_refuses_with_an_error_naming_the_migration(at_latest: None) -> None:
    migrate(BEFORE)
    with pytest.raises(NotSupportedError, match=r"0027.*CONCURRENTLY"), transaction.atomic():
        migrate(MIGRATION)
    assert index_is_valid() is None


def test_sqlite_builds_and_drops_a_plain_index(django_db_blocker: Any) -> None:
    settings = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    sqlite = ConnectionHandler(settings)["default"]

    def indexes() -> dict[str, Any]:
        with sqlite.cursor() as cursor:
            found = sqlite.introspection.get_constraints(cursor, TABLE)
        return {name: found[name]["columns"] for name in found if found[name]["index"]}

    with django_db_blocker.unblock():
        try:
            # To the latest migration, not to 0027: the recorder of a connection aliased
            # "default" reads the applied migrations of the test database, so the way back
            # would otherwise unapply the later ones on a database that never had them.
            latest = MigrationExecutor(sqlite).loader.graph.leaf_nodes(APP)[0]
            forwards = migrate(latest, sqlite)
            assert building(forwards) == [f'CREATE INDEX "{INDEX}" ON "{TABLE}" ("kind", "delivered_at")']
            assert indexes()[INDEX] == ["kind", "delivered_at"]
            assert applied(sqlite)

            backwards = migrate(BEFORE, sqlite)
            assert building(backwards) == [f'DROP INDEX "{INDEX}"']
            assert INDEX not in indexes()
            assert not applied(sqlite)
        finally:
            sqlite.close()
