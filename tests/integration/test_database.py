"""Alembic migrations on the run's backend (SQLite or PostgreSQL): tables from nothing,
idempotent, reversible, matching the models; and SQLite's file kept owner-only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from migrate.db.models import Base
from migrate.db.session import MIGRATIONS, dispose_engine, get_engine, migrate_to_head

TABLES = {"alembic_version", "batches", "documents", "pages", "ocr_words", "drafts", "mpi_patients"}


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _schema(url: str) -> tuple[set[str], dict[str, list[str]], list[str]]:
    engine = get_engine(url)
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    columns = {t: sorted(c["name"] for c in insp.get_columns(t)) for t in tables}
    with engine.connect() as conn:
        versions = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    return tables, columns, versions


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _head() -> str:
    head = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert head
    return head


def test_migrate_empty_database_creates_tables(empty_database_url: str) -> None:
    migrate_to_head(empty_database_url)
    tables, _, versions = _schema(empty_database_url)
    assert tables >= TABLES
    assert versions == [_head()]
    dispose_engine(empty_database_url)


def test_migrate_twice_is_a_no_op(empty_database_url: str) -> None:
    url = empty_database_url
    migrate_to_head(url)
    first = _schema(url)
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO batches (started_at, origin, options) VALUES ('2024-01-01', 'ingest', '{}')"))
    migrate_to_head(url)
    assert _schema(url) == first
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1  # data untouched
    dispose_engine(url)


def test_models_match_the_migrations(empty_database_url: str) -> None:
    """Autogenerate finds nothing to add: every model change came with its migration."""
    migrate_to_head(empty_database_url)
    with get_engine(empty_database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    dispose_engine(empty_database_url)


def test_downgrade_to_nothing_and_up_again(empty_database_url: str) -> None:
    url = empty_database_url
    migrate_to_head(url)
    engine = get_engine(url)
    cfg = _config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate_to_head(url)
    assert _schema(url)[2] == [_head()]
    dispose_engine(url)


@pytest.mark.sqlite_only("file permissions of the embedded database")
def test_database_file_and_folder_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "data"
    db = home / "chartmigrate.db"
    migrate_to_head(f"sqlite:///{db}")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for side in (home / "chartmigrate.db-wal", home / "chartmigrate.db-shm"):
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0


@pytest.mark.sqlite_only("file permissions of the embedded database")
def test_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    migrate_to_head(f"sqlite:///{db}")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert _schema(f"sqlite:///{db}")[0] >= TABLES
