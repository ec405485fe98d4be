"""ConText-style assertion: each trigger category and direction, scope ends, pseudo-triggers, lists, sections."""

from __future__ import annotations

import json

import pytest
import spacy
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from spacy.tokens import Doc, Span

from migrate.nlp.context import RULES_PATH, Assertion, ContextRules, assess, section_of


def at(text: str, concept: str, *, section: str | None = None) -> Assertion:
    """Assess the first occurrence (case-insensitive) of ``concept`` in ``text``."""
    pos = text.lower().index(concept.lower())
    return assess(text, pos, pos + len(concept), section=section)


def negated(text: str, concept: str) -> bool:
    return at(text, concept).negated


def char_span(doc: Doc, start: int, end: int) -> Span:
    span = doc.char_span(start, end, label="PROBLEM")
    assert span is not None
    return span


# -- negation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "No pneumonia.",
        "She denies pneumonia.",
        "He denied pneumonia on admission.",
        "Chest x-ray without pneumonia.",
        "Negative for pneumonia.",
        "Lungs free of pneumonia.",
        "Absence of pneumonia on imaging.",
        "There is no evidence of pneumonia.",
        "No signs of pneumonia.",
        "She has never had pneumonia.",
        "Imaging unremarkable for pneumonia.",
        "Ruled out pneumonia.",
        "He does not have pneumonia.",
        "She doesn\u2019t have pneumonia.",
        "GI ROS is -ve for pneumonia.",
    ],
)
def test_forward_negation(text: str) -> None:
    a = at(text, "pneumonia")
    assert a.negated and a.temporality == "recent" and a.experiencer == "patient"
    assert a.triggers and a.triggers[0].startswith("negated:")


@pytest.mark.parametrize(
    "text",
    [
        "Pneumonia was ruled out.",
        "Pneumonia is absent.",
        "Pneumonia: denied.",
        "Pneumonia unlikely.",
        "Pneumonia was not seen on the film.",
        "Pneumonia has resolved.",
        "Blood cultures negative.",
    ],
)
def test_backward_negation(text: str) -> None:
    concept = "blood cultures" if "cultures" in text else "pneumonia"
    assert negated(text, concept)


def test_trigger_is_recorded_with_its_category_and_the_rules_version() -> None:
    a = at("Patient denies chest pain.", "chest pain")
    assert a.triggers == ("negated:denies",)
    assert a.rules_version == json.loads(RULES_PATH.read_text())["version"]


def test_affirmed_concept_has_defaults_and_no_triggers() -> None:
    a = at("Patient reports chest pain.", "chest pain")
    assert a == Assertion(False, "recent", "patient", (), a.rules_version)


def test_backward_trigger_does_not_reach_forward_and_vice_versa() -> None:
    assert not negated("Pneumonia. Effusion was ruled out.", "pneumonia")  # other sentence
    assert not negated("Cough, no fever.", "cough")  # "no" only looks forward
    assert not negated("Fever is absent but cough is present.", "cough")  # "absent" only looks back


# -- scope ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "No fever. Cough is present.",
        "No fever; cough is present.",
        "No fever? Cough.",
        "No fever but cough.",
        "No fever, however cough persists.",
        "Denies fever although reports cough.",
        "No fever except for cough.",
        "No fever aside from cough.",
        "Denies fever, complains of cough.",
        "No fever\nCough present",  # next line starts with a capital letter: a new sentence
        "No fever:\ncough present",  # a line ending in a colon ends the sentence
    ],
)
def test_scope_ends(text: str) -> None:
    assert negated(text, "fever")
    assert not negated(text, "cough")


def test_wrapped_line_continues_the_sentence() -> None:
    assert negated("Patient denies fever, chills\nor cough today.", "cough")


def test_abbreviation_and_decimal_do_not_end_the_sentence() -> None:
    assert negated("Seen by Dr. Jones, no fever or cough.", "cough")
    assert negated("No temperature above 38.5 or cough.", "cough")


def test_inline_enumeration_ends_the_sentence() -> None:
    text = "Diagnoses: 1) no esophagitis 2) hiatal hernia"
    assert negated(text, "esophagitis")
    assert not negated(text, "hiatal hernia")


