"""Score exported draft records against ground-truth charts.

``score(drafts, truth_dir)`` matches each draft (a parsed line of ``export drafts``) to the
``*.truth.json`` file whose ``file`` equals the file name of the draft's ``source.path`` and
counts true positives, false positives and false negatives per field group, micro-averaged over
charts. Truth files without a draft count as all-missed; drafts without a truth file are ignored.

Field groups and matching rules:

- ``demographics``: one comparison per patient field (``name_suffix`` ignored); values compared
  case-insensitively with whitespace collapsed and punctuation stripped at the ends, phone by
  digits, birth date as exact ISO text. A wrong value is a false positive *and* a false negative;
  a value where the truth is null is a false positive.
- ``diagnoses`` / ``diagnoses_category``: the set of ICD-10-CM codes (negated or not) per chart,
  exactly (dots kept) and by the first three characters. ``negation_accuracy`` is measured over
  the truth diagnoses whose exact code was found.
- ``medications`` (by lower-cased name), ``allergies`` (by substance, singular/plural-insensitive),
  ``encounters`` (by date): sets of keys per chart, with attribute accuracy over matched items.
- ``procedures``: one-to-one fuzzy matching of normalised text (rapidfuzz ``token_set_ratio``
  >= 85, best pairs first), with date accuracy over matched items.

The report holds counts and field names only. Values appear only in ``Mismatch`` records, which
are collected when asked for (``collect_errors=True``; ``--show-errors`` on the command line).

Run as ``python -m migrate.evaluation TRUTH_DIR [DRAFTS.jsonl] [--json OUT] [--show-errors]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rapidfuzz import fuzz

PATIENT_FIELDS = (
    "given_name",
    "middle_name",
    "family_name",
    "birth_date",
    "sex",
    "chart_number",
    "address_line",
    "city",
    "state",
    "postal_code",
    "phone",
    "insurance_payer",
    "insurance_member_id",
)
GROUPS = (
    "demographics",
    "diagnoses",
    "diagnoses_category",
    "medications",
    "allergies",
    "procedures",
    "encounters",
)
ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "medications": ("dose", "route", "frequency"),
    "allergies": ("reaction",),
    "procedures": ("date",),
    "encounters": ("provider",),
}
PROCEDURE_MATCH_THRESHOLD = 85.0
TRUTH_SUFFIX = ".truth.json"


# ---------------------------------------------------------------------------------------------
# Report


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives; rates are None when undefined (0/0)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
        }


@dataclass(frozen=True)
class Accuracy:
    """Share of ``total`` comparisons that were ``correct``; None when nothing was compared."""

    correct: int = 0
    total: int = 0

    def __add__(self, other: Accuracy) -> Accuracy:
        return Accuracy(self.correct + other.correct, self.total + other.total)

    @property
    def accuracy(self) -> float | None:
        return _ratio(self.correct, self.total)

    def to_dict(self) -> dict[str, Any]:
        return {"correct": self.correct, "total": self.total, "accuracy": _round(self.accuracy)}


@dataclass(frozen=True)
class FieldScore:
    name: str
    counts: Counts


@dataclass(frozen=True)
class AttributeScore:
    name: str
    accuracy: Accuracy


@dataclass(frozen=True)
class GroupScore:
    """One field group: overall counts, per-field counts (demographics) and attribute accuracies."""

    name: str
    counts: Counts
    fields: tuple[FieldScore, ...] = ()
    attributes: tuple[AttributeScore, ...] = ()

    @property
    def tp(self) -> int:
        return self.counts.tp

    @property
    def fp(self) -> int:
        return self.counts.fp

    @property
    def fn(self) -> int:
        return self.counts.fn

    @property
    def precision(self) -> float | None:
        return self.counts.precision

    @property
    def recall(self) -> float | None:
        return self.counts.recall

    @property
    def f1(self) -> float | None:
        return self.counts.f1

    def field(self, name: str) -> Counts:
        for f in self.fields:
            if f.name == name:
                return f.counts
        raise KeyError(name)

    def attribute(self, name: str) -> Accuracy:
        for a in self.attributes:
            if a.name == name:
                return a.accuracy
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        out = self.counts.to_dict()
        if self.fields:
            out["fields"] = {f.name: f.counts.to_dict() for f in self.fields}
        if self.attributes:
            out["attributes"] = {a.name: a.accuracy.to_dict() for a in self.attributes}
        return out


@dataclass(frozen=True)
class Mismatch:
    """One disagreement, with values: for ``--show-errors`` only, never in ``to_dict``."""

    chart: str
    where: str  # e.g. "demographics.phone", "medications", "medications.dose"
    kind: str  # "wrong" | "missed" | "spurious"
    expected: str | None
    got: str | None


@dataclass(frozen=True)
class Report:
    charts_scored: int
    groups: tuple[GroupScore, ...]
    negation_accuracy: Accuracy
    charts_without_draft: tuple[str, ...] = ()
    drafts_ignored: int = 0
    mismatches: tuple[Mismatch, ...] = field(default=(), compare=False)

    def group(self, name: str) -> GroupScore:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: counts, rates and field names; no chart values."""
        return {
            "charts_scored": self.charts_scored,
            "charts_without_draft": list(self.charts_without_draft),
            "drafts_ignored": self.drafts_ignored,
            "groups": {g.name: g.to_dict() for g in self.groups},
            "negation_accuracy": self.negation_accuracy.to_dict(),
        }

    def format_table(self) -> str:
        """Fixed-width plain text table of the scores."""
        lines = [
            f"charts scored: {self.charts_scored}   without a draft: {len(self.charts_without_draft)}"
            f"   drafts ignored (no truth): {self.drafts_ignored}",
        ]
        if self.charts_without_draft:
            lines.append("charts without a draft: " + ", ".join(self.charts_without_draft))
        lines.append("")
        header = f"{'group / field':<32}{'TP':>7}{'FP':>7}{'FN':>7}{'prec':>8}{'recall':>8}{'F1':>8}"
        lines += [header, "-" * len(header)]
        for g in self.groups:
            lines.append(_count_row(g.name, g.counts))
            lines.extend(_count_row("  " + f.name, f.counts) for f in g.fields)
            lines.extend(_accuracy_row(f"  {a.name} accuracy", a.accuracy) for a in g.attributes)
        lines.append("-" * len(header))
        lines.append(_accuracy_row("negation accuracy", self.negation_accuracy))
        return "\n".join(lines)

    def format_errors(self) -> str:
        """Mismatches per chart, values included (contains chart data: for debugging only)."""
        if not self.mismatches:
            return "no mismatches collected"
        lines: list[str] = []
        chart = None
        for m in sorted(self.mismatches, key=lambda m: m.chart):
            if m.chart != chart:
                chart = m.chart
                lines.append(chart)
            lines.append(f"  {m.where:<28} {m.kind:<9} expected={m.expected!r} got={m.got!r}")
        return "\n".join(lines)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _count_row(label: str, c: Counts) -> str:
    return f"{label:<32}{c.tp:>7}{c.fp:>7}{c.fn:>7}{_rate(c.precision):>8}{_rate(c.recall):>8}{_rate(c.f1):>8}"


