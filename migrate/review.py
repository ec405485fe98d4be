"""Review triage: how urgently a draft needs a person, and why (pure functions over draft data)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

__all__ = ["POOR_SCAN", "triage"]

POOR_SCAN = 0.75  # mean OCR confidence under which a chart is flagged as a poor scan

# Points per finding, and the most one kind of finding may add: a draft with many small doubts
# should not outrank one that may be the wrong patient.
_WEIGHTS: dict[str, tuple[int, int]] = {
    "inconsistent": (25, 50),
    "invalid": (20, 40),
    "missing": (10, 30),
    "low_confidence": (4, 20),
}
_WORDS = {
    "inconsistent": ("inconsistency", "inconsistencies"),
    "invalid": ("invalid value", "invalid values"),
    "missing": ("missing field", "missing fields"),
    "low_confidence": ("low-confidence field", "low-confidence fields"),
}


def triage(data: Mapping[str, Any], ocr_confidence: float | None = None) -> tuple[int, list[str]]:
    """(priority, reasons): higher first. Possible duplicates and documents with issues come before
    clean drafts; the queue breaks ties by age (oldest first)."""
    priority = 0
    reasons: list[str] = []
    match = data.get("match") or {}
    if match.get("decision") == "review":
        n = len(match.get("candidates") or [])
        priority += 40
        reasons.append(f"possible duplicate ({n} candidate{'s' if n != 1 else ''})")
    kinds = Counter(str(i.get("kind")) for i in data.get("issues") or [] if isinstance(i, Mapping))
    for kind, (each, cap) in _WEIGHTS.items():
        n = kinds.get(kind, 0)
        if n:
            priority += min(n * each, cap)
            one, many = _WORDS[kind]
            reasons.append(f"{n} {one if n == 1 else many}")
    if data.get("status") == "failed":
        priority += 50
        reasons.append("processing failed")
    if ocr_confidence is not None and ocr_confidence < POOR_SCAN:
        priority += 15
        reasons.append("poor scan quality")
    if match.get("decision") == "new":
        priority += 5
        reasons.append("new patient: needs an MRN")
    return priority, reasons