def test_forward_negation_window_caps_a_long_clause() -> None:
    text = "No evidence that the patient had been taking her medicines as prescribed before the stroke."
    assert not negated(text, "stroke")
    assert negated("No evidence of an acute intracranial hemorrhage.", "hemorrhage")


@pytest.mark.parametrize("concept", ["fever", "chills", "night sweats", "weight loss"])
def test_list_extends_the_window(concept: str) -> None:
    text = (
        "The patient specifically denies any recent fever, chills, drenching night sweats, or unexplained weight loss."
    )
    assert negated(text, concept)


@pytest.mark.parametrize("concept", ["fever", "chills", "night sweats"])
def test_denies_list(concept: str) -> None:
    assert negated("Denies fever, chills, or night sweats.", concept)


@pytest.mark.parametrize("concept", ["nausea", "vomiting", "diarrhea"])
def test_negative_for_list(concept: str) -> None:
    assert negated("Negative for nausea, vomiting and diarrhea.", concept)


def test_trigger_inside_the_concept_does_not_apply_to_it() -> None:
    text = "Patient in no acute distress."
    assert not at(text, "no acute distress").negated
    assert at(text, "acute distress").negated


# -- pseudo-triggers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("No increase in the pleural effusion.", "pleural effusion"),
        ("No change in the pleural effusion.", "pleural effusion"),
        ("No interval change in the nodule.", "nodule"),
        ("Gram negative rods in the urine, consistent with infection.", "infection"),
        ("Cultures grew gram-negative bacteremia.", "bacteremia"),
        ("Pneumonia not ruled out.", "pneumonia"),
        ("Pneumonia cannot be ruled out.", "pneumonia"),
        ("Walked without difficulty despite the hip fracture.", "hip fracture"),
        ("Not only fever but also rash.", "fever"),
        ("No further workup of the anemia is needed today.", "anemia"),
        ("Not certain whether this is cellulitis.", "cellulitis"),
    ],
)
def test_pseudo_triggers_block_negation(text: str, concept: str) -> None:
    assert not negated(text, concept)


# -- temporality ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("History of asthma.", "asthma"),
        ("She has a history of hypertension and diabetes.", "diabetes"),
        ("H/o myocardial infarction.", "myocardial infarction"),
        ("S/p appendectomy.", "appendectomy"),
        ("Status post cholecystectomy.", "cholecystectomy"),
        ("Prior myocardial infarction.", "myocardial infarction"),
        ("Previous stroke.", "stroke"),
        ("She had a stroke in the past.", "stroke"),
        ("He had pneumonia three years ago.", "pneumonia"),
        ("Remote history of tuberculosis.", "tuberculosis"),
        ("Asthma in childhood.", "asthma"),
        ("Childhood asthma.", "asthma"),
        ("Appendectomy in 1998.", "appendectomy"),
        ("Known coronary artery disease.", "coronary artery disease"),
    ],
)
def test_historical(text: str, concept: str) -> None:
    a = at(text, concept)
    assert a.temporality == "historical" and not a.negated
    assert any(t.startswith("historical:") for t in a.triggers)


def test_no_history_of_is_negated_and_historical() -> None:
    a = at("No history of diabetes.", "diabetes")
    assert a.negated and a.temporality == "historical"
    assert a.triggers == ("negated:no", "historical:history of")


def test_historical_scope_ends_at_now_and_presents() -> None:
    text = "History of asthma, now presents with pneumonia."
    assert at(text, "asthma").temporality == "historical"
    assert at(text, "pneumonia").temporality == "recent"


def test_a_days_long_history_is_recent() -> None:
    assert at("She has a two-day history of fever.", "fever").temporality == "recent"
    assert at("She has a 3 day history of fever.", "fever").temporality == "recent"