def _accuracy_row(label: str, a: Accuracy) -> str:
    return f"{label:<32}{f'{a.correct}/{a.total}':>37}{_rate(a.accuracy):>8}"


# ---------------------------------------------------------------------------------------------
# Normalisation

_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
_SPACE = re.compile(r"\s+")
_DOSE_UNIT = re.compile(r"(\d)\s*([^\d\s.,])")
_DR_PREFIX = re.compile(r"^(?:dr\b\.?\s*)+")
_DEGREE_SUFFIX = re.compile(r"(?:[\s,]+(?:m\.?\s?d|d\.?\s?o)\.?)+$")


def _raw(value: Any) -> str | None:
    """The text of a draft field (``{"value": ...}``), a plain value, or None when absent/empty."""
    if isinstance(value, Mapping):
        value = value.get("value")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def norm_text(value: Any) -> str | None:
    """Case-insensitive, whitespace collapsed, punctuation stripped at the ends; None when empty."""
    text = _raw(value)
    if text is None:
        return None
    text = _EDGE_PUNCT.sub("", _SPACE.sub(" ", text.casefold()))
    return text or None


def norm_phone(value: Any) -> str | None:
    text = _raw(value)
    digits = re.sub(r"\D", "", text or "")
    return digits or None


def norm_date(value: Any) -> str | None:
    return _raw(value)


