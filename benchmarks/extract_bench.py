"""Extraction accuracy and speed: drafts scored against ground truth, on two corpora side by side.

    python benchmarks/extract_bench.py [--charts DIR] [--generated N] [--seed S] [--workers W] [--json OUT]

1. ../shared/dev-charts (the evaluation corpus), 2. a set of charts made by samples/generate.py with a
seed the extraction was never developed on (layouts, label words, date formats vary by seed).
Both are ingested (OCR + extraction) into fresh data folders; `migrate.evaluation.score` gives
precision / recall / F1 per field group. Extraction time per page is measured by running extraction
again on the stored words (no OCR) and compared with the OCR time per page of the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from migrate.batch import reextract, run_batch
from migrate.db.models import Page
from migrate.db.session import unit_of_work
from migrate.evaluation import score
from migrate.export import iter_drafts
from migrate.filetypes import EXTENSIONS
from migrate.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"demographics": 0.97, "diagnoses": 0.90, "medications": 0.90, "allergies": 0.90}


def run_corpus(name: str, scans: Path, truth: Path, workers: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix=f"cm-extract-{name}-"))
    settings = Settings(home=home)
    files = sorted(p for p in scans.iterdir() if p.suffix.lower() in EXTENSIONS)
    started = time.perf_counter()
    summary = run_batch(files, settings, workers=workers)
    ingest_s = time.perf_counter() - started
    with unit_of_work(settings.database_url) as session:
        pages = int(session.scalar(select(func.count(Page.id))) or 0)
        ocr_s = float(session.scalar(select(func.sum(Page.seconds))) or 0.0)
        report = score(list(iter_drafts(session)), truth)
    started = time.perf_counter()
    reextract([], settings)  # warm: terminology and drug dictionary loaded once per process
    warm_s = time.perf_counter() - started
    started = time.perf_counter()
    reextract([], settings)
    extract_s = time.perf_counter() - started
    print(f"\n== {name}: {len(files)} files, {pages} pages, failed {len(summary.failed)}, ingest {ingest_s:.1f} s")
    print(report.format_table())
    per_page_extract = extract_s / max(pages, 1)
    per_page_ocr = ocr_s / max(pages, 1)
    print(
        f"extraction {per_page_extract * 1000:.1f} ms/page vs OCR {per_page_ocr * 1000:.0f} ms/page "
        f"(ratio {per_page_extract / per_page_ocr:.3f}; first run incl. loading rules {warm_s:.1f} s)"
    )
    figures = report.to_dict()
    for group, target in TARGETS.items():
        f1 = report.group(group).f1
        verdict = "PASS" if f1 is not None and f1 >= target else "FAIL"
        print(f"  {group:13s} F1 {f1 if f1 is None else round(f1, 3)} (target {target}) {verdict}")
    neg = report.negation_accuracy.accuracy
    print(f"  negation accuracy {neg if neg is None else round(neg, 3)} (target 0.95)")
    return {
        "report": figures,
        "pages": pages,
        "extract_ms_per_page": per_page_extract * 1000,
        "ocr_ms_per_page": per_page_ocr * 1000,
        "first_reextract_s": warm_s,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--charts", type=Path, default=ROOT.parent / "shared" / "dev-charts")
    ap.add_argument("--generated", type=int, default=24, help="charts to generate for the held-out set (0: skip)")
    ap.add_argument("--seed", type=int, default=2027, help="seed of the held-out set (samples/ uses 7)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results: dict[str, Any] = {}
    if args.charts.is_dir():
        results["dev-charts"] = run_corpus("dev-charts", args.charts, args.charts, args.workers)
    if args.generated:
        out = Path(tempfile.mkdtemp(prefix="cm-heldout-"))
        subprocess.run(
            [sys.executable, str(ROOT / "samples" / "generate.py"), "--out", str(out / "charts"),
             "--truth-out", str(out / "truth"), "--seed", str(args.seed), "--count", str(args.generated)],
            check=True, capture_output=True,
        )  # fmt: skip
        results[f"generated-seed{args.seed}"] = run_corpus(
            f"generated (seed {args.seed})", out / "charts", out / "truth", args.workers
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
