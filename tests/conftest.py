"""Shared fixtures: every integration test runs on SQLite and, when
LEGATO_TEST_POSTGRES_URL is set, on PostgreSQL too.

If that variable is set and the server cannot be reached, the run stops with an
error instead of skipping: a green run always means both databases ran.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from legato.bootstrap import Runtime, build
from legato.config import Settings
from legato.store import tables
from legato.store.db import normalise_url
from legato.store.migrate import upgrade

PG_URL = os.environ.get("LEGATO_TEST_POSTGRES_URL")
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    if PG_URL:
        try:
            with create_engine(normalise_url(PG_URL)).connect() as conn:
                conn.execute(text("select 1"))
        except Exception as exc:  # any failure to connect must stop the run
            pytest.exit(
                f"LEGATO_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached: {exc}", returncode=3
            )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "legato.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database on the test server for this run, migrated, dropped at the end."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (set LEGATO_TEST_POSTGRES_URL)")
    admin = make_url(normalise_url(PG_URL))
    name = f"legato_test_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    for cleaner in _CLEANERS.values():
        cleaner.dispose()
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


_CLEANERS: dict[str, Engine] = {}


def _truncate_pg(url: str) -> None:
    """Empty every table and restart the ids. DELETE on these small tables is about ten
    times faster than TRUNCATE, which rewrites every table file."""
    eng = _CLEANERS.get(url) or _CLEANERS.setdefault(url, create_engine(url))
    with eng.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(table.delete())
        sequences = conn.execute(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        )).scalars().all()  # fmt: skip
        for seq in sequences:
            conn.execute(text(f'ALTER SEQUENCE "{seq}" RESTART WITH 1'))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a copy of the SQLite template, or the PostgreSQL one truncated."""
    if request.param == "sqlite":
        path = tmp_path / "legato.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


#: uploaded import files land here in tests, never in the working tree
TEST_IMPORT_DIR = Path(tempfile.gettempdir()) / f"legato-test-imports-{os.getpid()}"


def make_settings(db_url: str, **kw: object) -> Settings:
    kw.setdefault("import_dir", TEST_IMPORT_DIR)
    return Settings(environment="test", database_url=db_url, secret_key=TEST_SECRET, log_json=False, **kw)


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    rt = build(make_settings(db_url))
    yield rt
    rt.close()