def test_previous_only_reaches_its_noun_phrase() -> None:
    text = "She was seen at the previous hospital where the team found she was lethargic."
    assert at(text, "lethargic").temporality == "recent"


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Rule out pneumonia.", "pneumonia"),
        ("R/O pneumonia.", "pneumonia"),
        ("Chest x-ray to evaluate for pneumonia.", "pneumonia"),
        ("Return if fever develops.", "fever"),
        ("Return to the emergency department if he develops chest pain or fever.", "fever"),
        ("Should chest pain occur, call 911.", "chest pain"),
        ("She is at risk of falls.", "falls"),
        ("Screening for colon cancer.", "colon cancer"),
        ("Call for any fever.", "fever"),
        ("DVT prophylaxis with heparin.", "dvt"),
    ],
)
def test_hypothetical(text: str, concept: str) -> None:
    a = at(text, concept)
    assert a.temporality == "hypothetical" and not a.negated


def test_rule_out_is_hypothetical_but_ruled_out_is_negated() -> None:
    assert at("Rule out pneumonia.", "pneumonia") == Assertion(
        False, "hypothetical", "patient", ("hypothetical:rule out",), at("x.", "x").rules_version
    )
    assert at("Ruled out pneumonia.", "pneumonia").negated
    assert at("Pneumonia was ruled out.", "pneumonia").negated
    assert at("Pneumonia was ruled out.", "pneumonia").temporality == "recent"


def test_hypothetical_wins_over_historical() -> None:
    assert at("Return if the previous rash recurs.", "rash").temporality == "hypothetical"


# -- experiencer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Mother had breast cancer.", "breast cancer"),
        ("Her mother had breast cancer.", "breast cancer"),
        ("Family history of diabetes.", "diabetes"),
        ("Maternal grandmother with ovarian cancer.", "ovarian cancer"),
        ("Patient's father died of a myocardial infarction.", "myocardial infarction"),
        ("FHx: colon cancer.", "colon cancer"),
        ("FH significant for colon cancer.", "colon cancer"),
        ("Breast cancer in her mother.", "breast cancer"),
        ("Sister and brother both have asthma.", "asthma"),
        ("His wife has the flu.", "flu"),
    ],
)
def test_experiencer_other(text: str, concept: str) -> None:
    a = at(text, concept)
    assert a.experiencer == "other"
    assert any(t.startswith("experiencer_other:") for t in a.triggers)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Patient's mother reports he has fever.", "fever"),
        ("Mother states that she has had a cough for two days.", "cough"),
        ("History obtained from his mother; he has asthma.", "asthma"),
        ("Accompanied by his mother, he complains of abdominal pain.", "abdominal pain"),
        ("Mother at bedside, patient has a fever.", "fever"),
        ("Family history of colon cancer and a personal history of polyps.", "polyps"),
    ],
)
def test_experiencer_stays_patient(text: str, concept: str) -> None:
    assert at(text, concept).experiencer == "patient"


def test_negated_family_history() -> None:
    a = at("No family history of colon cancer.", "colon cancer")
    assert a.negated and a.experiencer == "other"


# -- sections -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "name"),
    [
        ("FAMILY HISTORY:", "family_history"),
        ("Family Hx", "family_history"),
        ("FH:", "family_history"),
        ("PMH:", "past_medical_history"),
        ("Past Medical History", "past_medical_history"),
        ("PSH:", "past_surgical_history"),
        ("ROS:", "review_of_systems"),
        ("Assessment/Plan", "assessment"),
        ("  Assessment and Plan:  ", "assessment"),
        ("HPI:", "history_of_present_illness"),
        ("Allergies:", "allergies"),
        ("Plan:", "plan"),
        ("PMH: hypertension, diabetes", "past_medical_history"),
        ("Vital signs:", None),
        ("", None),
    ],
)
def test_section_of(heading: str, name: str | None) -> None:
    assert section_of(heading) == name


def test_section_defaults() -> None:
    a = at("Stroke.", "stroke", section="family_history")
    assert a.experiencer == "other" and a.triggers == ("section:family_history",)
    assert at("Hypertension.", "hypertension", section="past_medical_history").temporality == "historical"
    assert at("Appendectomy.", "appendectomy", section="past_surgical_history").temporality == "historical"
    assert at("Pneumonia.", "pneumonia", section="assessment").temporality == "recent"
    assert at("Pneumonia.", "pneumonia", section="no_such_section").triggers == ()
    assert at("Diabetes.", "diabetes", section="Family History:").experiencer == "other"  # a heading works too


