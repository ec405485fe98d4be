"""Diagnoses: terminology lookup, written codes, laterality, assertion, family history."""

from __future__ import annotations

from migrate.nlp import clinical
from migrate.nlp.layout import group_lines
from tests.unit.test_extraction_layout import page


def dx(rows: list[str]) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]]]:
    lines = group_lines(1, page([[(50, r)] for r in rows]))
    found, family, _considered = clinical.diagnoses(clinical.blocks(lines))
    return ({d["code"].value: d for d in found}, {d["code"].value: d for d in family})


def test_abbreviations_synonyms_and_icd_descriptions() -> None:
    found, _ = dx(["Assessment:", "1. HTN, well controlled.", "2. T2DM on metformin.", "3. Obstructive sleep apnea."])
    assert {"I10", "E11.9", "G47.33"} <= set(found)
    assert not any(found[c]["negated"] for c in found)


def test_negation_and_lists() -> None:
    found, _ = dx(["Patient denies chest pain, shortness of breath, or dizziness.", "No history of diabetes."])
    for code in ("R07.9", "R06.02", "R42", "E11.9"):
        assert found[code]["negated"] is True, code


def test_affirmed_mention_wins_over_a_denial() -> None:
    found, _ = dx(["Problem list: asthma", "Denies asthma exacerbation triggers? No asthma attacks this year."])
    assert found["J45.909"]["negated"] is False


def test_family_history_is_not_the_patients() -> None:
    found, family = dx(["Family History:", "Mother had breast cancer. Father with hypertension."])
    assert "C50.919" not in found and "I10" not in found
    assert {"C50.919", "I10"} <= set(family)


def test_written_code_overrides_and_needs_code_context() -> None:
    found, _ = dx(["1. Severe obesity - ICD-10: E66.01 - stable.", "Accession #: S17-53349"])
    assert "E66.01" in found
    assert not any(code.startswith("S17") for code in found)


def test_laterality_picks_the_sided_code() -> None:
    found, _ = dx(["Final diagnosis: renal cell carcinoma, right kidney."])
    assert "C64.1" in found


def test_physical_exam_heading_is_not_pulmonary_embolism() -> None:
    found, _ = dx(["PE: lungs clear, heart regular."])
    assert "I26.99" not in found


def test_reactions_and_considered_conditions_are_not_diagnoses() -> None:
    lines = group_lines(
        1,
        page(
            [
                [(50, "She reports allergies to latex (contact dermatitis).")],
                [(50, "Indication: screening for colorectal cancer.")],
                [(50, "Rule out pneumonia. Hypertension is stable.")],
            ]
        ),
    )
    found, _family, considered = clinical.diagnoses(clinical.blocks(lines))
    codes = {d["code"].value for d in found}
    assert "I10" in codes
    assert "L30.9" not in codes and "L25.9" not in codes  # the latex reaction
    assert "J18.9" not in codes and "J18.9" in {d["code"].value for d in considered}


def procs(rows: list[str]) -> list[tuple[str, object]]:
    lines = group_lines(1, page([[(50, r)] for r in rows]))
    found = clinical.procedures(lines, [], clinical.blocks(lines))
    return [(str(p["text"].value), p["date"].value if "date" in p else None) for p in found]


def test_surgical_history_lists_become_dated_procedures() -> None:
    # Items separated by semicolons, wrapped over two lines, date after the operation.
    assert procs(
        ["PSH: tonsillectomy 09/03/1992; lap cholecystectomy 03/10/2006; laparoscopic", "appendectomy 2011-05-02"]
    ) == [
        ("tonsillectomy", "1992-09-03"),
        ("lap cholecystectomy", "2006-03-10"),
        ("laparoscopic appendectomy", "2011-05-02"),
    ]
    # A bulleted list under its heading, dates in parentheses or after a dash, one undated.
    assert procs(
        [
            "Past Surgical History:",
            "- cesarean delivery - 22 Jul 2003",
            "- total knee arthroplasty (02/02/2014)",
            "- tonsillectomy as a child",
        ]
    ) == [
        ("cesarean delivery", "2003-07-22"),
        ("total knee arthroplasty", "2014-02-02"),
        ("tonsillectomy as a child", None),
    ]
    # A date written first.
    assert procs(["Surgical history:", "03/12/2014 right hip arthroplasty"]) == [
        ("right hip arthroplasty", "2014-03-12")
    ]


def test_no_prior_surgery_is_not_a_procedure() -> None:
    assert procs(["Past surgical history: none"]) == []
    assert procs(["PSH: No prior surgeries."]) == []


def visits(rows: list[str]) -> list[tuple[object, object, object]]:
    lines = group_lines(1, page([[(50, r)] for r in rows]))
    return [
        (e["date"].value, e["type"].value, e["provider"].value if "provider" in e else None)
        for e in clinical.encounters(lines)
    ]


def test_encounters_from_visit_labels_prose_and_signatures() -> None:
    # A visit label says there was an encounter even under a title we do not know.
    assert visits(
        ["Lakeside Clinic", "Patient: DOE, JANE", "Visit: 01/28/2021", "Signed: Dr. Emily Morgan   01/28/2021"]
    ) == [("2021-01-28", "office visit", "Dr. Emily Morgan")]
    # A bare "Date:" on a page we cannot place is not an encounter.
    assert visits(["Lakeside Clinic", "Date: 01/28/2021"]) == []
    # A consultation letter: the date the patient was seen, not the birth date before it.
    letter = [
        "May 26, 2020",
        "Dear Dr. Anderson,",
        "Thank you for referring Ms. Browning (date of birth 01/11/1942), whom I saw in the",
        "office on 03 May 2020. She reports dyspnea.",
    ]
    assert [v[:2] for v in visits(letter)] == [("2020-05-03", "consultation")]


def test_unspecified_code_gives_way_to_a_specific_one_of_its_category() -> None:
    found, _family = dx(
        [
            "FINAL DIAGNOSIS: Clear cell renal cell carcinoma, right kidney.",
            "Sections show clear cell renal cell carcinoma.",
            "Assessment: anxiety. Generalized anxiety disorder (F41.1), continue sertraline.",
        ]
    )
    assert "C64.1" in found and "C64.9" not in found
    assert "F41.1" in found and "F41.9" not in found
    # Alone, the unspecified code stays.
    alone, _ = dx(["Assessment: anxiety, stable."])
    assert "F41.9" in alone


def test_each_diagnosis_carries_its_assertion_and_the_rule_that_decided_it() -> None:
    found, family = dx(
        [
            "Past Medical History:",
            "Appendicitis.",
            "Assessment:",
            "1. Community acquired pneumonia.",
            "2. HTN.",
            "3. No evidence of DVT.",
            "Family History: sister with asthma.",
        ]
    )
    pmh, pna, htn, dvt = found["K35.80"], found["J18.9"], found["I10"], found["I82.409"]
    assert (pmh["temporality"], pmh["assertion_triggers"]) == ("historical", ["section:past_medical_history"])
    assert (pna["temporality"], pna["negated"], pna["assertion_triggers"]) == ("recent", False, [])
    assert (htn["temporality"], htn["assertion_triggers"]) == ("historical", ["chronic:htn"])
    assert dvt["negated"] is True and dvt["assertion_triggers"][0].startswith("negated:")
    assert family["J45.909"]["experiencer"] == "other" and "J45.909" not in found
