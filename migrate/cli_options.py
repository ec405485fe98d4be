"""Options, settings and output shared by the command modules of the CLI (cli.py, cli_mpi.py, cli_queue.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from migrate.errors import BadArguments
from migrate.records import BatchSummary, DocumentResult
from migrate.settings import Settings, load_settings

DbOpt = Annotated[
    str | None, typer.Option("--db", help="SQLAlchemy URL (default: CHARTMIGRATE_DB or SQLite under the data folder)")
]
BrokerOpt = Annotated[str | None, typer.Option("--broker", help="Celery broker URL (default: CHARTMIGRATE_BROKER)")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="data folder (default: CHARTMIGRATE_HOME or ./data)")]


def settings_for(db: str | None, home: Path | None, *, broker: str | None = None) -> Settings:
    try:
        return load_settings(db=db, home=home, broker=broker)
    except ValueError as e:
        raise BadArguments(f"invalid settings: {str(e).splitlines()[0]}") from e


def database_for(db: str | None, home: Path | None) -> Settings:
    """Settings for a command that reads the database, with the schema brought up to date."""
    from migrate.db.session import migrate_to_head

    settings = settings_for(db, home)
    migrate_to_head(settings.database_url)
    return settings


def doc_label(r: DocumentResult) -> str:
    """A document named by id and hash prefix, never by its path (paths can name patients)."""
    return f"document {r.document_id} ({(r.sha256 or '')[:12]})"


def print_problems(out: Console, summary: BatchSummary) -> None:
    """One line per duplicate skipped and per failed document, with the reason."""
    for r in summary.duplicates:
        out.print(f"  duplicate: {doc_label(r)} already ingested as document {r.duplicate_of}, skipped")
    for r in summary.failed:
        out.print(f"  failed: {doc_label(r)}: {r.error_message}")
