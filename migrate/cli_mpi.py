"""`chartmigrate mpi ...`: duplicate patients in patient CSV files (CONTRACTS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from migrate.cli_options import DbOpt, HomeOpt, database_for
from migrate.errors import BadArguments

if TYPE_CHECKING:  # the linkage engine loads only when a command needs it
    from migrate.mpi.linkage import Pair

mpi_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Master patient index.")
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

LinkOpt = Annotated[
    float | None, typer.Option("--link-threshold", min=0, max=1, help="probability to link without a person")
]
ReviewOpt = Annotated[
    float | None, typer.Option("--review-threshold", min=0, max=1, help="probability to ask a person")
]


class _Stages:
    """A progress bar over the stages of a linkage run: normalising, estimating the model (one
    step per EM session), comparing; each stage names itself."""

    def __init__(self, bar: Progress) -> None:
        from migrate.mpi.blocking import KEYS

        self.bar = bar
        self.task = bar.add_task("normalising records", total=len(KEYS) + 4)

    def __call__(self, description: str) -> None:
        self.bar.update(self.task, advance=1, description=description)


@contextmanager
def _steps(label: str) -> Iterator[_Stages]:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bar:
        yield _Stages(bar)
        bar.update(bar.tasks[0].id, completed=bar.tasks[0].total, description=f"{label}: done")


def _read(path: Path) -> tuple[list[dict[str, str]], int]:
    from migrate.mpi.csvio import read_patients

    if not path.is_file():
        raise BadArguments(f"no such file: {path}")
    pf = read_patients(path)
    for p in pf.problems[:20]:
        err.print(f"{path.name} line {p.line}: skipped: {p.reason}", markup=False)
    if len(pf.problems) > 20:
        err.print(f"{path.name}: {len(pf.problems) - 20} more rows skipped", markup=False)
    return pf.rows, len(pf.problems)


def _thresholds(link: float | None, review: float | None) -> None:
    if link is not None and review is not None and review > link:
        raise BadArguments("--review-threshold must not be above --link-threshold")


def _write_pairs(out_file: Path, ids: list[str], pairs: list[Pair], counted: str) -> None:
    from migrate.mpi.csvio import write_pairs

    n = write_pairs(out_file, ((ids[p.left], ids[p.right], p.score, p.decision) for p in pairs))
    matches = sum(1 for p in pairs if p.decision == "match")
    out.print(f"{counted}: {matches} match and {n - matches} review pairs -> {out_file}")


@mpi_app.command("dedupe")
def dedupe(
    file: Annotated[Path, typer.Argument(help="patient CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="PAIRS.csv to write")],
    link_threshold: LinkOpt = None,
    review_threshold: ReviewOpt = None,
) -> None:
    """Find the records of one file that are the same patient (grouped transitively)."""
    from migrate.mpi import linkage
    from migrate.mpi.records import Records

    _thresholds(link_threshold, review_threshold)
    rows, skipped = _read(file)
    with _steps("dedupe") as stage:
        recs = Records.from_rows(rows)
        stage(f"{len(recs)} records: estimating the model")
        pairs = linkage.dedupe(recs, progress=stage, thresholds=(link_threshold, review_threshold))
    _write_pairs(out_file, recs.ids, pairs, f"{len(recs)} records, {skipped} rows skipped")


@mpi_app.command("link")
def link(
    left: Annotated[Path, typer.Argument(help="patient CSV")],
    right: Annotated[Path, typer.Argument(help="patient CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="PAIRS.csv to write")],
    link_threshold: LinkOpt = None,
    review_threshold: ReviewOpt = None,
) -> None:
    """Pair the records of LEFT with the records of RIGHT that are the same patient."""
    from migrate.mpi import linkage
    from migrate.mpi.records import Records

    _thresholds(link_threshold, review_threshold)
    lrows, lskip = _read(left)
    rrows, rskip = _read(right)
    with _steps("link") as stage:
        lrecs, rrecs = Records.from_rows(lrows), Records.from_rows(rrows)
        stage(f"{len(lrecs)} + {len(rrecs)} records: estimating the model")
        pairs = linkage.link(lrecs, rrecs, progress=stage, thresholds=(link_threshold, review_threshold))
    counted = f"{len(lrecs)} + {len(rrecs)} records, {lskip + rskip} rows skipped"
    _write_pairs(out_file, lrecs.ids + rrecs.ids, pairs, counted)


ActorOpt = Annotated[str, typer.Option("--by", help="who does this (recorded in the index history)")]


def _default_actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@mpi_app.command("import")
def import_patients(
    file: Annotated[Path, typer.Argument(help="patient CSV; id = the existing MRN")],
    by: ActorOpt = "",
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Load existing patients into the index (idempotent on id), then re-estimate the match model."""
    from migrate.db.session import unit_of_work
    from migrate.mpi import index

    rows, skipped = _read(file)
    settings = database_for(db, home)
    actor = by or _default_actor()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as bar, unit_of_work(settings.database_url) as session:
        task = bar.add_task("storing patients", total=len(rows))
        counts = index.import_rows(session, rows, actor, progress=lambda n: bar.advance(task, n))
        if counts["added"] or counts["updated"] or index.current_model(session).model_id == 0:
            bar.update(task, description="counting names and estimating the match model")
            index.refresh(session)
        session.commit()
    out.print(
        f"{counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged, {skipped} rows skipped"
    )