def test_a_trigger_beats_the_section_default() -> None:
    a = at("No diabetes.", "diabetes", section="family_history")
    assert a.negated and a.experiencer == "other"
    assert at("Rule out pneumonia.", "pneumonia", section="past_medical_history").temporality == "hypothetical"


def test_heading_in_the_passage_sets_the_section() -> None:
    text = "PAST MEDICAL HISTORY:\nHypertension.\nDiabetes.\nFAMILY HISTORY:\nMother - breast cancer.\nStroke."
    assert at(text, "hypertension").temporality == "historical"
    assert at(text, "diabetes").temporality == "historical"
    assert at(text, "diabetes").experiencer == "patient"
    assert at(text, "stroke").experiencer == "other"
    assert at(text, "stroke").temporality == "recent"
    assert at("PMH: asthma, gout.", "gout").temporality == "historical"
    # a heading word in the middle of a line, in an earlier sentence, is not a heading
    assert at("He read his family history: it was long. Asthma.", "asthma").experiencer == "patient"


# -- rules file and robustness --------------------------------------------------------------------


def test_rules_file_is_versioned_and_every_trigger_has_category_and_direction() -> None:
    data = json.loads(RULES_PATH.read_text())
    assert data["version"]
    scoped = {"negated", "historical", "hypothetical", "experiencer_other"}
    for group in data["triggers"]:
        assert group["category"] in scoped | {"pseudo", "termination", "conjunction"}
        if group["category"] in scoped:
            assert group["direction"] in {"forward", "backward", "bidirectional"}
        for phrase in group.get("phrases", ()):
            assert phrase == phrase.lower()


def _rules(**triggers: object) -> dict[str, object]:
    return {"version": "test-1", "triggers": [triggers]}


@pytest.mark.parametrize(
    "bad",
    [
        _rules(category="maybe", direction="forward", phrases=["x"]),
        _rules(category="negated", phrases=["x"]),  # no direction
        _rules(category="pseudo", direction="forward", phrases=["x"]),
        _rules(category="negated", direction="forward", phrases=["No"]),
        _rules(category="negated", direction="forward", phrases=["no", "no"]),
        _rules(category="negated", direction="forward", regex={"x": "(a|b)"}),
        _rules(category="conjunction", phrases=["as well as"]),
    ],
)
def test_bad_rules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="context rules"):
        ContextRules(bad)


def test_custom_rules_with_a_wildcard() -> None:
    rules = ContextRules(_rules(category="negated", direction="forward", phrases=["denies * of"]))
    text = "Denies episodes of syncope."
    assert rules.assess(text, text.index("syncope"), len(text) - 1).triggers == ("negated:denies episodes of",)


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 3), (0, 99), (5, 2)])
def test_bad_span_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="concept span"):
        assess("No fever.", start, end)


