"""Engines, the unit of work and schema migrations (Alembic) for SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from migrate.errors import DatabaseError

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock keys (any fixed numbers, one per kind of writer that must go one at a time).
MIGRATION_LOCK_KEY = 0x63686D69
MRN_LOCK_KEY = 0x6D726E
_engines: dict[str, Engine] = {}


def _prepare_sqlite_file(url: str) -> None:
    """Create the database file and its folder readable by the owner only before SQLite opens it."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    path.chmod(0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def get_engine(url: str) -> Engine:
    """One engine per URL per process (worker processes build their own after fork)."""
    key = f"{os.getpid()}:{url}"
    engine = _engines.get(key)
    if engine is None:
        if url.startswith("sqlite"):
            _prepare_sqlite_file(url)
            engine = create_engine(url, connect_args={"timeout": 60})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[key] = engine
    return engine


def dispose_engine(url: str) -> None:
    """Close this process's pooled connections to ``url`` (before the database is dropped)."""
    engine = _engines.pop(f"{os.getpid()}:{url}", None)
    if engine is not None:
        engine.dispose()


def serialize_writers(conn: Connection | Session, key: int) -> bool:
    """On PostgreSQL, wait for (and hold until this transaction ends) the advisory lock ``key``, so
    writers of one kind go one at a time; returns False elsewhere (SQLite has one writer anyway)."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name != "postgresql":
        return False
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    return True


def lock_for_write(session: Session) -> None:
    """Before a read-then-write of rows locked with ``FOR UPDATE``: on SQLite, which ignores row
    locks and reads outside any transaction until the first write, take the database's write lock
    now (``BEGIN IMMEDIATE``), so the read sees the last committed data and no other writer can
    change it before this transaction ends. Nothing to do on PostgreSQL."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """A session whose commit is explicit: leaving the block without ``commit()`` rolls back."""
    session = session_factory(url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate_to_head(url: str) -> None:
    """Bring the schema up to date; cheap when it already is."""
    engine = get_engine(url)
    cfg = _alembic_config(url)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
        with engine.begin() as conn:
            # Workers started together on a new database: one migrates, the others wait for it,
            # then find the schema current (PostgreSQL: an advisory lock; SQLite: the write lock).
            if not serialize_writers(conn, MIGRATION_LOCK_KEY) and conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as e:
        raise DatabaseError(f"cannot open or migrate the database ({type(e.orig).__name__})") from e
