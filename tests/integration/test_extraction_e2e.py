"""From a generated scanned chart to the exported draft record, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from migrate.settings import Settings
from tests.conftest import render_page, write_image_pdf
from tests.integration.conftest import documents, json_lines, run_cli
from tests.integration.test_mpi_cli import people
from tests.integration.test_mpi_cli import write as write_patients

FACE = [
    "Harbor Medical Group",
    "Registration",
    "Patient Name: Maria Elena Lopez",
    "DOB: 07/14/1962       Gender: F",
    "Address: 41 Cedar Lane",
    "City, State, Zip: Dover, DE 19901",
    "Phone: (302) 555-0147",
    "MRN: HMG-48213",
    "Insurance: Aetna     Member ID: W88213457",
]
NOTE = [
    "Progress Note",
    "Date of Service: 03/09/2021     Provider: Dr. Alan Chu",
    "Patient: LOPEZ, MARIA E.   DOB: 07/14/1962",
    "Assessment and Plan:",
    "1. Hypertension - continue lisinopril 10 mg PO daily.",
    "2. Type 2 diabetes - continue metformin 500 mg by mouth twice daily.",
    "She denies chest pain or shortness of breath.",
    "Family history: father had colon cancer.",
    "Allergies: penicillin - hives",
]


def test_scanned_chart_becomes_a_draft_with_provenance(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pdf = write_image_pdf(
        tmp_path / "in" / "chart.pdf", [render_page(FACE, font_size=12), render_page(NOTE, font_size=12, skew=2)]
    )
    home = tmp_path / "data"
    # The index already knows her (another address): the draft must say so before anyone
    # creates a second record.
    known = {"id": "MRN0000999", "given_name": "Maria", "family_name": "Lopez", "birth_date": "1962-07-14",
             "sex": "F", "address_line": "4 Elm Street", "postal_code": "19904"}  # fmt: skip
    index_csv = write_patients(tmp_path / "index.csv", [*people(80, seed=3), known])
    assert run_cli(home, "mpi", "import", str(index_csv)).returncode == 0
    r = run_cli(home, "ingest", str(pdf), "--workers", "1")
    assert r.returncode == 0, r.stderr
    (draft,) = json_lines(run_cli(home, "export", "drafts", "--format", "jsonl").stdout)

    assert draft["status"] == "pending_review"
    p = draft["patient"]
    expected = {
        "given_name": "Maria", "family_name": "Lopez", "birth_date": "1962-07-14", "sex": "F",
        "city": "Dover", "state": "DE", "postal_code": "19901", "phone": "3025550147",
        "chart_number": "HMG-48213", "insurance_payer": "Aetna", "insurance_member_id": "W88213457",
    }  # fmt: skip
    for key, value in expected.items():
        assert p[key]["value"] == value, (key, p.get(key))
    doc = documents(Settings(home=home))["chart.pdf"]
    pages = {pg["number"]: pg for pg in draft["source"]["pages"]}
    for key in expected:
        field = p[key]
        assert 0 < field["confidence"] <= 1
        x0, y0, x1, y1 = field["bbox"]
        page = pages[field["page"]]
        assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]
    assert doc.status == "done"

    codes = {d["code"]["value"]: d for d in draft["diagnoses"]}
    assert codes["I10"]["negated"] is False and codes["E11.9"]["negated"] is False
    assert codes["R07.9"]["negated"] is True and codes["R06.02"]["negated"] is True
    assert not any(c.startswith("C18") for c in codes)  # the father's colon cancer
    meds = {m["name"]["value"]: m for m in draft["medications"]}
    assert meds["lisinopril"]["dose"]["value"] == "10 mg" and meds["lisinopril"]["route"]["value"] == "PO"
    assert meds["metformin"]["frequency"]["value"] == "BID"
    assert [a["substance"]["value"] for a in draft["allergies"]] == ["penicillin"]
    assert draft["allergies"][0]["reaction"]["value"] == "hives"
    (visit,) = draft["encounters"]
    assert visit["date"]["value"] == "2021-03-09" and visit["provider"]["value"] == "Dr. Alan Chu"
    assert not [i for i in draft["issues"] if i["kind"] == "missing"]
    assert draft["match"]["decision"] == "link" and draft["match"]["candidates"][0]["mrn"] == "MRN0000999"
    assert 0.99 <= draft["match"]["candidates"][0]["score"] <= 1

    again = run_cli(home, "reextract", str(doc.id))
    assert again.returncode == 0 and "re-extracted 1" in again.stdout
