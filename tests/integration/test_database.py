"""Alembic migrations on SQLite: tables from nothing, idempotent, owner-only files."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from migrate.db.session import MIGRATIONS, migrate_to_head

TABLES = {"alembic_version", "batches", "documents", "pages", "ocr_words"}


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _schema(db: Path) -> tuple[set[str], list[tuple[str, str]], list[str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        versions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    return {r[1] for r in rows if r[0] == "table"}, [(r[1], r[2]) for r in rows], versions


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head
    return head


def test_migrate_empty_database_creates_tables(tmp_path: Path) -> None:
    db = tmp_path / "data" / "chartmigrate.db"
    migrate_to_head(f"sqlite:///{db}")
    tables, _, versions = _schema(db)
    assert tables >= TABLES
    assert versions == [_head()]


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    db = tmp_path / "data" / "chartmigrate.db"
    url = f"sqlite:///{db}"
    migrate_to_head(url)
    first = _schema(db)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("INSERT INTO batches (started_at, origin, options) VALUES ('2024-01-01', 'ingest', '{}')")
        conn.commit()
    migrate_to_head(url)
    assert _schema(db) == first
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 1  # data untouched


def test_database_file_and_folder_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "data"
    db = home / "chartmigrate.db"
    migrate_to_head(f"sqlite:///{db}")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for side in (home / "chartmigrate.db-wal", home / "chartmigrate.db-shm"):
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0


def test_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    migrate_to_head(f"sqlite:///{db}")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert _schema(db)[0] >= TABLES
