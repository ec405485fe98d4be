"""`chartmigrate mpi ...`: duplicate patients in patient CSV files (CONTRACTS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from migrate.errors import BadArguments

mpi_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="Master patient index.")
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

LinkOpt = Annotated[
    float | None, typer.Option("--link-threshold", min=0, max=1, help="probability to link without a person")
]
ReviewOpt = Annotated[
    float | None, typer.Option("--review-threshold", min=0, max=1, help="probability to ask a person")
]


@contextmanager
def _steps(label: str) -> Iterator[Progress]:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err) as bar:
        yield bar


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


@mpi_app.command("dedupe")
def dedupe(
    file: Annotated[Path, typer.Argument(help="patient CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="PAIRS.csv to write")],
    link_threshold: LinkOpt = None,
    review_threshold: ReviewOpt = None,
) -> None:
    """Find the records of one file that are the same patient (grouped transitively)."""
    from migrate.mpi import linkage
    from migrate.mpi.csvio import write_pairs
    from migrate.mpi.records import Records

    _thresholds(link_threshold, review_threshold)
    rows, skipped = _read(file)
    with _steps("dedupe") as bar:
        task = bar.add_task("normalising records")
        recs = Records.from_rows(rows)
        bar.update(task, description=f"{len(recs)} records: estimating the model")
        model = linkage.train(recs, progress=lambda m: bar.update(task, description=m)).with_thresholds(
            link_threshold, review_threshold
        )
        bar.update(task, description="comparing candidate pairs")
        pairs = linkage.dedupe(recs, model)
    n = write_pairs(out_file, ((recs.ids[p.left], recs.ids[p.right], p.score, p.decision) for p in pairs))
    matches = sum(1 for p in pairs if p.decision == "match")
    out.print(
        f"{len(recs)} records, {skipped} rows skipped: {matches} match and {n - matches} review pairs -> {out_file}"
    )


@mpi_app.command("link")
def link(
    left: Annotated[Path, typer.Argument(help="patient CSV")],
    right: Annotated[Path, typer.Argument(help="patient CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="PAIRS.csv to write")],
    link_threshold: LinkOpt = None,
    review_threshold: ReviewOpt = None,
) -> None:
    """Pair the records of LEFT with the records of RIGHT that are the same patient."""
    import numpy as np

    from migrate.mpi import linkage
    from migrate.mpi.csvio import write_pairs
    from migrate.mpi.records import Records

    _thresholds(link_threshold, review_threshold)
    lrows, lskip = _read(left)
    rrows, rskip = _read(right)
    with _steps("link") as bar:
        task = bar.add_task("normalising records")
        lrecs, rrecs = Records.from_rows(lrows), Records.from_rows(rrows)
        recs = Records.concat(lrecs, rrecs)
        side = np.concatenate([np.zeros(len(lrecs), np.int8), np.ones(len(rrecs), np.int8)])
        bar.update(task, description=f"{len(lrecs)} + {len(rrecs)} records: estimating the model")
        model = linkage.train(recs, side=side, progress=lambda m: bar.update(task, description=m))
        model = model.with_thresholds(link_threshold, review_threshold)
        bar.update(task, description="comparing candidate pairs")
        pairs = linkage.link(lrecs, rrecs, model)
    n = write_pairs(out_file, ((recs.ids[p.left], recs.ids[p.right], p.score, p.decision) for p in pairs))
    matches = sum(1 for p in pairs if p.decision == "match")
    out.print(
        f"{len(lrecs)} + {len(rrecs)} records, {lskip + rskip} rows skipped: "
        f"{matches} match and {n - matches} review pairs -> {out_file}"
    )
