"""Lookup latency: one incoming patient against a large index in SQLite (p50, p95).

    .venv/bin/python benchmarks/mpi_lookup_bench.py [--n 1000000] [--queries 1000] [--seed 3] [--json OUT]

Builds a synthetic hospital index of N patients (benchmarks/mpi_data.py), imports it with the
same code as `chartmigrate mpi import` into a fresh SQLite file, estimates the model, then times
`migrate.mpi.index.lookup` for incoming records held out of the index: half are other records
of indexed patients (duplicates with their errors), half are people not in the index. Reports
import time, p50/p95/max lookup time, rows read per lookup, and how the decisions came out.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mpi_data import write_hospital

from migrate.db.session import migrate_to_head, unit_of_work
from migrate.mpi import index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cm-mpi-lookup-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        hs = write_hospital(args.n, args.seed, work / "hospital")
        gen_s = time.perf_counter() - t
        with hs.patients.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        person = {}
        with hs.truth.open(encoding="utf-8") as f:
            for r in csv.DictReader(f):
                person[r["id"]] = r["person_id"]
        # Hold out: one record of each of queries/2 duplicated persons, and queries/2 singletons.
        by_person: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            by_person.setdefault(person[r["id"]], []).append(i)
        dups = [v[-1] for v in by_person.values() if len(v) > 1][: args.queries // 2]
        singles = [v[0] for v in by_person.values() if len(v) == 1][-(args.queries // 2) :]
        held = set(dups) | set(singles)
        indexed = [r for i, r in enumerate(rows) if i not in held]
        url = f"sqlite:///{work / 'index.db'}"
        migrate_to_head(url)
        t = time.perf_counter()
        with unit_of_work(url) as s:
            index.import_rows(s, indexed, "benchmark")
            s.commit()
        import_s = time.perf_counter() - t
        t = time.perf_counter()
        with unit_of_work(url) as s:
            index.refresh(s)
            s.commit()
        refresh_s = time.perf_counter() - t
        times: list[float] = []
        outcome: Counter[str] = Counter()
        with unit_of_work(url) as s:
            index.lookup(s, {k: v for k, v in rows[dups[0]].items() if k != "id"})  # warm caches
            for kind, idxs in (("duplicate", dups), ("new", singles)):
                for i in idxs:
                    q = {k: v for k, v in rows[i].items() if k != "id"}
                    t = time.perf_counter()
                    res = index.lookup(s, q)
                    times.append(time.perf_counter() - t)
                    top = res.candidates[0].mrn if res.candidates else None
                    right = top is not None and person.get(top) == person[rows[i]["id"]]
                    if res.decision == "link":
                        outcome[f"{kind}: link to {'the right' if right else 'a WRONG'} patient"] += 1
                    else:
                        outcome[f"{kind}: {res.decision}"] += 1
    ms = sorted(x * 1000 for x in times)
    result = {
        "index_records": len(indexed),
        "generate_s": round(gen_s, 1),
        "import_s": round(import_s, 1),
        "refresh_s": round(refresh_s, 1),
        "lookups": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
        "outcomes": dict(sorted(outcome.items())),
    }
    for k, v in result.items():
        sys.stdout.write(f"{k}: {v}\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
