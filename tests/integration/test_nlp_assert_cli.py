"""`chartmigrate nlp assert` protocol: JSON lines in, one answer or error per line out, bad lines do not stop it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from migrate.nlp.assert_cli import find_concept, run

ANSWER_KEYS = {"id", "negated", "temporality", "experiencer", "triggers", "rules_version"}


def _run(*objs: object) -> list[dict[str, object]]:
    lines = [o if isinstance(o, str) else json.dumps(o) for o in objs]
    return [json.loads(line) for line in run(lines)]


def test_good_lines_answer_in_order() -> None:
    out = _run(
        {"id": "a", "text": "She denies any COUGH or sputum production.", "concept": "cough"},
        {"id": "b", "text": "History of   hypertension.", "concept": "hypertension"},
        {"id": "c", "text": "Family history of colon cancer.", "concept": "colon  cancer"},
        {"id": "d", "text": "Rule out pneumonia.", "concept": "pneumonia"},
        {"id": 5, "text": "Chest pain.", "concept": "chest pain"},
    )
    assert [o["id"] for o in out] == ["a", "b", "c", "d", 5]
    assert all(set(o) == ANSWER_KEYS for o in out)
    assert (out[0]["negated"], out[0]["triggers"]) == (True, ["negated:denies any"])
    assert out[1]["temporality"] == "historical"
    assert out[2]["experiencer"] == "other"
    assert (out[3]["temporality"], out[3]["negated"]) == ("hypothetical", False)
    assert out[4] | {"triggers": None, "rules_version": None} == {
        "id": 5,
        "negated": False,
        "temporality": "recent",
        "experiencer": "patient",
        "triggers": None,
        "rules_version": None,
    }


def test_optional_section_key() -> None:
    (out,) = _run({"id": "s", "text": "Diabetes.", "concept": "diabetes", "section": "family_history"})
    assert out["experiencer"] == "other"
    (out,) = _run({"id": "s", "text": "Asthma.", "concept": "asthma", "section": "PMH:"})
    assert out["temporality"] == "historical"


def test_bad_lines_give_errors_and_the_rest_still_answers() -> None:
    out = _run(
        "this is not json",
        {"id": "no-concept", "text": "No fever."},
        {"id": "absent", "text": "No fever.", "concept": "cough"},
        {"id": "types", "text": 3, "concept": "fever"},
        {"id": "section", "text": "No fever.", "concept": "fever", "section": 7},
        [1, 2],
        {"text": "No fever.", "concept": "fever"},
        "",  # blank lines are skipped
        {"id": "ok", "text": "No fever.", "concept": "fever"},
    )
    assert [o["id"] for o in out] == [None, "no-concept", "absent", "types", "section", None, None, "ok"]
    for o in out[:-1]:
        assert set(o) == {"id", "error"}
        assert isinstance(o["error"], str) and "\n" not in o["error"] and o["error"]
    assert "concept" in str(out[1]["error"]) and "not found" in str(out[2]["error"])
    assert out[-1]["negated"] is True


def test_errors_do_not_echo_clinical_text() -> None:
    (out,) = _run({"id": "x", "text": "Mrs Smith has no fever.", "concept": "HIV"})
    assert "Smith" not in str(out["error"]) and "HIV" not in str(out["error"])


def test_find_concept_prefers_the_occurrence_written_as_given() -> None:
    text = "ALLERGIES:  He has no known ALLERGIES."
    assert find_concept(text, "ALLERGIES") == (0, 9)
    text = "Allergies:  He has no known ALLERGIES."
    assert find_concept(text, "ALLERGIES") == (28, 37)
    assert find_concept(text, "allergies") == (0, 9)  # not written so: the first in any case
    (out,) = _run({"id": "u", "text": text, "concept": "ALLERGIES"})
    assert out["negated"] is True


def test_find_concept_is_case_and_whitespace_tolerant_and_respects_word_edges() -> None:
    assert find_concept("No   Chest\nPain.", "chest pain") == (5, 15)
    assert find_concept("PEEP 5, no PE.", "pe") == (11, 13)
    assert find_concept("No fever.", "   ") is None
    assert find_concept("s/p CABG (x3).", "(x3)") == (9, 13)
    assert find_concept("No masses at the RESECTIONto suggest recurrence.", "resection") == (17, 26)  # OCR-glued


def test_through_the_command_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        json.dumps({"id": "1", "text": "No fever.", "concept": "fever"}).encode()
        + b"\nnot json\n"
        + json.dumps({"id": "2", "text": "Mother had asthma.", "concept": "asthma"}).encode()
        + b'\n{"id": "latin-1", "text": "caf\xe9 fever", "concept": "fever"}\n'
        + json.dumps({"id": "3", "text": "Denies chest pain.", "concept": "chest pain"}).encode()
        + b"\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "migrate", "nlp", "assert", str(src)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == ["1", None, "2", None, "3"]
    assert out[0]["negated"] is True and "error" in out[1] and out[2]["experiencer"] == "other"
    assert out[3] == {"id": None, "error": "line is not UTF-8"} and out[4]["negated"] is True


def test_through_the_command_line_from_stdin() -> None:
    line = json.dumps({"id": "x", "text": "Family history: mother with breast cancer.", "concept": "breast cancer"})
    done = subprocess.run(
        [sys.executable, "-m", "migrate", "nlp", "assert"], input=line + "\n", capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (out,) = [json.loads(x) for x in done.stdout.splitlines()]
    assert out["id"] == "x" and out["experiencer"] == "other" and out["triggers"]


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "migrate", "nlp", "assert", str(tmp_path / "nope.jsonl")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "no such file" in done.stderr
