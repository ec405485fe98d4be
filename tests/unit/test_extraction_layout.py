"""Label/value pairing and demographics on synthetic word boxes: layouts, not templates."""

from __future__ import annotations

from collections.abc import Sequence

from migrate.nlp import demographics
from migrate.nlp.layout import group_lines
from migrate.records import Box, Word

CHAR_W = 10
LINE_H = 20


def words_at(text: str, x: int, y: int, conf: float = 0.95) -> list[Word]:
    """Words of ``text`` starting at (x, y), one character = CHAR_W pixels."""
    out = []
    for w in text.split():
        out.append(Word(w, conf, Box(x, y, x + len(w) * CHAR_W, y + LINE_H), 1, 1, 1, 1))
        x += (len(w) + 1) * CHAR_W
    return out


def page(rows: Sequence[Sequence[tuple[int, str]]], top: int = 100) -> list[Word]:
    """Rows of (x, text) pieces, 40 px apart."""
    out: list[Word] = []
    for r, pieces in enumerate(rows):
        for x, text in pieces:
            out.extend(words_at(text, x, top + r * 40))
    return out


def patient(rows: Sequence[Sequence[tuple[int, str]]]) -> dict[str, object]:
    lines = group_lines(1, page(rows))
    fields, _issues = demographics.resolve(demographics.candidates(lines))
    return {k: v.value for k, v in fields.items()}


def test_label_beside_value_with_varied_labels() -> None:
    got = patient(
        [
            [(50, "Pt Name: DOE, JANE A.")],
            [(50, "D.O.B.: 4-Mar-56"), (600, "Gender: Female")],
            [(50, "MRN: XZ-99812")],
            [(50, "Home Phone: 617.555.0199")],
        ]
    )
    assert got["family_name"] == "Doe" and got["given_name"] == "Jane" and got["middle_name"] == "A"
    assert got["birth_date"] == "1956-03-04"
    assert got["sex"] == "F"
    assert got["chart_number"] == "XZ-99812"
    assert got["phone"] == "6175550199"


def test_labels_above_values_in_boxes() -> None:
    """A boxed form: a row of labels, the values written under each label."""
    got = patient(
        [
            [(50, "Last Name"), (400, "First Name"), (750, "MI"), (900, "Date of Birth")],
            [(50, "Okafor"), (400, "Chidi"), (750, "N"), (900, "12/01/1990")],
        ]
    )
    assert got["family_name"] == "Okafor"
    assert got["given_name"] == "Chidi"
    assert got["middle_name"] == "N"
    assert got["birth_date"] == "1990-12-01"


def test_name_label_last_first_order() -> None:
    got = patient([[(50, "Name (Last, First): Nguyen Thi")]])
    assert got["family_name"] == "Nguyen" and got["given_name"] == "Thi"


def test_letter_prose_with_title_and_birth_date() -> None:
    got = patient(
        [
            [(50, "Dear Dr. Patel,")],
            [(50, "I saw your patient Mr. John Q. Smith, born March 4, 1956, in clinic today.")],
        ]
    )
    assert (got["given_name"], got["middle_name"], got["family_name"]) == ("John", "Q", "Smith")
    assert got["birth_date"] == "1956-03-04"
    assert got["sex"] == "M"


def test_contacts_and_letterhead_are_not_the_patient() -> None:
    got = patient(
        [
            [(50, "Lakeview Clinic")],
            [(50, "12 Lake Rd, Springfield, IL 62701 Tel (217) 555-0100")],
            [(50, "Patient: Rivera, Ana")],
            [(50, "Emergency Contact: Luis Rivera (Spouse) (217) 555-0177")],
            [(50, "Phone: (217) 555-0123")],
        ]
    )
    assert got["phone"] == "2175550123"
    assert got["given_name"] == "Ana"


def test_city_state_zip_and_address() -> None:
    got = patient(
        [
            [(50, "Address: 88 Elm Street Apt. 4")],
            [(50, "City/State/ZIP: North Haven, CT 06473")],
        ]
    )
    assert got["address_line"] == "88 Elm Street Apt. 4"
    assert (got["city"], got["state"], got["postal_code"]) == ("North Haven", "CT", "06473")


def test_conflicting_birth_dates_become_an_issue() -> None:
    lines = group_lines(1, page([[(50, "DOB: 01/02/1970")], [(50, "Date of Birth: 03/04/1980")]]))
    _fields, issues = demographics.resolve(demographics.candidates(lines))
    assert any(i["field"] == "patient.birth_date" and i["kind"] == "inconsistent" for i in issues)


def test_running_text_does_not_invent_names() -> None:
    got = patient([[(50, "Patient reports good adherence to medications and denies chest pain.")]])
    assert "given_name" not in got and "family_name" not in got


