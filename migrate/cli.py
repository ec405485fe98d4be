"""Command line: argv -> options; the only place exceptions become exit codes."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import select

from migrate.cli_mpi import mpi_app
from migrate.cli_options import BrokerOpt, DbOpt, HomeOpt, database_for, doc_label, print_problems, settings_for
from migrate.cli_queue import _print_queue_summary, queue_files, register_queue_commands
from migrate.cli_review import register_review_commands
from migrate.errors import BadArguments, ChartmigrateError, ExitCode, NotFound
from migrate.records import BatchSummary, DocumentResult, PageOutcome

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a traceback with local variables could show patient data
    help="Move paper charts into trusted electronic records.",
)
nlp_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Clinical language tools.")
export_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Export stored data.")
app.add_typer(export_app, name="export")
app.add_typer(nlp_app, name="nlp")
app.add_typer(mpi_app, name="mpi")
register_review_commands(app)
register_queue_commands(app)

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

WorkersOpt = Annotated[int | None, typer.Option("--workers", "-w", min=1, help="worker processes (default: cores)")]

F = TypeVar("F", bound=Callable[..., Any])


class PagesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} pages/s" if speed else "-- pages/s", style="progress.data.speed")


class ProgressObserver:
    """Progress bar and per-document lines; names documents by id and hash prefix, never by content."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("OCR", total=None)

    def planned(self, pages: int) -> None:
        self.progress.update(self.task, total=pages)

    def page_done(self, outcome: PageOutcome) -> None:
        self.progress.advance(self.task)

    def document_done(self, result: DocumentResult) -> None:
        if result.status == "failed":
            self.progress.console.print(f"[red]failed[/red] {doc_label(result)}: {result.error_message}")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pages"),
        PagesPerSecond(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _print_summary(summary: BatchSummary) -> None:
    conf = summary.mean_confidence
    out.print(
        f"documents processed: {len(summary.processed)}  duplicates skipped: {len(summary.duplicates)}  "
        f"failed: {len(summary.failed)}  pages: {summary.pages}  "
        f"mean OCR confidence: {'n/a' if conf is None else f'{conf:.3f}'}  "
        f"time: {summary.seconds:.1f} s"
    )
    print_problems(out, summary)


QueueOpt = Annotated[
    bool, typer.Option("--queue", help="store the files and enqueue them for `chartmigrate worker`s; return at once")
]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (searched recursively)")],
    workers: WorkersOpt = None,
    queue: QueueOpt = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    broker: BrokerOpt = None,
) -> None:
    """Store, clean up and OCR scanned charts (PDF, TIFF, PNG, JPEG)."""
    from migrate.batch import run_batch

    settings = settings_for(db, home, broker=broker)
    if queue:
        queued = queue_files(paths, settings)
        _print_queue_summary(queued)
        if queued.failed:
            raise typer.Exit(ExitCode.PARTIAL_FAILURE)
        return
    with _progress() as progress:
        summary = run_batch(paths, settings, workers=workers, observer=ProgressObserver(progress))
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="the hot folder scanning stations drop files into")],
    workers: WorkersOpt = None,
    interval: Annotated[float, typer.Option(help="seconds between looks at the folder")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="process what is there, then stop")] = False,
    queue: QueueOpt = False,
    db: DbOpt = None,
    home: HomeOpt = None,
    broker: BrokerOpt = None,
) -> None:
    """Process files as they arrive; done files go to processed/, bad ones to quarantine/."""
    from migrate.watch import watch as run_watch

    settings = settings_for(db, home, broker=broker)
    if not folder.is_dir():
        raise BadArguments(f"not a folder: {folder}")
    err.print(f"watching {folder} (Ctrl-C to stop)" + (", queueing for workers" if queue else ""))

    def report(summary: BatchSummary) -> None:
        _print_summary(summary)

    def enqueue(files: list[Path]) -> BatchSummary:
        queued = queue_files(files, settings, origin="watch")
        _print_queue_summary(queued)
        return queued

    run_watch(
        folder,
        settings,
        workers=workers,
        interval_s=interval,
        once=once,
        on_batch=None if queue else report,
        run=enqueue if queue else None,
    )


