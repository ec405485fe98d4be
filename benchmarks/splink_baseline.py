"""Splink 5 (DuckDB backend) as the baseline for our MPI engine, on our patient CSV.

    python benchmarks/splink_baseline.py PATIENTS.csv --truth truth.csv            # dedupe
    python benchmarks/splink_baseline.py LEFT.csv RIGHT.csv --truth truth.csv      # link
    [--threshold 0.5] [--threads N] [--address]

The model follows Splink's own person-data examples (febrl3, febrl4, deduplicate_50k_synthetic, tutorial):

* Cleaning, in SQL as a Splink user would do it before Splink: every column read as text; names lower-cased,
  all but letters, spaces and hyphens removed (a "Jr"/"Sr" typed into family_name stays); birth_date kept
  only when it parses as an ISO date (FEBRL's garbage becomes null); phone, ssn and postal_code reduced to
  digits; the middle name to its initial; empty strings null. Columns without any value (FEBRL has no middle
  name, sex or phone) are left out of the model, and so are the rules that block on them.
* Comparisons: NameComparison on given_name and family_name (Jaro-Winkler 0.92/0.88/0.7, term-frequency
  adjusted), ExactMatch on middle initial and sex, DateOfBirthComparison on birth_date (string input),
  LevenshteinAtThresholds on postal_code (<= 1, term-frequency adjusted), ssn (<= 1) and phone (<= 1, 2).
  City and state are left out (correlated with the ZIP, as the examples advise), and by default so is
  address_line (correlated with ZIP and phone); --address / address=True adds JaroWinklerAtThresholds on it
  (0.9, 0.7) and a blocking rule on it. That helps a little on FEBRL and merges many more households.
* Blocking for prediction (pairs of columns, as the 50k example does for its size): given+family, given+birth
  date, family+birth date, the given/family swap rule of the febrl4 example, phone, postal_code+family,
  ssn+first letter of given_name, first 3 letters of given+first 4 of family, postal_code+given,
  postal_code+birth date.
* Training: estimate_probability_two_random_records_match on given+family+birth date and ssn+birth date,
  recall 0.7; estimate_u_using_random_sampling(max_pairs=1e7, seed=1); EM blocked on given+family name, then
  on birth date (without term frequencies, as in the examples); then predict() with no threshold, so every
  blocked pair is scored.

Wall time covers everything from reading the CSV(s) to the predicted pairs. DuckDB uses all cores unless
--threads says otherwise. Printed: counts and scores only, never a record.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

Pair = tuple[str, str]

CLEAN_SQL = """
select
    id,
    nullif(trim(regexp_replace(lower(given_name), '[^a-z -]', '', 'g')), '') as given_name,
    nullif(left(trim(regexp_replace(lower(middle_name), '[^a-z]', '', 'g')), 1), '') as middle_initial,
    nullif(trim(regexp_replace(lower(family_name), '[^a-z -]', '', 'g')), '') as family_name,
    strftime(try_strptime(trim(birth_date), '%Y-%m-%d'), '%Y-%m-%d') as birth_date,
    nullif(upper(trim(sex)), '') as sex,
    nullif(trim(regexp_replace(lower(address_line), '[^a-z0-9 ]', '', 'g')), '') as address_line,
    nullif(regexp_replace(postal_code, '[^0-9]', '', 'g'), '') as postal_code,
    nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') as phone,
    nullif(regexp_replace(ssn, '[^0-9]', '', 'g'), '') as ssn