def test_two_columns_stay_apart() -> None:
    lines = group_lines(1, page([[(50, "Sex: M"), (1400, "Referring Physician: Dr. Amy Ward")]]))
    assert [line.text for line in lines] == ["Sex: M", "Referring Physician: Dr. Amy Ward"]


def test_other_party_sections_keep_to_their_column() -> None:
    """An emergency contact box on the right does not take the patient's phone on the left."""
    got = patient(
        [
            [(50, "Name: Reyes, Lena"), (900, "IN CASE OF EMERGENCY")],
            [(50, "Street: 12 Oak Street"), (900, "Contact: Paul Reyes")],
            [(50, "City: Salem"), (900, "Phone: (503) 555-0111")],
            [(50, "Tel: 503.555.0142")],
        ]
    )
    assert got["phone"] == "5035550142"
    assert got["address_line"] == "12 Oak Street" and got["city"] == "Salem"


def test_boxed_form_other_party_rows_are_not_the_patient() -> None:
    got = patient(
        [
            [(50, "LAST NAME"), (500, "FIRST NAME")],
            [(50, "Daniels"), (500, "Thomas")],
            [(50, "PHONE")],
            [(50, "419-555-0194")],
            [(50, "EMERGENCY CONTACT")],
            [(50, "NAME"), (500, "PHONE")],
            [(50, "Nicholas Daniels"), (500, "330-555-0120")],
        ]
    )
    assert (got["given_name"], got["family_name"], got["phone"]) == ("Thomas", "Daniels", "4195550194")


def test_dotted_leaders_read_as_junk_still_lead_to_the_value() -> None:
    """OCR reads a dotted leader as short, unsure letters ("wee eeee"); the value after it,
    across a gap wider than a column gap, is still the label's."""
    words = words_at("ADDRESS", 50, 100)
    # Leader dots: a quarter of the text height, sitting on the baseline, almost no confidence.
    x = 140
    for junk in ("wee", "eeee", "ce", "eeeeeeeeeee", "eeeeeeeeeeee", "eeeeeeeeeee"):
        words.append(Word(junk, 0.02, Box(x, 100 + LINE_H - 6, x + len(junk) * CHAR_W, 100 + LINE_H), 1, 1, 1, 1))
        x += (len(junk) + 1) * CHAR_W
    words += words_at("90422 JASON COVES", x + 20, 100)
    words += words_at("TELEPHONE:", 50, 140) + words_at("350-371-2580", 170, 140)
    lines = group_lines(1, words)
    assert [ln.text for ln in lines if ln.row == 0] == ["ADDRESS ... ... ... ... ... ... 90422 JASON COVES"]
    fields, _ = demographics.resolve(demographics.candidates(lines))
    assert fields["address_line"].value == "90422 JASON COVES"
    assert fields["phone"].value == "3503712580"


def test_identifier_split_at_its_hyphen_by_ocr() -> None:
    got = patient([[(50, "SUBSCRIBER ID: 7H8 -X2-EP22")], [(50, "CHART NO: C1932 - 85")]])
    assert got["insurance_member_id"] == "7H8-X2-EP22"
    assert got["chart_number"] == "C1932-85"


def test_narrative_sex_is_a_hint_not_the_recorded_sex() -> None:
    lines = group_lines(1, page([[(50, "Name: Rivera, Ana")], [(50, "54-year-old woman presents for follow-up.")]]))
    fields, issues = demographics.resolve(demographics.candidates(lines))
    assert "sex" not in fields
    assert [(i["field"], i["kind"]) for i in issues] == [("patient.sex", "missing")]
    assert "describes the patient as F" in issues[0]["message"]
    # A recorded sex wins and no hint is raised.
    lines = group_lines(1, page([[(50, "Name: Rivera, Ana"), (600, "Sex: M")], [(50, "54-year-old woman presents.")]]))
    fields, issues = demographics.resolve(demographics.candidates(lines))
    assert fields["sex"].value == "M" and not issues


def test_a_smudged_colon_before_a_distant_value_is_skipped() -> None:
    """OCR reads a leader's colon as full-height, doubtful letters ("ee et") right after the label;
    the value sits in its column further right, read with confidence."""

    def sex_of(value_x: int) -> object:
        words = words_at("SEX", 50, 100)
        words.append(Word("ee", 0.25, Box(90, 96, 120, 124), 1, 1, 1, 1))
        words.append(Word("et", 0.42, Box(126, 96, 140, 124), 1, 1, 1, 1))
        words += words_at("F", value_x, 100)
        fields, _ = demographics.resolve(demographics.candidates(group_lines(1, words)))
        return fields["sex"].value if "sex" in fields else None

    assert sex_of(230) == "F"  # a gap of four text heights: the junk is not part of the value
    assert sex_of(150) is None  # no gap: "ee et F" is one doubtful value, not guessed at
