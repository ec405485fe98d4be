"""Helpers for integration tests: the real command line, and reading what landed in the database."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from migrate.db.models import Document, Page
from migrate.db.session import unit_of_work
from migrate.settings import Settings
from tests.conftest import cli_env

SUMMARY = re.compile(
    r"documents processed: (?P<processed>\d+)\s+duplicates skipped: (?P<duplicates>\d+)\s+"
    r"failed: (?P<failed>\d+)\s+pages: (?P<pages>\d+)"
)


def run_cli(home: Path, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def summary_counts(stdout: str) -> dict[str, int]:
    found = SUMMARY.search(stdout)
    assert found, f"no summary line in: {stdout!r}"
    return {k: int(v) for k, v in found.groupdict().items()}


@dataclass(frozen=True)
class PageRow:
    number: int
    text: str
    source: str
    flags: list[str]
    cleanup: dict[str, Any]
    confidence: float | None
    created_at: Any


@dataclass(frozen=True)
class DocRow:
    id: int
    path: str
    status: str
    page_count: int | None
    error_code: str | None
    error_message: str | None
    attempts: int
    pages: list[PageRow]

    @property
    def name(self) -> str:
        return Path(self.path).name


def documents(settings: Settings) -> dict[str, DocRow]:
    """Every document by its file name, with its pages in page order."""
    out: dict[str, DocRow] = {}
    with unit_of_work(settings.database_url) as session:
        for d in session.scalars(select(Document).order_by(Document.id)):
            pages = session.scalars(select(Page).where(Page.document_id == d.id).order_by(Page.number))
            row = DocRow(
                d.id,
                d.source_path,
                d.status,
                d.page_count,
                d.error_code,
                d.error_message,
                d.attempts,
                [
                    PageRow(p.number, p.text, p.source, p.flags, p.cleanup, p.ocr_confidence, p.created_at)
                    for p in pages
                ],
            )
            out[row.name] = row
    return out


def count_rows(settings: Settings) -> tuple[int, int]:
    with unit_of_work(settings.database_url) as session:
        return len(list(session.scalars(select(Document.id)))), len(list(session.scalars(select(Page.id))))


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