def norm_code(value: Any) -> str | None:
    text = _raw(value)
    return None if text is None else re.sub(r"\s+", "", text).upper() or None


def norm_dose(value: Any) -> str | None:
    """``"500mg"`` == ``"500 MG"`` == ``"500 mg"``."""
    text = norm_text(value)
    return None if text is None else _DOSE_UNIT.sub(r"\1 \2", text)


def _singular(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def norm_substance(value: Any) -> str | None:
    """Lower-cased, each word singular: ``"sulfonamides"`` ~ ``"sulfonamide"``."""
    text = norm_text(value)
    return None if text is None else " ".join(_singular(w) for w in text.split(" "))


def norm_provider(value: Any) -> str | None:
    """Without a ``Dr.`` prefix or an ``MD``/``DO`` suffix, case-insensitive."""
    text = norm_text(value)
    if text is None:
        return None
    text = _DEGREE_SUFFIX.sub("", _DR_PREFIX.sub("", text))
    return norm_text(text)


def _middle_name_match(truth: str, predicted: str) -> bool:
    if truth == predicted:
        return True
    # The truth holds the fullest form printed: a full name predicted where only the initial was
    # printed still agrees; an initial predicted where the full name was printed does not.
    return len(truth) == 1 and predicted[:1] == truth


# ---------------------------------------------------------------------------------------------
# Scoring


def _items(record: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    value = record.get(key) if record else None
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, Mapping)]


class _Chart:
    """Accumulates one chart's comparisons into the run totals."""

    def __init__(self, run: _Run, chart: str) -> None:
        self.run = run
        self.chart = chart

    def count(self, group: str, counts: Counts, name: str | None = None) -> None:
        self.run.counts[group] = self.run.counts.get(group, Counts()) + counts
        if name is not None:
            key = (group, name)
            self.run.field_counts[key] = self.run.field_counts.get(key, Counts()) + counts

    def attribute(self, group: str, name: str, correct: bool) -> None:
        key = (group, name)
        self.run.attributes[key] = self.run.attributes.get(key, Accuracy()) + Accuracy(int(correct), 1)

    def mismatch(self, where: str, kind: str, expected: Any, got: Any) -> None:
        if self.run.collect_errors:
            self.run.mismatches.append(Mismatch(self.chart, where, kind, _raw(expected), _raw(got)))


@dataclass
class _Run:
    collect_errors: bool
    counts: dict[str, Counts] = field(default_factory=dict)
    field_counts: dict[tuple[str, str], Counts] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Accuracy] = field(default_factory=dict)
    negation: Accuracy = Accuracy()
    mismatches: list[Mismatch] = field(default_factory=list)


def _score_demographics(c: _Chart, truth: Mapping[str, Any], draft: Mapping[str, Any] | None) -> None:
    tp_: Mapping[str, Any] = truth.get("patient") or {}
    dp_: Any = (draft or {}).get("patient")
    dp: Mapping[str, Any] = dp_ if isinstance(dp_, Mapping) else {}
    for name in PATIENT_FIELDS:
        norm = norm_phone if name == "phone" else norm_date if name == "birth_date" else norm_text
        t, p = norm(tp_.get(name)), norm(dp.get(name))
        where = f"demographics.{name}"
        if t is None and p is None:
            counts = Counts()
        elif t is None:
            counts = Counts(fp=1)
            c.mismatch(where, "spurious", None, dp.get(name))
        elif p is None:
            counts = Counts(fn=1)
            c.mismatch(where, "missed", tp_.get(name), None)
        elif t == p or (name == "middle_name" and _middle_name_match(t, p)):
            counts = Counts(tp=1)
        else:
            counts = Counts(fp=1, fn=1)
            c.mismatch(where, "wrong", tp_.get(name), dp.get(name))
        c.count("demographics", counts, name)


def _keyed(
    items: Iterable[Mapping[str, Any]], key: str, norm: Callable[[Any], str | None]
) -> dict[str, Mapping[str, Any]]:
    """Items by normalised key, first occurrence kept; items without a key are dropped."""
    out: dict[str, Mapping[str, Any]] = {}
    for item in items:
        k = norm(item.get(key))
        if k is not None and k not in out:
            out[k] = item
    return out