@mpi_app.command("explain")
def explain(
    mrn_a: Annotated[str, typer.Argument(help="MRN of one patient in the index")],
    mrn_b: Annotated[str, typer.Argument(help="MRN of the other")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Why two records score as they do: agreement level and weight of each field."""
    import json

    from rich.table import Table

    from migrate.db.session import unit_of_work
    from migrate.mpi import index

    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        prob, decision, reasons = index.explain_pair(session, mrn_a, mrn_b)
    if as_json:
        payload = {
            "score": round(prob, 4),
            "decision": decision,
            "reasons": [{"field": r.comparison, "level": r.level, "weight": r.weight} for r in reasons],
        }
        out.print(json.dumps(payload), markup=False)
        return
    table = Table("field", "agreement", "weight")
    for r in reasons:
        table.add_row(r.comparison, r.level, f"{r.weight:+.2f}")
    out.print(table)
    out.print(f"match probability {prob:.4f}: {decision}")


IdentityOpts = dict[str, str]


def _identity(**kw: str | None) -> IdentityOpts:
    return {k: v for k, v in kw.items() if v}


@mpi_app.command("new-mrn")
def new_mrn(
    given_name: Annotated[str, typer.Option("--given-name")],
    family_name: Annotated[str, typer.Option("--family-name")],
    birth_date: Annotated[str, typer.Option("--birth-date", help="YYYY-MM-DD")],
    middle_name: Annotated[str | None, typer.Option("--middle-name")] = None,
    sex: Annotated[str | None, typer.Option("--sex")] = None,
    address_line: Annotated[str | None, typer.Option("--address-line")] = None,
    city: Annotated[str | None, typer.Option("--city")] = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    postal_code: Annotated[str | None, typer.Option("--postal-code")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    ssn: Annotated[str | None, typer.Option("--ssn")] = None,
    by: ActorOpt = "",
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Create a new patient with a new MRN, only if the index holds no likely record of them."""
    from migrate.db.session import unit_of_work
    from migrate.mpi import index

    settings = database_for(db, home)
    identity = _identity(
        given_name=given_name, middle_name=middle_name, family_name=family_name, birth_date=birth_date, sex=sex,
        address_line=address_line, city=city, state=state, postal_code=postal_code, phone=phone, ssn=ssn,
    )  # fmt: skip
    with unit_of_work(settings.database_url) as session:
        mrn, _result = index.new_patient(
            session, identity, by or _default_actor(), settings.mrn_prefix,
            review_threshold=settings.mpi_review_threshold,
        )  # fmt: skip
        session.commit()
    out.print(mrn)


@mpi_app.command("merge")
def merge(
    survivor: Annotated[str, typer.Argument(help="MRN that stays")],
    retired: Annotated[str, typer.Argument(help="MRN merged into it")],
    by: ActorOpt = "",
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Merge two records of one patient (the survivor keeps its values and gains missing ones)."""
    from migrate.db.session import unit_of_work
    from migrate.mpi import index

    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        event = index.merge(session, survivor, retired, by or _default_actor())
        session.commit()
        out.print(f"merged {retired} into {survivor} (event {event.id})")


@mpi_app.command("unmerge")
def unmerge(
    retired: Annotated[str, typer.Argument(help="MRN that was merged into another")],
    by: ActorOpt = "",
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Undo a merge: both records return exactly as they were before it."""
    from migrate.db.session import unit_of_work
    from migrate.mpi import index

    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        event = index.unmerge(session, retired, by or _default_actor())
        session.commit()
        out.print(f"unmerged {retired} (event {event.id})")


@mpi_app.command("history")
def history(
    mrn: Annotated[str, typer.Argument(help="MRN in the index")],
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """What happened to a patient record in the index: who did what, when."""
    from migrate.db.session import unit_of_work
    from migrate.mpi import index

    settings = database_for(db, home)
    with unit_of_work(settings.database_url) as session:
        for e in index.history(session, mrn):
            out.print(f"{e['at']}  {e['action']:8s} by {e['actor']}  (event {e['event']})", markup=False)
