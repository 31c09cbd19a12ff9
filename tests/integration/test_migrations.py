"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from legato.bootstrap import Runtime
from legato.store.migrate import current_revision, head_revision
from legato.store.tables import metadata


def test_the_migrated_schema_matches_the_declared_tables(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        dialect = conn.dialect.name

        def here(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
            """An index declared for another database only (``Index.ddl_if``) is not expected here."""
            condition = getattr(obj, "_ddl_if", None)
            return condition is None or condition.dialect in (None, dialect)

        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": here})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_the_database_is_at_the_latest_migration(runtime: Runtime) -> None:
    assert current_revision(runtime.engine) == head_revision() is not None
