"""The scanning-station hot folder: take each file once it is complete, then file it away."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from migrate.batch import Observer, run_batch
from migrate.db.models import Document
from migrate.db.session import unit_of_work
from migrate.records import BatchSummary, DocumentStatus
from migrate.settings import Settings

PROCESSED = "processed"
QUARANTINE = "quarantine"


@dataclass
class Settling:
    """Files seen in the hot folder and how long their size and mtime have held still."""

    seen: dict[Path, tuple[int, int, float]] = field(default_factory=dict)

    def ready(self, files: list[Path], settle_s: float, now: float) -> list[Path]:
        """Files whose size and mtime have not changed for ``settle_s`` (empty files: three times that)."""
        out = []
        for gone in set(self.seen) - set(files):
            del self.seen[gone]
        for f in files:
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            prev = self.seen.get(f)
            if prev is None or prev[:2] != (st.st_size, st.st_mtime_ns):
                prev = self.seen[f] = (st.st_size, st.st_mtime_ns, now)
            wait = settle_s * 3 if st.st_size == 0 else settle_s
            if now - prev[2] >= wait:
                out.append(f)
        return out


def _incoming(folder: Path, data_home: Path) -> list[Path]:
    """Files waiting in the hot folder (not our own output folders, nor our data folder)."""
    files = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder)
        if not f.is_file() or rel.parts[0] in (PROCESSED, QUARANTINE) or f.resolve().is_relative_to(data_home):
            continue
        if any(p.startswith(".") for p in rel.parts) or f.name.endswith(".error.txt"):
            continue
        files.append(f)
    return files


def _free_name(dest: Path) -> Path:
    if not dest.exists():
        return dest
    for i in range(1, 10_000):
        candidate = dest.with_name(f"{dest.stem}.{i}{dest.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(dest)


def _quarantine(src: Path, dest: Path, code: str | None, message: str | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), dest)
    reason = (message or code or "failed").replace("\n", " ")
    dest.with_name(dest.name + ".error.txt").write_text(f"{code}: {reason}\n", encoding="utf-8")


def file_away(folder: Path, summary: BatchSummary) -> dict[int, Path]:
    """Move each finished file to processed/ or to quarantine/ with a one-line .error.txt.
    Returns where the files of documents still being processed (queued) went, by document id."""
    queued: dict[int, Path] = {}
    for result in summary.results:
        src = Path(result.path)
        if not src.exists():
            continue
        rel = src.relative_to(folder) if src.is_relative_to(folder) else Path(src.name)
        bad = result.status == DocumentStatus.FAILED
        dest = _free_name(folder / (QUARANTINE if bad else PROCESSED) / rel)
        if bad:
            _quarantine(src, dest, result.error_code, result.error_message)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), dest)
        if result.status == "queued" and result.document_id is not None:
            queued[result.document_id] = dest
    return queued


def follow_queued(folder: Path, settings: Settings, pending: dict[int, Path]) -> None:
    """Documents the workers have since failed move from processed/ to quarantine/ with their
    reason, as a local batch's would; finished ones are forgotten."""
    if not pending:
        return
    with unit_of_work(settings.database_url) as session:
        rows = session.execute(
            select(Document.id, Document.status, Document.error_code, Document.error_message).where(
                Document.id.in_(list(pending))
            )
        ).all()
    for doc_id, status, code, message in rows:
        if status == DocumentStatus.DONE:
            pending.pop(doc_id, None)
        elif status == DocumentStatus.FAILED:
            src = pending.pop(doc_id)
            if src.exists():
                rel = src.relative_to(folder / PROCESSED)
                _quarantine(src, _free_name(folder / QUARANTINE / rel), code, message)


def watch(
    folder: Path,
    settings: Settings,
    *,
    workers: int | None = None,
    interval_s: float = 1.0,
    once: bool = False,
    observer_factory: Callable[[], Observer] | None = None,
    on_batch: Callable[[BatchSummary], None] | None = None,
    run: Callable[[list[Path]], BatchSummary] | None = None,
) -> None:
    """Take each settled file in ``folder``; ``run`` replaces the local batch (``watch --queue``
    stores and enqueues instead)."""
    folder = folder.resolve()
    (folder / PROCESSED).mkdir(parents=True, exist_ok=True)
    (folder / QUARANTINE).mkdir(parents=True, exist_ok=True)
    settling = Settling()
    pending: dict[int, Path] = {}  # queued documents whose files wait in processed/
    while True:
        files = _incoming(folder, settings.home)
        ready = settling.ready(files, settings.watch_settle_s, time.monotonic())
        if ready:
            observer = observer_factory() if observer_factory else None
            if run is not None:
                summary = run(ready)
            else:
                summary = run_batch(ready, settings, workers=workers, observer=observer, origin="watch")
            pending.update(file_away(folder, summary))
            for f in ready:
                settling.seen.pop(f, None)
            if on_batch:
                on_batch(summary)
        follow_queued(folder, settings, pending)
        if once and not _incoming(folder, settings.home):
            return
        time.sleep(interval_s)