from read_csv('{path}', header = true, all_varchar = true)
"""


@dataclass(frozen=True)
class SplinkResult:
    pairs: frozenset[Pair]  # match_probability >= threshold; dedupe: left < right, link: (left id, right id)
    scores: pd.DataFrame  # every pair Splink scored: left_id, right_id, match_probability (same orientation)
    seconds: float  # wall time, reading the CSV(s) to the predicted pairs
    threshold: float


def _comparisons(present: set[str]) -> list[Any]:
    candidates = {
        "given_name": cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        "family_name": cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
        "middle_initial": cl.ExactMatch("middle_initial"),
        "birth_date": cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y-%m-%d"),
        "sex": cl.ExactMatch("sex"),
        "postal_code": cl.LevenshteinAtThresholds("postal_code", 1).configure(term_frequency_adjustments=True),
        "ssn": cl.LevenshteinAtThresholds("ssn", 1),
        "phone": cl.LevenshteinAtThresholds("phone", [1, 2]),
        "address_line": cl.JaroWinklerAtThresholds("address_line", [0.9, 0.7]),
    }
    return [comparison for column, comparison in candidates.items() if column in present]


def _blocking_rules(present: set[str]) -> list[Any]:
    rules: list[tuple[tuple[str, ...], Any]] = [
        (("given_name", "family_name"), block_on("given_name", "family_name")),
        (("given_name", "birth_date"), block_on("given_name", "birth_date")),
        (("family_name", "birth_date"), block_on("family_name", "birth_date")),
        (("given_name", "family_name"), "l.given_name = r.family_name and l.family_name = r.given_name"),
        (("phone",), block_on("phone")),
        (("address_line",), block_on("address_line")),
        (("postal_code", "family_name"), block_on("postal_code", "family_name")),
        (("ssn", "given_name"), block_on("ssn", "substr(given_name, 1, 1)")),
        (("given_name", "family_name"), block_on("substr(given_name, 1, 3)", "substr(family_name, 1, 4)")),
        (("postal_code", "given_name"), block_on("postal_code", "given_name")),
        (("postal_code", "birth_date"), block_on("postal_code", "birth_date")),
    ]
    return [rule for columns, rule in rules if set(columns) <= present]


def _run(paths: list[Path], threshold: float, threads: int | None, address: bool) -> SplinkResult:
    started = time.perf_counter()
    con = duckdb.connect()
    if threads:
        con.execute(f"set threads = {int(threads)}")
    names = ["patients_left", "patients_right"][: len(paths)]
    present: set[str] = set()
    for name, path in zip(names, paths, strict=True):
        con.execute(f"create table {name} as " + CLEAN_SQL.format(path=str(path).replace("'", "''")))
        columns = [c for c in con.table(name).columns if c != "id"]
        counts = con.sql(f"select {', '.join(f'count({c})' for c in columns)} from {name}").fetchall()[0]
        present |= {c for c, n in zip(columns, counts, strict=True) if n and (address or c != "address_line")}
    link = len(paths) == 2
    settings = SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        unique_id_column_name="id",
        comparisons=_comparisons(present),
        blocking_rules_to_generate_predictions=_blocking_rules(present),
    )
    db_api = DuckDBAPI(connection=con)
    sdfs = [db_api.register(name, dataset_display_name=name.split("_")[1]) for name in names]
    linker = Linker(sdfs if link else sdfs[0], settings, log_level=logging.WARNING)
    deterministic: list[Any] = [block_on("given_name", "family_name", "birth_date")]
    if {"ssn", "birth_date"} <= present:
        deterministic.append(block_on("ssn", "birth_date"))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    for rule in (block_on("given_name", "family_name"), block_on("birth_date")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    predictions = linker.inference.predict()
    wanted = "id_l, id_r, match_probability" + (", source_dataset_l" if link else "")
    scores = predictions.as_duckdbpyrelation().select(wanted).df()
    # orient every pair as (id from the left CSV, id from the right CSV), or (smaller id, larger id)
    flip = (scores.pop("source_dataset_l") != "left") if link else (scores.id_l > scores.id_r)
    scores.loc[flip, ["id_l", "id_r"]] = scores.loc[flip, ["id_r", "id_l"]].to_numpy()
    scores = scores.rename(columns={"id_l": "left_id", "id_r": "right_id"})
    chosen = scores[scores.match_probability >= threshold]
    pairs = frozenset(zip(chosen.left_id, chosen.right_id, strict=True))
    con.close()
    return SplinkResult(pairs, scores, time.perf_counter() - started, threshold)


def splink_dedupe(
    csv: Path, threshold: float = 0.5, *, threads: int | None = None, address: bool = False
) -> SplinkResult:
    """Deduplicate one patient CSV with Splink; pairs are (smaller id, larger id)."""
    return _run([csv], threshold, threads, address)


def splink_link(
    left: Path, right: Path, threshold: float = 0.5, *, threads: int | None = None, address: bool = False
) -> SplinkResult:
    """Link two patient CSVs with Splink; pairs are (id in left, id in right)."""
    return _run([left, right], threshold, threads, address)


def read_truth(path: Path, link: bool = False) -> frozenset[Pair]:
    """True pairs from ``left_id,right_id`` (FEBRL) or ``id,person_id`` (hospital) truth files."""
    truth = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "person_id" in truth.columns:
        merged = truth.merge(truth, on="person_id")
        merged = merged[merged.id_x < merged.id_y]
        return frozenset(zip(merged.id_x, merged.id_y, strict=True))
    if link:
        return frozenset(zip(truth.left_id, truth.right_id, strict=True))
    return frozenset((min(a, b), max(a, b)) for a, b in zip(truth.left_id, truth.right_id, strict=True))


def score(predicted: frozenset[Pair], truth: frozenset[Pair]) -> tuple[float, float, float]:
    """Precision, recall, F1."""
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if hits else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Splink baseline on patient CSV(s), scored against a truth file.")
    parser.add_argument("csv", type=Path, nargs="+", help="one CSV to deduplicate, or two to link")
    parser.add_argument("--truth", type=Path, required=True, help="left_id,right_id or id,person_id")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--address", action="store_true", help="also compare and block on address_line")
    args = parser.parse_args(argv)
    if len(args.csv) > 2:
        parser.error("give one CSV (dedupe) or two (link)")
    link = len(args.csv) == 2
    options = {"threshold": args.threshold, "threads": args.threads, "address": args.address}
    result = splink_link(*args.csv, **options) if link else splink_dedupe(args.csv[0], **options)
    truth = read_truth(args.truth, link)
    blocked = frozenset(zip(result.scores.left_id, result.scores.right_id, strict=True))
    print(f"true pairs {len(truth):,}; scored pairs {len(blocked):,} (blocking recall {score(blocked, truth)[1]:.4f})")
    for threshold in sorted({args.threshold, 0.5, 0.9, 0.99}):
        chosen = result.scores[result.scores.match_probability >= threshold]
        predicted = frozenset(zip(chosen.left_id, chosen.right_id, strict=True))
        precision, recall, f1 = score(predicted, truth)
        print(
            f"threshold {threshold:<5} predicted {len(predicted):>9,}  P {precision:.4f}  R {recall:.4f}  F1 {f1:.4f}"
        )
    print(f"wall time {result.seconds:.1f} s (reading CSV to predictions)")


if __name__ == "__main__":
    main()