@hsettings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=80), st.data())
def test_any_text_and_span_gives_a_valid_assertion(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    a = assess(text, start, end)
    assert a.temporality in {"recent", "historical", "hypothetical"}
    assert a.experiencer in {"patient", "other"}


@pytest.mark.parametrize(
    "text,concept",
    [
        ("Allergies: none.", "allergies"),
        ("Edema - none.", "edema"),
        ("03) None mitral regurgitation.", "mitral regurgitation"),
        ("There were no further signs or symptoms of infection.", "infection"),
    ],
)
def test_none_and_no_further_negate(text: str, concept: str) -> None:
    assert negated(text, concept)


@pytest.mark.parametrize(
    "text,concept",
    [
        ("We do not know the cause of her pancreatitis.", "pancreatitis"),
        ("Screws in position without change and the cysts have not changed in size.", "cysts"),
        ("Without interval change in the nodule.", "nodule"),
    ],
)
def test_not_knowing_and_no_change_are_not_negations(text: str, concept: str) -> None:
    assert not negated(text, concept)


def test_an_upper_case_heading_run_into_the_text_ends_the_sentence() -> None:
    text = "*** Measurements Not Obtainable ***   REFERRING DIAGNOSIS: CHEST PAIN, other"
    assert not negated(text, "CHEST PAIN")
    # ... but a heading's own words stay one heading: the section still applies.
    a = at("HIS SOCIAL HISTORY:  He drinks beer and smokes a pipe.", "pipe")
    assert a.temporality == "historical" and a.triggers == ("section:social_history",)


@pytest.mark.parametrize(
    "text,concept",
    [
        ("The density is redemonstrated with no change.", "density"),
        ("The nodule is unchanged.", "nodule"),
        ("The cysts have not changed in size.", "cysts"),
        ("A small effusion is again seen.", "effusion"),
        ("She also had abdominal pain at that time.", "abdominal pain"),
    ],
)
def test_comparison_with_the_past_is_historical(text: str, concept: str) -> None:
    a = at(text, concept)
    assert a.temporality == "historical" and not a.negated


@pytest.mark.parametrize(
    "text,concept",
    [
        ("The lesion is larger than previously.", "lesion"),
        ("The leg is mottled as previously noted.", "leg"),
        ("No focal deficits on history.", "focal deficits"),
    ],
)
def test_previously_and_history_pseudo_triggers(text: str, concept: str) -> None:
    assert at(text, concept).temporality == "recent"


def test_coming_in_with_ends_the_history_scope() -> None:
    text = "Woman with history of asthma, coming in with a cough."
    assert at(text, "cough").temporality == "recent"
    assert at(text, "asthma").temporality == "historical"


@pytest.mark.parametrize(
    "text,concept,phrase",
    [
        ("Diabetes.", "diabetes", "diabetes"),
        ("The patient with hypothyroidism.", "hypothyroidism", "hypothyroidism"),
        ("Her COPD is stable.", "copd", "copd"),
        ("He smokes cigarettes.", "smokes cigarettes", "smokes cigarettes"),
    ],
)
def test_a_chronic_condition_is_historical_by_its_nature(text: str, concept: str, phrase: str) -> None:
    a = at(text, concept)
    assert a.temporality == "historical" and a.triggers == (f"chronic:{phrase}",)


@pytest.mark.parametrize(
    "text,concept",
    [
        ("New onset diabetes.", "diabetes"),
        ("Acute on chronic heart failure.", "heart failure"),
        ("Active Crohn's disease.", "crohn's disease"),
        ("No depression.", "depression"),  # absent: no onset to date
        ("Moderate pulmonary hypertension.", "pulmonary hypertension"),  # not the chronic 'hypertension'
        ("Pneumonia.", "pneumonia"),
    ],
)
def test_acute_qualified_negated_or_other_conditions_stay_recent(text: str, concept: str) -> None:
    assert at(text, concept).temporality == "recent"


def test_a_trigger_beats_the_chronic_default() -> None:
    assert at("Rule out diabetes.", "diabetes").temporality == "hypothetical"
    assert at("History of hypertension.", "hypertension").triggers == ("historical:history of",)


# -- spaCy component ------------------------------------------------------------------------------


def test_spacy_component_sets_extensions_on_entities() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("cm_context")
    doc = nlp.make_doc("Denies chest pain. History of asthma. Mother had breast cancer.")
    doc.ents = [
        char_span(doc, 7, 17),
        char_span(doc, 30, 36),
        char_span(doc, 49, 62),
    ]
    doc = nlp(doc)
    pain, asthma, cancer = doc.ents
    assert pain._.negated and pain._.assertion_triggers == ("negated:denies",)
    assert asthma._.temporality == "historical" and not asthma._.negated
    assert cancer._.experiencer == "other" and cancer._.temporality == "recent"


def test_spacy_component_on_a_span_group_with_a_section_extension() -> None:
    registered_here = not Span.has_extension("section")
    if registered_here:
        Span.set_extension("section", default=None)
    try:
        nlp = spacy.blank("en")
        nlp.add_pipe("cm_context", config={"span_group": "problems"})
        nlp.add_pipe("cm_context", name="again")  # registering the extensions twice is harmless
        doc = nlp.make_doc("Stroke.")
        span = char_span(doc, 0, 6)
        span._.section = "family_history"
        doc.spans["problems"] = [span]
        doc = nlp(doc)
        (span,) = doc.spans["problems"]
        assert span._.experiencer == "other"
        assert span._.assertion_triggers == ("section:family_history",)
    finally:
        if registered_here:
            Span.remove_extension("section")
