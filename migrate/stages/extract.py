"""Extraction stage: a document's OCR words become its draft record (CONTRACTS.md shape).

Pure function of the stored words, so it runs in the ingest workers and again alone
(`chartmigrate reextract`) without OCR.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from migrate.nlp import clinical, demographics, medications
from migrate.nlp import normalize as nz
from migrate.nlp.forms import RULES
from migrate.nlp.layout import Line, group_lines
from migrate.records import FieldValue, Word

EXTRACTOR_VERSION = "extract-4"
PATIENT_FIELDS = (
    "given_name", "middle_name", "family_name", "name_suffix", "birth_date", "sex", "chart_number",
    "address_line", "city", "state", "postal_code", "phone", "insurance_payer", "insurance_member_id",
)  # fmt: skip
REQUIRED = ("given_name", "family_name", "birth_date", "sex")
LOW_CONFIDENCE = 0.6


@dataclass(frozen=True, slots=True)
class PageWords:
    number: int
    words: tuple[Word, ...]


@cache
def _sex_specific() -> dict[str, tuple[str, ...]]:
    data = json.loads((RULES / "sex_specific.json").read_text(encoding="utf-8"))
    return {"F": tuple(data["F"]), "M": tuple(data["M"])}


def _checks(
    patient: dict[str, FieldValue],
    dx: list[dict[str, Any]],
    encounters: list[dict[str, Any]],
    today: date,
    known: Sequence[dict[str, str]] = (),
) -> list[dict[str, str]]:
    issues: list[dict[str, str]] = []
    for fname in REQUIRED:
        if fname not in patient and not any(i["field"] == f"patient.{fname}" for i in known):
            issues.append(
                {"field": f"patient.{fname}", "kind": "missing", "message": f"no {fname.replace('_', ' ')} found"}
            )
    if "birth_date" in patient:
        why = nz.date_valid(date.fromisoformat(str(patient["birth_date"].value)), today=today)
        if why:
            issues.append({"field": "patient.birth_date", "kind": "invalid", "message": f"birth date: {why}"})
    for i, enc in enumerate(encounters):
        if "date" in enc:
            why = nz.date_valid(date.fromisoformat(str(enc["date"].value)), today=today)
            if why:
                issues.append(
                    {"field": f"encounters[{i}].date", "kind": "invalid", "message": f"encounter date: {why}"}
                )
    sex = patient.get("sex")
    if sex is not None and sex.value in ("F", "M"):
        other = "M" if sex.value == "F" else "F"
        for i, d in enumerate(dx):
            code = str(d["code"].value)
            if not d["negated"] and code.startswith(_sex_specific()[other]):
                issues.append(
                    {
                        "field": f"diagnoses[{i}].code",
                        "kind": "inconsistent",
                        "message": f"diagnosis {code} applies to sex {other} but the chart records {sex.value}",
                    }
                )
    for fname, fv in patient.items():
        if fv.confidence < LOW_CONFIDENCE:
            issues.append(
                {
                    "field": f"patient.{fname}",
                    "kind": "low_confidence",
                    "message": f"{fname.replace('_', ' ')}: confidence {fv.confidence:.2f}",
                }
            )
    return issues


def _section_for(lines: Sequence[Line]) -> dict[int, str | None]:
    """Section of every line (by identity), from the clinical blocks."""
    out: dict[int, str | None] = {}
    for block in clinical.blocks(lines):
        for line in block.lines:
            out[id(line)] = block.section
    return out


def extract(pages: Sequence[PageWords], *, today: date | None = None) -> dict[str, Any]:
    """The draft record's extracted parts (patient ... issues) as JSON-ready data."""
    today = today or date.today()
    lines: list[Line] = []
    for page in sorted(pages, key=lambda p: p.number):
        lines.extend(group_lines(page.number, page.words))
    patient, issues = demographics.resolve(demographics.candidates(lines))
    bs = clinical.blocks(lines)
    dx, family, considered = clinical.diagnoses(bs)
    sections = _section_for(lines)

    def section_of_line(line: Line) -> str | None:
        return sections.get(id(line))

    meds = medications.find_medications(lines, section_of=section_of_line)
    allergies, nkda = medications.find_allergies(lines, section_of=section_of_line)
    encounters = clinical.encounters(lines)
    procedures = clinical.procedures(lines, encounters, bs)
    issues.extend(_checks(patient, dx, encounters, today, issues))

    def dump(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (v.as_dict() if isinstance(v, FieldValue) else v) for k, v in e.items()} for e in entries]

    return {
        "patient": {k: patient[k].as_dict() for k in PATIENT_FIELDS if k in patient},
        "encounters": dump(encounters),
        "diagnoses": dump(dx),
        "family_history": dump(family),
        "considered": dump(considered),
        "procedures": dump(procedures),
        "medications": dump(meds),
        "allergies": dump(allergies),
        "no_known_allergies": nkda.as_dict() if nkda else None,
        "issues": issues,
        "extractor_version": EXTRACTOR_VERSION,
    }