@app.command()
def documents(
    status: Annotated[str | None, typer.Option(help="only documents in this state")] = None,
    show_paths: Annotated[bool, typer.Option("--show-paths", help="also show file paths (may name patients)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """List stored documents with their state and, for failed ones, the reason."""
    from migrate.db.models import Document
    from migrate.db.session import unit_of_work

    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        stmt = select(Document).order_by(Document.id)
        if status:
            stmt = stmt.where(Document.status == status)
        rows = list(session.scalars(stmt))
        if as_json:
            for d in rows:
                item = {
                    "id": d.id,
                    "sha256": d.sha256,
                    "status": d.status,
                    "pages": d.page_count,
                    "ocr_confidence": d.ocr_confidence,
                    "error_code": d.error_code,
                    "error": d.error_message,
                }
                if show_paths:
                    item["path"] = d.source_path
                out.print(json.dumps(item), soft_wrap=True, highlight=False)
            return
        table = Table("id", "sha256", "status", "pages", "OCR conf", "received", "error")
        if show_paths:
            table.add_column("path")
        for d in rows:
            cells = [
                str(d.id),
                d.sha256[:12],
                d.status,
                str(d.page_count or ""),
                "" if d.ocr_confidence is None else f"{d.ocr_confidence:.3f}",
                d.received_at.strftime("%Y-%m-%d %H:%M"),
                d.error_message or "",
            ]
            if show_paths:
                cells.append(d.source_path)
            table.add_row(*cells)
        out.print(table)


@app.command()
def reprocess(
    document_id: Annotated[int, typer.Argument(help="document id (see `chartmigrate documents`)")],
    workers: WorkersOpt = None,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Run one document again from its stored original."""
    from migrate.batch import reprocess as run_reprocess

    settings = settings_for(db, home)
    with _progress() as progress:
        result = run_reprocess(document_id, settings, workers=workers or 1, observer=ProgressObserver(progress))
    if result.status == "failed":
        err.print(f"failed: {doc_label(result)}: {result.error_message}")
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)
    conf = "n/a" if result.confidence is None else f"{result.confidence:.3f}"
    out.print(f"{doc_label(result)}: {result.status}, {result.pages} pages, mean OCR confidence {conf}")


@app.command()
def reextract(
    document_ids: Annotated[
        list[int] | None, typer.Argument(help="document ids (default: every finished document)")
    ] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Run extraction again on stored OCR output (no OCR); drafts under review are left alone."""
    from migrate.batch import reextract as run_reextract

    settings = settings_for(db, home)
    done, skipped = run_reextract(document_ids or [], settings)
    out.print(f"re-extracted {done} document(s); skipped {skipped} (not finished, or already being reviewed)")


@app.command("eval")
def evaluate(
    truth_dir: Annotated[Path, typer.Argument(help="folder of chart_NNNN.truth.json files")],
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the figures as JSON")] = None,
    show_errors: Annotated[bool, typer.Option("--show-errors", help="list mismatches (shows values: PHI)")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Score this database's drafts against ground truth: precision, recall, F1 per field group."""
    from migrate.db.session import unit_of_work
    from migrate.evaluation import score
    from migrate.export import iter_drafts

    if not truth_dir.is_dir():
        raise BadArguments(f"not a folder: {truth_dir}")
    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        report = score(list(iter_drafts(session)), truth_dir, collect_errors=show_errors)
    out.print(report.format_table(), markup=False)
    if show_errors:
        out.print(report.format_errors(), markup=False)
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")


@nlp_app.command("assert")
def nlp_assert(
    file: Annotated[Path | None, typer.Argument(help="JSON lines {id, text, concept}; default: stdin")] = None,
) -> None:
    """Negation, temporality and experiencer of each concept in its text (the extraction's component)."""
    from migrate.nlp.assert_cli import run

    if file is not None and not file.is_file():
        raise BadArguments(f"no such file: {file}")
    # Undecodable bytes reach `run`, which answers that line with an error instead of stopping.
    if file:
        source = file.open(encoding="utf-8", errors="surrogateescape")
    else:
        source = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
    try:
        for line in run(source):
            sys.stdout.write(line + "\n")
    finally:
        if file:
            source.close()


@export_app.command("drafts")
def export_drafts(
    fmt: Annotated[str, typer.Option("--format", help="jsonl")] = "jsonl",
    out_file: Annotated[Path | None, typer.Option("--out", help="write here instead of standard output")] = None,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """One draft record per document, as JSON lines (see CONTRACTS.md)."""
    from migrate.db.session import unit_of_work
    from migrate.export import iter_drafts

    if fmt != "jsonl":
        raise BadArguments(f"unknown format '{fmt}'; use jsonl")
    settings = database_for(db, home)
    target = out_file.open("w", encoding="utf-8") if out_file else sys.stdout
    try:
        with unit_of_work(settings.database_url) as session:
            for record in iter_drafts(session):
                target.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out_file:
            target.close()


@export_app.command("pdf")
def export_pdf(
    document_id: Annotated[int, typer.Argument(help="document id")],
    out_file: Annotated[Path, typer.Option("--out", help="where to write the searchable PDF")],
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Write a document's searchable PDF (page images with their OCR text layer)."""
    import shutil

    from migrate.db.models import Document
    from migrate.db.session import unit_of_work
    from migrate.storage import BlobStore

    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        doc = session.get(Document, document_id)
        if doc is None:
            raise NotFound(f"no document with id {document_id}")
        if not doc.searchable_pdf_sha256:
            raise NotFound(f"document {document_id} has no searchable PDF (status: {doc.status})")
        shutil.copyfile(BlobStore(settings.blob_dir).path(doc.searchable_pdf_sha256), out_file)
    out.print(f"wrote {out_file}")


def main() -> None:
    """Entry point: everything we create is PHI, so it is created owner-only."""
    os.umask(0o077)
    level = os.environ.get("CHARTMIGRATE_LOG_LEVEL", "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app()  # typer turns usage errors into exit 2 and typer.Exit into its code
    except ChartmigrateError as e:
        err.print(f"error: {e.message}", markup=False, highlight=False)
        sys.exit(int(e.exit_code))
