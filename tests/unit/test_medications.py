"""Medications and allergies read from synthetic OCR lines (words with boxes laid out along each line)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.nlp.layout import Line
from migrate.nlp.medications import RULES_PATH, find_allergies, find_medications, rules_version
from migrate.records import Box, FieldValue, Word

WORD_HEIGHT = 20


def line(
    text: str, *, row: int = 0, page: int = 1, x: int = 100, conf: float = 0.9, low: Mapping[str, float] | None = None
):
    """One OCR line: each word 10 px per character wide, 10 px apart; ``low`` gives some words their own confidence."""
    words = []
    for n, token in enumerate(text.split()):
        box = Box(x, 50 + row * 30, x + 10 * len(token), 50 + row * 30 + WORD_HEIGHT)
        words.append(Word(token, (low or {}).get(token, conf), box, 1, 1, row, n))
        x += 10 * len(token) + 10
    return Line.of(page, row, words)


def lines(text: str, *, page: int = 1) -> list[Line]:
    """A page: one line per row of ``text``; cells split by " | " become separate lines on the same row."""
    out = []
    for row, row_text in enumerate(t for t in text.strip().split("\n")):
        x = 100
        for cell in row_text.split(" | "):
            out.append(line(cell, row=row, page=page, x=x))
            x += 10 * len(cell) + 200  # a wide gap, as layout.group_lines leaves between table columns
    return out


def sig(entry: Mapping[str, FieldValue]) -> tuple[object, ...]:
    return tuple(entry[k].value if k in entry else None for k in ("name", "dose", "route", "frequency"))


def meds(text: str, **kwargs) -> list[tuple[object, ...]]:
    return [sig(e) for e in find_medications(lines(text), **kwargs)]


def allergies(text: str, **kwargs) -> list[tuple[object, object]]:
    found, _ = find_allergies(lines(text), **kwargs)
    return [(a["substance"].value, a["reaction"].value if "reaction" in a else None) for a in found]


# --- sigs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Metformin 500mg PO BID", ("metformin", "500 mg", "PO", "BID")),
        ("metformin 500 mg by mouth twice daily", ("metformin", "500 mg", "PO", "BID")),
        ("tamsulosin 0.4 mg PO q.h.s.", ("tamsulosin", "0.4 mg", "PO", "QHS")),
        ("Levothyroxine 75 mcg orally every day", ("levothyroxine", "75 mcg", "PO", "daily")),
        ("ESCITALOPRAM 10mg p.o. QD", ("escitalopram", "10 mg", "PO", "daily")),
        ("TOPIRAMATE 25 MG p.o. b.i.d.", ("topiramate", "25 mg", "PO", "BID")),
        ("warfarin 5mg oral once daily", ("warfarin", "5 mg", "PO", "daily")),
        ("atorvastatin 40 mg at bedtime", ("atorvastatin", "40 mg", None, "QHS")),
        ("gabapentin 300 mg PO three times a day", ("gabapentin", "300 mg", "PO", "TID")),
        ("sucralfate 1 g PO QID", ("sucralfate", "1 g", "PO", "QID")),
        ("albuterol 90 mcg inhaled q4-6h prn", ("albuterol", "90 mcg", "INH", "Q4-6H PRN")),
        ("ALBUTEROL 90 MCG INH Q4-6H PRN.", ("albuterol", "90 mcg", "INH", "Q4-6H PRN")),
        ("albuterol 2 puffs via inhaler every 4 to 6 hours as needed", ("albuterol", "2 puffs", "INH", "Q4-6H PRN")),
        ("oxycodone 5 mg PO q4h PRN pain", ("oxycodone", "5 mg", "PO", "Q4H PRN")),
        ("ondansetron 4 mg every 8 hours as needed", ("ondansetron", "4 mg", None, "Q8H PRN")),
        ("insulin glargine 20 units subcut nightly", ("insulin glargine", "20 units", "SC", "QHS")),
        ("enoxaparin 40 mg SQ daily", ("enoxaparin", "40 mg", "SC", "daily")),
        ("heparin 5000 units subcutaneous q8h", ("heparin", "5000 units", "SC", "Q8H")),
        ("cholecalciferol 2,000 IU daily", ("cholecalciferol", "2000 IU", None, "daily")),
        ("methotrexate 15 mg PO weekly", ("methotrexate", "15 mg", "PO", "weekly")),
        ("prednisone 10 mg every other day", ("prednisone", "10 mg", None, "QOD")),
        ("denosumab 60 mg SC every 6 months", ("denosumab", "60 mg", "SC", "every 6 months")),
        ("nitroglycerin 0.4 mg SL q5min PRN chest pain", ("nitroglycerin", "0.4 mg", "SL", "Q5MIN PRN")),
        ("ceftriaxone 1 gm IV q24h", ("ceftriaxone", "1 g", "IV", "Q24H")),
        ("timolol 0.5% 1 drop in both eyes BID", ("timolol", "0.5%", "ophthalmic", "BID")),
        ("fentanyl 25 mcg/hr patch every 72 hours", ("fentanyl", "25 mcg/hr", "transdermal", "Q72H")),
        ("fluticasone 50 mcg each nostril daily", ("fluticasone", "50 mcg", "nasal", "daily")),
        ("hydrocortisone 1% cream topically twice a day", ("hydrocortisone", "1%", "topical", "BID")),
        ("acetaminophen 650 mg PR q6h", ("acetaminophen", "650 mg", "PR", "Q6H")),
        ("lisinopril 10 mg", ("lisinopril", "10 mg", None, None)),
        ("metoprolol succinate ER 50 mg PO once daily", ("metoprolol", "50 mg", "PO", "daily")),
        ("acetaminophen 500 mg 1-2 tabs q6h prn", ("acetaminophen", "500 mg", None, "Q6H PRN")),
        ("ibuprofen one tab three times daily", ("ibuprofen", "1 tab", None, "TID")),
        (
            "hydrochlorothiazide/lisinopril 12.5/20 mg daily",
            ("hydrochlorothiazide/lisinopril", "12.5/20 mg", None, "daily"),
        ),
    ],
)
def test_sig_variants(text: str, expected: tuple[object, ...]) -> None:
    assert meds(text) == [expected]


def test_sig_continues_on_the_next_line_of_a_wrapped_sentence() -> None:
    text = "Meds: Levothyroxine 75 mcg by mouth every day; Lisinopril 20mg p.o. once\ndaily; clopidogrel 75 MG oral QD."
    assert meds(text) == [
        ("levothyroxine", "75 mcg", "PO", "daily"),
        ("lisinopril", "20 mg", "PO", "daily"),
        ("clopidogrel", "75 mg", "PO", "daily"),
    ]
    assert meds("She continues on methotrexate\n15 mg weekly with folic acid 1 mg daily.") == [
        ("methotrexate", "15 mg", None, "weekly"),
        ("folic acid", "1 mg", None, "daily"),
    ]


def test_sig_does_not_run_into_the_next_list_item() -> None:
    text = "MEDICATIONS\nAspirin\nDaily weights and low salt diet"
    assert meds(text) == [("aspirin", None, None, None)]


def test_lab_values_are_not_doses() -> None:
    assert meds("Glucose 110 mg/dL. Magnesium 1.8 mg/dL. Lithium level 0.8 mEq/L. Folate 10 ng/mL.") == []


@settings(max_examples=60, deadline=None)
@given(
    amount=st.one_of(st.integers(1, 5000).map(str), st.decimals("0.05", "99.95", places=2).map(str)),
    unit=st.sampled_from([("mg", "mg"), ("MG", "mg"), ("mcg", "mcg"), ("ug", "mcg"), ("mL", "mL"), ("units", "units")]),
    space=st.sampled_from(["", " "]),
)
def test_dose_is_normalised_whatever_the_spacing_and_case(amount: str, unit: tuple[str, str], space: str) -> None:
    written, normal = unit
    [entry] = find_medications(lines(f"furosemide {amount}{space}{written} PO daily"))
    assert entry["dose"].value == f"{amount} {normal}"


# --- tables, plans, brands, merging --------------------------------------------------------------------------


def test_table_row_as_one_line_and_as_cells_on_the_same_row() -> None:
    one_line = "Drug Dose Route Frequency\nMetformin 1000 mg PO BID\nAtorvastatin 40 mg PO QHS"
    cells = "Drug | Dose | Route | Frequency\nMetformin | 1000 mg | PO | BID\nAtorvastatin | 40 mg | PO | QHS"
    expected = [("metformin", "1000 mg", "PO", "BID"), ("atorvastatin", "40 mg", "PO", "QHS")]
    assert meds(one_line) == expected
    assert meds(cells) == expected


def test_plan_sentences() -> None:
    assert meds("Plan: continue metformin 500 mg PO BID and recheck A1c in 3 months.") == [
        ("metformin", "500 mg", "PO", "BID")
    ]
    assert meds("He was started on lisinopril 10mg by mouth daily for blood pressure.") == [
        ("lisinopril", "10 mg", "PO", "daily")
    ]
    assert meds("Patient reports taking ibuprofen 800mg three times a day for knee pain.") == [
        ("ibuprofen", "800 mg", None, "TID")
    ]


def test_brand_names_become_generic_names() -> None:
    text = "Glucophage 500mg bid\nLantus 20 units qhs\nSynthroid 100 mcg daily\nPlavix 75mg qd\nProAir 2 puffs q4h prn"
    assert [m[0] for m in meds(text)] == ["metformin", "insulin glargine", "levothyroxine", "clopidogrel", "albuterol"]


def test_abbreviations_the_dictionary_lacks() -> None:
    text = "ASA 81 mg daily\nHCTZ 25 mg daily\nNTG 0.4 mg SL prn\nMTX 15 mg weekly\nKCl 20 mEq PO daily"
    assert [m[0] for m in meds(text)] == [
        "aspirin",
        "hydrochlorothiazide",
        "nitroglycerin",
        "methotrexate",
        "potassium chloride",
    ]


def test_drugs_named_in_a_medication_list_count_without_a_sig() -> None:
    assert meds("Current medications: aspirin, lisinopril and metformin.") == [
        ("aspirin", None, None, None),
        ("lisinopril", None, None, None),
        ("metformin", None, None, None),
    ]
    assert meds("MEDICATIONS\nAspirin\nLisinopril") == [("aspirin", None, None, None), ("lisinopril", None, None, None)]
    assert meds("Aspirin\nLisinopril", section_of=lambda _: "medications") == [
        ("aspirin", None, None, None),
        ("lisinopril", None, None, None),
    ]


def test_a_mention_without_sig_or_medication_context_is_not_a_medication() -> None:
    assert meds("Chest pain relieved by nitroglycerin. History of vitamin D deficiency.") == []


def test_repeated_mentions_merge_keeping_the_most_complete_sig() -> None:
    text = "Meds: metformin 500 mg.\nPlan: continue metformin 500 mg PO BID. Continue Glucophage."
    [entry] = find_medications(lines(text))
    assert sig(entry) == ("metformin", "500 mg", "PO", "BID")
    assert entry["name"].bbox is not None and entry["name"].bbox.y0 == 80  # the second row: the complete sig


def test_brand_in_brackets_after_the_generic_is_one_drug() -> None:
    assert meds("lisinopril (Zestril) 10 mg PO daily") == [("lisinopril", "10 mg", "PO", "daily")]


def test_mentions_merge_across_pages_in_first_mention_order() -> None:
    page1 = lines("Meds: lisinopril 10 mg daily, aspirin 81 mg", page=1)
    page2 = lines("Continue aspirin 81 mg PO daily.", page=2)
    found = find_medications(page2[::-1] + page1)  # any order in, page order out
    assert [sig(e) for e in found] == [("lisinopril", "10 mg", None, "daily"), ("aspirin", "81 mg", "PO", "daily")]
    assert found[1]["dose"].page == 2


# --- what is not a medication --------------------------------------------------------------------------------


def test_allergy_lines_are_not_medications() -> None:
    text = "Meds: amoxicillin 500 mg PO TID\nAllergies: Penicillin (hives), codeine - nausea"
    assert meds(text) == [("amoxicillin", "500 mg", "PO", "TID")]
    assert meds("He reports\nallergies to Morphine: nausea, Amoxicillin - rash.") == []
    assert meds("ALLERGIES\nPenicillin\nSulfa drugs") == []


def test_allergy_section_from_section_of_is_not_medications() -> None:
    page = lines("Penicillin 500 mg\nMetformin 500 mg BID")
    names = {id(page[0]): "allergies", id(page[1]): "medications"}
    found = find_medications(page, section_of=lambda ln: names.get(id(ln)))
    assert [sig(e) for e in found] == [("metformin", "500 mg", None, "BID")]


def test_a_medication_cue_after_an_allergy_cue_wins() -> None:
    assert meds("He is allergic to penicillin and takes amoxicillin 500 mg TID.") == [
        ("amoxicillin", "500 mg", None, "TID")
    ]


def test_family_social_and_discontinued_drugs_are_left_out() -> None:
    text = (
        "Family history: mother on metformin 500 mg BID.\n"
        "Father takes warfarin 5 mg daily.\n"
        "Stopped atorvastatin 40 mg daily due to myalgias.\n"
        "No longer taking aspirin 81 mg daily.\n"
        "Lisinopril 10 mg daily was discontinued.\n"
        "Hold furosemide 40 mg daily given AKI.\n"
        "Continue amlodipine 5 mg daily."
    )
    assert meds(text) == [("amlodipine", "5 mg", None, "daily")]


def test_drugs_given_during_a_procedure_are_left_out() -> None:
    text = (
        "Anesthesia: topical lidocaine jelly\n"
        "Using a lateral approach, 40 mg triamcinolone with 3 mL of\n"
        "1% lidocaine was injected into the joint space.\n"
        "Cefazolin 2 g IV was given prior to incision. Patient received 2 mg of midazolam."
    )
    assert meds(text) == []


def test_ordinary_words_are_not_drugs() -> None:
    text = (
        "Patient counseled on primary prevention and relief of symptoms with heat and rest.\n"
        "Pharmacy: Rite Aid. Patient instructed to bring all medication bottles to each visit.\n"
        "Takes 2 caps of fish oil daily."
    )
    assert meds(text) == [("fish oil", None, None, "daily")]


# --- OCR noise -----------------------------------------------------------------------------------------------


def test_ocr_noise_in_names_and_sigs() -> None:
    found = find_medications(lines("Meds: rnetformin 5OO mg P0 BID, warfar1n 5 mg p.o. q.d.\nlisinoprll 10mg PO daily"))
    assert [sig(e) for e in found] == [
        ("metformin", "500 mg", "PO", "BID"),
        ("warfarin", "5 mg", "PO", "daily"),
        ("lisinopril", "10 mg", "PO", "daily"),
    ]
    assert [e["name"].rule for e in found] == ["med.ocr+sig", "med.ocr+sig", "med.fuzzy+sig"]
    assert found[0]["dose"].rule == "med.sig.dose+ocr"
    assert found[0]["dose"].confidence < found[1]["dose"].confidence  # a repaired reading is less certain


def test_fuzzy_matching_needs_a_dose_right_after_the_word() -> None:
    assert meds("Meds: lisinoprll daily") == []


# --- provenance ----------------------------------------------------------------------------------------------


def test_values_carry_page_box_rule_and_ocr_confidence() -> None:
    page = [line("Glucophage 500mg PO BID", page=3, low={"500mg": 0.5})]
    [entry] = find_medications(page)
    name, dose = entry["name"], entry["dose"]
    assert (name.value, name.page, name.rule) == ("metformin", 3, "med.dict+sig")
    assert name.bbox == Box(100, 50, 200, 70)
    assert name.confidence == pytest.approx(0.9 * 0.95)
    assert (dose.value, dose.bbox, dose.rule) == ("500 mg", Box(210, 50, 260, 70), "med.sig.dose")
    assert dose.confidence == pytest.approx(0.5 * 0.95)
    assert entry["frequency"].bbox == Box(300, 50, 330, 70)


def test_a_value_read_over_a_line_break_boxes_both_lines() -> None:
    [_, entry] = find_medications(lines("Meds: aspirin 81 mg daily; lisinopril 20mg p.o. once\ndaily."))
    assert entry["frequency"].value == "daily"
    assert entry["frequency"].bbox == Box(100, 50, 620, 100)  # "once" ends row 1 at x=620, "daily." starts row 2
    assert entry["route"].bbox == Box(530, 50, 570, 70)


def test_rules_version_is_the_data_files() -> None:
    assert rules_version() == json.loads(RULES_PATH.read_text(encoding="utf-8"))["version"]


# --- allergies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Allergies: penicillin (hives), sulfa - rash", [("penicillin", "hives"), ("sulfa", "rash")]),
        ("Allergic to codeine causing nausea", [("codeine", "nausea")]),
        ("ALLERGIES: Penicillin - hives; Sulfonamides (rash)", [("penicillin", "hives"), ("sulfa", "rash")]),
        ("Allergies: Sulfa drugs (rash)", [("sulfa drugs", "rash")]),
        ("Allergies: Morphine: nausea; Amoxicillin (rash).", [("morphine", "nausea"), ("amoxicillin", "rash")]),
        (
            "He reports\nallergies to Morphine: nausea, Amoxicillin - rash.",
            [("morphine", "nausea"), ("amoxicillin", "rash")],
        ),
        ("Allergies: penicillin causes hives", [("penicillin", "hives")]),
        ("Allergies: PCN (anaphylaxis), latex (rash)", [("penicillin", "anaphylaxis"), ("latex", "rash")]),
        (
            "Allergies: peanuts - throat swelling; shellfish - SOB",
            [("peanuts", "throat swelling"), ("shellfish", "shortness of breath")],
        ),
        (
            "Allergies: bee stings (anaphylaxis), IV contrast (hives)",
            [("bee stings", "anaphylaxis"), ("iodinated contrast", "hives")],
        ),
        ("Drug Allergies: Bactrim - SJS", [("trimethoprim/sulfamethoxazole", "stevens-johnson syndrome")]),
        ("Allergies: Lisinopril - cough, angioedema", [("lisinopril", "cough, angioedema")]),
        ("Allergies: Keflex, sulfa", [("cephalexin", None), ("sulfa", None)]),
        ("Allergies: NSAIDs (GI upset), ACE inhibitors - cough", [("nsaids", "gi upset"), ("ace inhibitors", "cough")]),
        ("Allergies: strawberries - hives", [("strawberries", "hives")]),
        ("Allergies: Zorblatex - rash", [("zorblatex", "rash")]),
        (
            "She is allergic to erythromycin, which caused hives, and reports intolerance to\nNSAIDs (stomach upset).",
            [("erythromycin", "hives"), ("nsaids", "gi upset")],
        ),
        (
            "ALLERGIES\nAllergen Reaction\nShellfish | Anaphylaxis\nMorphine | Itching",
            [("shellfish", "anaphylaxis"), ("morphine", "itching")],
        ),
        ("Allergies reviewed with patient.", []),
        ("No allergic reaction to contrast during the study.", []),
        ("Meds: metformin 500 mg PO BID", []),
    ],
)
def test_allergy_variants(text: str, expected: list[tuple[object, object]]) -> None:
    assert allergies(text) == expected


def test_allergies_from_an_allergy_section() -> None:
    page = lines("Penicillin - hives\nLatex | rash\nMetformin 500 mg BID")
    names = {id(page[0]): "allergies", id(page[1]): "allergies", id(page[2]): "allergies"}
    found, nkda = find_allergies(page[:3], section_of=lambda ln: names.get(id(ln)))
    assert [(a["substance"].value, a["reaction"].value) for a in found] == [("penicillin", "hives"), ("latex", "rash")]
    assert found[0]["substance"].rule == "allergy.section"
    assert found[0]["reaction"].rule == "allergy.reaction"
    assert nkda is None


def test_unlisted_substance_is_less_certain() -> None:
    found, _ = find_allergies(lines("Allergies: Zorblatex - rash; penicillin - hives"))
    by_name = {a["substance"].value: a["substance"] for a in found}
    assert by_name["zorblatex"].rule == "allergy.unlisted"
    assert by_name["zorblatex"].confidence < by_name["penicillin"].confidence


@pytest.mark.parametrize(
    "text",
    [
        "Allergies: NKDA",
        "NKDA",
        "NKA",
        "ALLERGIES: No known allergies",
        "Allergies: No known drug allergies.",
        "He has\nno known allergies.",
        "She denies any drug allergies.",
        "Allergies: None",
        "ALLERGIES\nNone known",
    ],
)
def test_no_known_allergies(text: str) -> None:
    found, nkda = find_allergies(lines(text))
    assert found == []
    assert nkda is not None
    assert (nkda.value, nkda.rule, nkda.page) == (True, "nkda", 1)
    assert nkda.bbox is not None
    assert 0 < nkda.confidence <= 0.9


def test_no_known_allergies_box_covers_the_phrase() -> None:
    _, nkda = find_allergies([line("Allergies: NKDA", conf=0.8)])
    assert nkda is not None
    assert nkda.bbox == Box(210, 50, 250, 70)
    assert nkda.confidence == pytest.approx(0.8 * 0.95)


def test_no_allergy_statement_at_all() -> None:
    assert find_allergies(lines("Meds: metformin 500 mg PO BID")) == ([], None)


# --- speed ---------------------------------------------------------------------------------------------------


def test_a_forty_line_page_is_read_quickly() -> None:
    body = [
        "Patient is a 67 year old man seen for follow up of diabetes and hypertension.",
        "Meds: metformin 500 mg PO BID, lisinopril 10 mg daily, atorvastatin 40 mg qhs.",
        "Allergies: penicillin (hives), sulfa - rash. Family history: mother with diabetes.",
        "Exam: BP 132/84, HR 72. Lungs clear. Glucose 140 mg/dL. Continue current medications.",
    ]
    page = lines("\n".join(body * 10))
    find_medications(page)  # the drug dictionary loads once per process
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        find_medications(page)
        find_allergies(page)
    per_page = (time.perf_counter() - start) / runs
    assert per_page < 0.05  # measured ~5 ms for both on a laptop; generous for loaded CI machines