def _score_set(
    c: _Chart,
    group: str,
    truth: dict[str, Mapping[str, Any]],
    predicted: dict[str, Mapping[str, Any]],
    attributes: Sequence[tuple[str, Callable[[Any], str | None]]] = (),
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Set comparison of keys; attribute accuracy over matched items. Returns the matched pairs."""
    matched = [(truth[k], predicted[k]) for k in truth if k in predicted]
    c.count(group, Counts(tp=len(matched), fp=len(predicted.keys() - truth.keys()), fn=len(truth.keys() - predicted)))
    for k in truth.keys() - predicted.keys():
        c.mismatch(group, "missed", k, None)
    for k in predicted.keys() - truth.keys():
        c.mismatch(group, "spurious", None, k)
    _score_attributes(c, group, matched, attributes)
    return matched


def _score_attributes(
    c: _Chart,
    group: str,
    pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    attributes: Sequence[tuple[str, Callable[[Any], str | None]]],
) -> None:
    # An attribute that is null in the truth agrees with an absent one in the draft.
    for t_item, p_item in pairs:
        for name, norm in attributes:
            ok = norm(t_item.get(name)) == norm(p_item.get(name))
            c.attribute(group, name, ok)
            if not ok:
                c.mismatch(f"{group}.{name}", "wrong", t_item.get(name), p_item.get(name))


def _score_diagnoses(c: _Chart, truth: Mapping[str, Any], draft: Mapping[str, Any] | None) -> None:
    t_codes = _keyed(_items(truth, "diagnoses"), "code", norm_code)
    p_codes = _keyed(_items(draft, "diagnoses"), "code", norm_code)
    matched = _score_set(c, "diagnoses", t_codes, p_codes)

    def categories(codes: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        return {code[:3]: {} for code in codes}

    _score_set(c, "diagnoses_category", categories(t_codes), categories(p_codes))

    for t_item, p_item in matched:
        ok = bool(t_item.get("negated")) == bool(p_item.get("negated"))
        c.run.negation = c.run.negation + Accuracy(int(ok), 1)
        if not ok:
            c.mismatch("negation", "wrong", str(bool(t_item.get("negated"))), str(bool(p_item.get("negated"))))


def _score_procedures(c: _Chart, truth: Mapping[str, Any], draft: Mapping[str, Any] | None) -> None:
    t_items = list(_keyed(_items(truth, "procedures"), "text", norm_text).items())
    p_items = list(_keyed(_items(draft, "procedures"), "text", norm_text).items())
    candidates = sorted(
        (
            (fuzz.token_set_ratio(tk, pk), -i, -j)
            for i, (tk, _) in enumerate(t_items)
            for j, (pk, _) in enumerate(p_items)
        ),
        reverse=True,
    )
    used_t: set[int] = set()
    used_p: set[int] = set()
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    for ratio, ni, nj in candidates:
        i, j = -ni, -nj
        if ratio < PROCEDURE_MATCH_THRESHOLD:
            break
        if i in used_t or j in used_p:
            continue
        used_t.add(i)
        used_p.add(j)
        pairs.append((t_items[i][1], p_items[j][1]))
    c.count("procedures", Counts(tp=len(pairs), fp=len(p_items) - len(used_p), fn=len(t_items) - len(used_t)))
    for i, (tk, _) in enumerate(t_items):
        if i not in used_t:
            c.mismatch("procedures", "missed", tk, None)
    for j, (pk, _) in enumerate(p_items):
        if j not in used_p:
            c.mismatch("procedures", "spurious", None, pk)
    _score_attributes(c, "procedures", pairs, [("date", norm_date)])


def _score_chart(c: _Chart, truth: Mapping[str, Any], draft: Mapping[str, Any] | None) -> None:
    _score_demographics(c, truth, draft)
    _score_diagnoses(c, truth, draft)

    def keyed(
        rec: Mapping[str, Any] | None, group: str, key: str, norm: Callable[[Any], str | None]
    ) -> dict[str, Mapping[str, Any]]:
        return _keyed(_items(rec, group), key, norm)

    _score_set(
        c,
        "medications",
        keyed(truth, "medications", "name", norm_text),
        keyed(draft, "medications", "name", norm_text),
        [("dose", norm_dose), ("route", norm_text), ("frequency", norm_text)],
    )
    _score_set(
        c,
        "allergies",
        keyed(truth, "allergies", "substance", norm_substance),
        keyed(draft, "allergies", "substance", norm_substance),
        [("reaction", norm_text)],
    )
    _score_procedures(c, truth, draft)
    _score_set(
        c,
        "encounters",
        keyed(truth, "encounters", "date", norm_date),
        keyed(draft, "encounters", "date", norm_date),
        [("provider", norm_provider)],
    )


def _file_name(draft: Mapping[str, Any]) -> str | None:
    source = draft.get("source")
    path = source.get("path") if isinstance(source, Mapping) else None
    if not isinstance(path, str) or not path.strip():
        return None
    return path.strip().replace("\\", "/").rsplit("/", 1)[-1]


def load_truth(truth_dir: Path) -> dict[str, dict[str, Any]]:
    """Truth records by their ``file`` name (falling back to the truth file's own stem)."""
    truths: dict[str, dict[str, Any]] = {}
    for path in sorted(truth_dir.glob(f"*{TRUTH_SUFFIX}")):
        with path.open(encoding="utf-8") as f:
            record = json.load(f)
        name = record.get("file") or path.name[: -len(TRUTH_SUFFIX)]
        truths[str(name)] = record
    return truths


def score(drafts: Iterable[Mapping[str, Any]], truth_dir: Path, *, collect_errors: bool = False) -> Report:
    """Score drafts against the truth files in ``truth_dir`` (see the module docstring).

    When several drafts share a file name, the last one not ``failed`` is scored (else the last).
    ``collect_errors`` keeps per-chart mismatches, with values, in ``Report.mismatches``.
    """
    truths = load_truth(Path(truth_dir))
    chosen: dict[str, Mapping[str, Any]] = {}
    ignored = 0
    for draft in drafts:
        name = _file_name(draft) if isinstance(draft, Mapping) else None
        if name is None or name not in truths:
            ignored += 1
            continue
        previous = chosen.get(name)
        if previous is None or previous.get("status") == "failed" or draft.get("status") != "failed":
            chosen[name] = draft

    run = _Run(collect_errors=collect_errors)
    for name, truth in truths.items():
        _score_chart(_Chart(run, name), truth, chosen.get(name))

    groups = []
    for g in GROUPS:
        fields = (
            tuple(FieldScore(n, run.field_counts.get((g, n), Counts())) for n in PATIENT_FIELDS)
            if g == "demographics"
            else ()
        )
        attrs = tuple(AttributeScore(n, run.attributes.get((g, n), Accuracy())) for n in ATTRIBUTES.get(g, ()))
        groups.append(GroupScore(g, run.counts.get(g, Counts()), fields, attrs))
    return Report(
        charts_scored=len(truths),
        groups=tuple(groups),
        negation_accuracy=run.negation,
        charts_without_draft=tuple(n for n in truths if n not in chosen),
        drafts_ignored=ignored,
        mismatches=tuple(run.mismatches),
    )


# ---------------------------------------------------------------------------------------------
# Command line


def _read_jsonl(stream: TextIO) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit(f"error: line {n} is not JSON: {e.msg}") from None
        if isinstance(record, dict):
            out.append(record)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migrate.evaluation", description="Score drafts against truth.")
    parser.add_argument("truth_dir", type=Path, help="folder of chart_NNNN.truth.json files")
    parser.add_argument("drafts", nargs="?", type=Path, help="export drafts JSON lines (default: stdin)")
    parser.add_argument("--json", dest="json_out", type=Path, metavar="OUT", help="also write the scores as JSON")
    parser.add_argument(
        "--show-errors", action="store_true", help="list mismatches per chart, with values (shows chart data)"
    )
    args = parser.parse_args(argv)
    if not args.truth_dir.is_dir():
        parser.error(f"not a folder: {args.truth_dir}")
    if args.drafts is None:
        drafts = _read_jsonl(sys.stdin)
    else:
        with args.drafts.open(encoding="utf-8") as f:
            drafts = _read_jsonl(f)
    report = score(drafts, args.truth_dir, collect_errors=args.show_errors)
    print(report.format_table())  # noqa: T201
    if args.show_errors:
        print()  # noqa: T201
        print(report.format_errors())  # noqa: T201
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
