"""Scoring drafts against ground truth: counts, normalisations, negation, missing drafts, CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from migrate.evaluation import (
    PATIENT_FIELDS,
    Counts,
    main,
    norm_dose,
    norm_provider,
    norm_substance,
    score,
)


def F(value: Any) -> dict[str, Any]:
    return {"value": value, "confidence": 0.9, "page": 1, "bbox": [0, 0, 10, 10]}


def truth_record(file: str, **over: Any) -> dict[str, Any]:
    patient = {
        "given_name": "Collin",
        "middle_name": "D",
        "family_name": "Briggs",
        "birth_date": "1951-02-08",
        "sex": "M",
        "chart_number": "A9147784",
        "address_line": "5794 Davis Mission",
        "city": "Coltonmouth",
        "state": "OH",
        "postal_code": "43329",
        "phone": "6145550119",
        "insurance_payer": "Aetna",
        "insurance_member_id": None,
        "name_suffix": "Jr.",
    }
    record: dict[str, Any] = {
        "file": file,
        "patient": patient,
        "encounters": [
            {"date": "2018-06-22", "provider": "Dr. Lisa Phillips", "type": "office visit"},
            {"date": "2018-07-30", "provider": "Dr. Lisa Phillips", "type": "consultation"},
        ],
        "diagnoses": [
            {"text": "COPD", "code": "J44.9", "negated": False},
            {"text": "type 2 diabetes", "code": "E11.9", "negated": False},
            {"text": "chest pain", "code": "R07.9", "negated": True},
        ],
        "procedures": [
            {"text": "cystoscopy", "date": "2018-08-13", "code": "52000 (CPT)"},
            {"text": "appendectomy, laparoscopic", "date": "2013-06-16", "code": "44970 (CPT)"},
        ],
        "medications": [
            {"name": "metformin", "dose": "500 mg", "route": "PO", "frequency": "BID"},
            {"name": "albuterol", "dose": "90 mcg", "route": None, "frequency": "Q4-6H PRN"},
        ],
        "allergies": [
            {"substance": "sulfonamides", "reaction": "rash"},
            {"substance": "penicillin", "reaction": "hives"},
        ],
    }
    record.update(over)
    return record


def perfect_draft(truth: dict[str, Any], path: str | None = None) -> dict[str, Any]:
    """The draft a perfect extractor would export for ``truth``."""

    def fields(item: dict[str, Any]) -> dict[str, Any]:
        return {k: (v if k == "negated" else (None if v is None else F(v))) for k, v in item.items()}

    draft: dict[str, Any] = {
        "document_id": "1",
        "status": "pending_review",
        "source": {"path": path or f"charts/{truth['file']}", "sha256": "ab", "pages": []},
        "patient": {k: F(v) for k, v in truth["patient"].items() if v is not None and k != "name_suffix"},
    }
    for group in ("encounters", "diagnoses", "procedures", "medications", "allergies"):
        draft[group] = [fields(item) for item in truth[group]]
    return draft


def write_truth(folder: Path, *records: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for r in records:
        stem = r["file"].rsplit(".", 1)[0]
        (folder / f"{stem}.truth.json").write_text(json.dumps(r), encoding="utf-8")
    return folder


@pytest.fixture
def one_chart(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    truth = truth_record("chart_0001.pdf")
    return write_truth(tmp_path / "truth", truth), truth


# --- arithmetic ----------------------------------------------------------------------------


def test_counts_rates_and_undefined() -> None:
    c = Counts(tp=3, fp=1, fn=2)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    empty = Counts()
    assert empty.precision is None and empty.recall is None and empty.f1 is None
    assert Counts(fn=2).precision is None and Counts(fn=2).recall == 0.0


def test_perfect_draft_scores_all_ones(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    report = score([perfect_draft(truth)], folder)
    assert report.charts_scored == 1
    assert report.charts_without_draft == ()
    assert report.drafts_ignored == 0
    for g in report.groups:
        assert g.fp == 0 and g.fn == 0, g.name
        assert g.f1 == 1.0, g.name
        for a in g.attributes:
            assert a.accuracy.accuracy == 1.0, (g.name, a.name)
    demo = report.group("demographics")
    assert demo.tp == 12  # 13 fields, insurance_member_id null, name_suffix ignored
    assert report.group("diagnoses").tp == 3
    assert report.group("medications").attribute("route").correct == 2  # null route == absent route
    assert report.negation_accuracy.correct == 3 and report.negation_accuracy.total == 3


# --- demographics --------------------------------------------------------------------------


def test_demographics_tp_fp_fn(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    p = draft["patient"]
    p["family_name"] = F("Brigs")  # wrong: FP + FN
    del p["city"]  # absent: FN
    p["state"] = None  # null: FN
    p["insurance_member_id"] = F("721507973")  # truth null: FP only
    report = score([draft], folder)
    demo = report.group("demographics")
    assert demo.field("family_name") == Counts(tp=0, fp=1, fn=1)
    assert demo.field("city") == Counts(fn=1)
    assert demo.field("state") == Counts(fn=1)
    assert demo.field("insurance_member_id") == Counts(fp=1)
    assert demo.field("given_name") == Counts(tp=1)
    assert demo.counts == Counts(tp=9, fp=2, fn=3)
    assert [f.name for f in demo.fields] == list(PATIENT_FIELDS)


def test_demographics_normalisation(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    p = draft["patient"]
    p["given_name"] = F("  COLLIN, ")
    p["address_line"] = F("5794   davis  mission.")
    p["phone"] = F("(614) 555-0119")
    p["state"] = F("oh")
    p["middle_name"] = F("David")  # truth holds only the initial "D"
    p["sex"] = "m"  # a plain value instead of a field object is tolerated
    report = score([draft], folder)
    assert report.group("demographics").counts == Counts(tp=12)


def test_birth_date_is_exact_iso(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["patient"]["birth_date"] = F("02/08/1951")
    assert score([draft], folder).group("demographics").field("birth_date") == Counts(fp=1, fn=1)


def test_middle_initial_does_not_match_full_truth(tmp_path: Path) -> None:
    truth = truth_record("chart_0002.pdf")
    truth["patient"]["middle_name"] = "Dale"
    folder = write_truth(tmp_path, truth)
    initial = perfect_draft(truth)
    initial["patient"]["middle_name"] = F("D.")
    other = perfect_draft(truth)
    other["patient"]["middle_name"] = F("dale")
    assert score([initial], folder).group("demographics").field("middle_name") == Counts(fp=1, fn=1)
    assert score([other], folder).group("demographics").field("middle_name") == Counts(tp=1)


def test_middle_name_full_with_different_letter_is_wrong(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["patient"]["middle_name"] = F("Edward")
    assert score([draft], folder).group("demographics").field("middle_name") == Counts(fp=1, fn=1)


# --- diagnoses and negation ----------------------------------------------------------------


def test_diagnoses_exact_and_category(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["diagnoses"] = [
        {"text": F("COPD"), "code": F("j44.9"), "negated": False},  # case-insensitive
        {"text": F("diabetes"), "code": F("E11.65"), "negated": False},  # wrong code, same category
        {"text": F("diabetes"), "code": F("E11.65"), "negated": False},  # duplicate: counted once
        {"text": F("asthma"), "code": F("J45.909"), "negated": False},  # spurious
        {"text": F("no code"), "code": None, "negated": False},  # no code: ignored
        # R07.9 missed
    ]
    report = score([draft], folder)
    assert report.group("diagnoses").counts == Counts(tp=1, fp=2, fn=2)
    # categories: truth {J44, E11, R07}, draft {J44, E11, J45}
    assert report.group("diagnoses_category").counts == Counts(tp=2, fp=1, fn=1)


def test_diagnosis_code_dots_kept(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["diagnoses"][0]["code"] = F("J449")
    report = score([draft], folder)
    assert report.group("diagnoses").counts == Counts(tp=2, fp=1, fn=1)
    assert report.group("diagnoses_category").counts == Counts(tp=3)


def test_negation_accuracy_over_found_codes(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["diagnoses"] = [
        {"text": F("COPD"), "code": F("J44.9"), "negated": True},  # wrong polarity
        {"text": F("chest pain"), "code": F("R07.9"), "negated": True},  # right
        {"text": F("asthma"), "code": F("J45.909")},  # spurious, not in the denominator
        # E11.9 missed: not in the denominator
    ]
    report = score([draft], folder)
    assert report.negation_accuracy.correct == 1
    assert report.negation_accuracy.total == 2
    assert report.negation_accuracy.accuracy == 0.5
    # negated and non-negated codes alike are "mentioned"
    assert report.group("diagnoses").counts == Counts(tp=2, fp=1, fn=1)


# --- medications, allergies, procedures, encounters ---------------------------------------


def test_medications_and_attribute_accuracy(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["medications"] = [
        {"name": F("Metformin"), "dose": F("500mg"), "route": F("po"), "frequency": F("bid")},
        {"name": F("ALBUTEROL"), "dose": F("90 MCG"), "route": F("INH"), "frequency": F("daily")},
        {"name": F("lisinopril"), "dose": F("10 mg"), "route": F("PO"), "frequency": F("daily")},
    ]
    report = score([draft], folder)
    meds = report.group("medications")
    assert meds.counts == Counts(tp=2, fp=1, fn=0)
    assert (meds.attribute("dose").correct, meds.attribute("dose").total) == (2, 2)
    assert (meds.attribute("route").correct, meds.attribute("route").total) == (1, 2)  # truth null vs INH
    assert (meds.attribute("frequency").correct, meds.attribute("frequency").total) == (1, 2)


def test_dose_normalisation() -> None:
    assert norm_dose("500mg") == norm_dose("500 mg") == norm_dose(" 500  MG ")
    assert norm_dose("2.5mg") == "2.5 mg"
    assert norm_dose("500 mg") != norm_dose("50 mg")
    assert norm_dose(None) is None and norm_dose(F("")) is None


def test_allergies_plural_insensitive(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["allergies"] = [
        {"substance": F("Sulfonamide"), "reaction": F("Rash")},
        {"substance": F("latex"), "reaction": F("hives")},
        # penicillin missed
    ]
    report = score([draft], folder)
    allergies = report.group("allergies")
    assert allergies.counts == Counts(tp=1, fp=1, fn=1)
    assert allergies.attribute("reaction").correct == 1
    assert allergies.attribute("reaction").total == 1


def test_substance_normalisation() -> None:
    assert norm_substance("sulfonamides") == norm_substance("sulfonamide")
    assert norm_substance("Bee Stings") == norm_substance("bee sting")
    assert norm_substance("peanuts") == "peanut"
    assert norm_substance("iodinated contrast") == "iodinated contrast"
    assert norm_substance("penicillins") == norm_substance("penicillin")


def test_procedures_fuzzy_matching_and_dates(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["procedures"] = [
        {"text": F("Laparoscopic appendectomy"), "date": F("2013-06-16")},  # word order differs
        {"text": F("flexible cystoscopy"), "date": F("2018-08-14")},  # token subset, wrong date
        {"text": F("colonoscopy"), "date": None},  # spurious
    ]
    report = score([draft], folder)
    procs = report.group("procedures")
    assert procs.counts == Counts(tp=2, fp=1, fn=0)
    assert (procs.attribute("date").correct, procs.attribute("date").total) == (1, 2)


def test_procedures_match_one_to_one(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["procedures"] = [
        {"text": F("cystoscopy"), "date": F("2018-08-13")},
        {"text": F("cystoscopy, diagnostic"), "date": F("2018-08-13")},  # fuzzy-matches the same truth
    ]
    procs = score([draft], folder).group("procedures")
    assert procs.counts == Counts(tp=1, fp=1, fn=1)


def test_encounters_by_date_with_provider_accuracy(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["encounters"] = [
        {"date": F("2018-06-22"), "provider": F("LISA PHILLIPS"), "type": F("office visit")},
        {"date": F("2018-07-30"), "provider": F("Dr. Sarah Dawson"), "type": None},
        {"date": F("2019-01-01"), "provider": F("Dr. Lisa Phillips"), "type": None},
    ]
    enc = score([draft], folder).group("encounters")
    assert enc.counts == Counts(tp=2, fp=1, fn=0)
    assert (enc.attribute("provider").correct, enc.attribute("provider").total) == (1, 2)


def test_provider_normalisation() -> None:
    assert norm_provider("Dr. Lisa Phillips") == "lisa phillips"
    assert norm_provider("dr lisa phillips") == "lisa phillips"
    assert norm_provider("Lisa Phillips, M.D.") == "lisa phillips"
    assert norm_provider("Drake Phillips") == "drake phillips"


# --- charts: matching, missing, micro-averaging -------------------------------------------


def test_missing_draft_counts_all_missed_and_extra_drafts_ignored(tmp_path: Path) -> None:
    t1 = truth_record("chart_0001.pdf")
    t2 = truth_record("chart_0002.tif")
    folder = write_truth(tmp_path, t1, t2)
    drafts = [
        perfect_draft(t1, path="/scans/batch 3/chart_0001.pdf"),
        perfect_draft(truth_record("chart_0099.pdf")),  # no truth file: ignored
        {"document_id": "x", "status": "failed", "error": "unreadable", "source": {}},  # no path: ignored
    ]
    report = score(drafts, folder)
    assert report.charts_scored == 2
    assert report.charts_without_draft == ("chart_0002.tif",)
    assert report.drafts_ignored == 2
    # micro-average: chart 1 perfect, chart 2 entirely missed
    assert report.group("demographics").counts == Counts(tp=12, fp=0, fn=12)
    assert report.group("diagnoses").counts == Counts(tp=3, fp=0, fn=3)
    assert report.group("medications").recall == 0.5
    assert report.negation_accuracy.total == 3  # missed codes are outside negation accuracy


def test_failed_draft_does_not_replace_a_good_one(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    failed = {"document_id": "2", "status": "failed", "error": "x", "source": {"path": "chart_0001.pdf"}}
    report = score([perfect_draft(truth), failed], folder)
    assert report.group("demographics").counts == Counts(tp=12)
    only_failed = score([failed], folder)
    assert only_failed.charts_without_draft == ()
    assert only_failed.group("demographics").counts == Counts(fn=12)


# --- output --------------------------------------------------------------------------------


def test_to_dict_and_table_hold_no_values(one_chart: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["patient"]["family_name"] = F("Zzyzx")
    report = score([draft], folder, collect_errors=True)
    d = report.to_dict()
    json.dumps(d)
    assert d["groups"]["demographics"]["fields"]["family_name"] == {
        "tp": 0,
        "fp": 1,
        "fn": 1,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }
    assert d["groups"]["medications"]["attributes"]["dose"]["accuracy"] == 1.0
    assert d["negation_accuracy"] == {"correct": 3, "total": 3, "accuracy": 1.0}
    table = report.format_table()
    for text in (json.dumps(d), table):
        assert "Zzyzx" not in text and "Briggs" not in text
    assert "family_name" in table and "negation accuracy" in table
    widths = {len(line) for line in table.splitlines()[3:] if line and not line.startswith("-")}
    assert len(widths) == 1  # fixed width rows
    errors = report.format_errors()
    assert "Zzyzx" in errors and "demographics.family_name" in errors


def test_main_reads_file_and_stdin_and_writes_json(
    one_chart: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, truth = one_chart
    draft = perfect_draft(truth)
    draft["patient"]["family_name"] = F("Zzyzx")
    jsonl = tmp_path / "drafts.jsonl"
    jsonl.write_text(json.dumps(draft) + "\n\n", encoding="utf-8")
    out = tmp_path / "scores.json"

    assert main([str(folder), str(jsonl), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "demographics" in printed and "Zzyzx" not in printed
    assert json.loads(out.read_text(encoding="utf-8"))["charts_scored"] == 1

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(draft) + "\n"))
    assert main([str(folder), "--show-errors"]) == 0
    printed = capsys.readouterr().out
    assert "Zzyzx" in printed and "chart_0001.pdf" in printed
