"""``update_from_arrays``: the one ``UPDATE … FROM unnest(…)`` helper of the outbox's record step
and the bulk push's marking. Their query-count tests (tests/sync, tests/jobs/test_push_marking.py)
pin the callers; these pin the helper itself on PostgreSQL: each row gets its own value whatever
the text, rows not named or filtered out are untouched, the count is the rows updated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.array_updates import update_from_arrays
from django_voucherify.models import Customer
from django_voucherify.sync import muted

pytestmark = pytest.mark.django_db

TABLE = Customer._meta.db_table
#: Any text PostgreSQL stores (no NUL): quotes, backslashes, SQL, braces of array literals.
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30)


def set_names(names: dict[str, str], **kwargs: object) -> int:
    return update_from_arrays(
        connection,
        TABLE,
        set_sql="name = v.name",
        arrays=[("source_id", "text", list(names)), ("name", "text", list(names.values()))],
        where="t.source_id = v.source_id",
        **kwargs,  # type: ignore[arg-type]
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    existing=st.integers(min_value=0, max_value=12),
    names=st.dictionaries(st.sampled_from([f"c-{i}" for i in range(20)]), TEXT, max_size=20),
)
def test_each_row_gets_its_own_value_in_one_statement(existing, names):
    Customer.objects.all().delete()
    with muted():
        Customer.objects.bulk_create(Customer(source_id=f"c-{i}", name="before") for i in range(existing))
    with CaptureQueriesContext(connection) as queries:
        updated = set_names(names)
    assert len(queries.captured_queries) == 1
    present = {f"c-{i}" for i in range(existing)}
    assert updated == len(present & set(names))
    expected = {sid: names.get(sid, "before") for sid in present}
    assert dict(Customer.objects.values_list("source_id", "name")) == expected


def test_parameters_of_set_and_where_keep_their_places():
    with muted():
        Customer.objects.bulk_create(Customer(source_id=f"c-{i}", name="before") for i in range(3))
    updated = update_from_arrays(
        connection,
        TABLE,
        set_sql="name = v.name || %s",
        set_params=["!"],
        arrays=[("source_id", "text", ["c-0", "c-1", "c-2"]), ("name", "text", ["a", "b", "c"])],
        where="t.source_id = v.source_id AND t.source_id <> %s",
        where_params=["c-1"],
    )
    assert updated == 2
    assert dict(Customer.objects.values_list("source_id", "name")) == {
        "c-0": "a!",
        "c-1": "before",
        "c-2": "c!",
    }


def test_arrays_of_different_lengths_are_refused_before_any_sql():
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValueError, match="one length"):
        update_from_arrays(
            connection,
            TABLE,
            set_sql="name = v.name",
            arrays=[("source_id", "text", ["c-0", "c-1"]), ("name", "text", ["a"])],
            where="t.source_id = v.source_id",
        )
    assert queries.captured_queries == []


def test_the_package_writes_unnest_updates_in_one_place():
    """One home: a module that needs a batch UPDATE calls the helper rather than its own SQL."""
    package = Path(update_from_arrays.__code__.co_filename).parent
    writers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "migrations" not in path.parts and re.search(r"FROM\s+unnest\(", path.read_text(), re.IGNORECASE)
    )
    assert writers == ["array_updates.py"]
