"""Review triage: possible duplicates and document issues come first, with their reasons."""

from __future__ import annotations

from migrate.review import POOR_SCAN, triage


def test_clean_known_patient_has_no_priority() -> None:
    assert triage({"match": {"decision": "link", "candidates": [{}]}, "issues": []}, 0.95) == (0, [])


def test_possible_duplicate_outranks_many_small_doubts() -> None:
    dup, why = triage({"match": {"decision": "review", "candidates": [{}, {}]}})
    doubts, _ = triage({"issues": [{"kind": "low_confidence"}] * 12})
    assert why == ["possible duplicate (2 candidates)"] and dup > doubts


def test_issue_kinds_are_counted_and_capped() -> None:
    issues = [{"kind": "inconsistent"}] * 5 + [{"kind": "missing"}, {"kind": "invalid"}, {"kind": "low_confidence"}]
    priority, reasons = triage({"issues": issues, "match": {"decision": "new"}}, POOR_SCAN - 0.1)
    assert reasons == [
        "5 inconsistencies", "1 invalid value", "1 missing field", "1 low-confidence field", "poor scan quality",
        "new patient: needs an MRN",
    ]  # fmt: skip
    assert priority == 50 + 10 + 20 + 4 + 15 + 5
    assert triage({"issues": ["not a mapping"]}) == (0, [])
