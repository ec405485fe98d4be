"""`chartmigrate nlp assert`: JSON lines in, one clinical assertion (or error) per line out.

Input lines are ``{"id", "text", "concept"}`` (optional ``"section"``: a section name or heading);
the concept is found in the text whitespace-tolerant: the first whole-word occurrence written
as given, else the first in any case, else the first inside a longer word.
Output lines are ``{"id", "negated", "temporality", "experiencer", "triggers", "rules_version"}``,
or ``{"id", "error"}`` for a line that cannot be answered; the lines after it are still answered.
Errors never quote the text: it is clinical and may identify a patient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from migrate.nlp.context import assess

__all__ = ["answer", "find_concept", "run"]


class _BadLine(ValueError):
    """A line the protocol cannot answer; the message is one line and holds no clinical text."""


def find_concept(text: str, concept: str) -> tuple[int, int] | None:
    """Character span of ``concept`` in ``text``: as written if it occurs so, else in any case."""
    words = concept.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    # Whole words first ("PE" is not the start of "PEEP"), then anywhere: OCR glues words ("RESECTIONto").
    bounded = (r"(?<!\w)" if words[0][0].isalnum() else "") + pattern + (r"(?!\w)" if words[-1][-1].isalnum() else "")
    # Written as in the text first ("ALLERGIES: he has no known ALLERGIES" asked about the second).
    m = re.search(bounded, text) or re.search(bounded, text, re.IGNORECASE) or re.search(pattern, text, re.IGNORECASE)
    return m.span() if m else None


def answer(obj: Any) -> dict[str, Any]:
    """The output object for one parsed input line (raises ``_BadLine``)."""
    if not isinstance(obj, dict):
        raise _BadLine("line is not a JSON object")
    missing = [k for k in ("id", "text", "concept") if k not in obj]
    if missing:
        raise _BadLine(f"missing key(s): {', '.join(missing)}")
    text, concept, section = obj["text"], obj["concept"], obj.get("section")
    if not isinstance(text, str) or not isinstance(concept, str):
        raise _BadLine("'text' and 'concept' must be strings")
    if section is not None and not isinstance(section, str):
        raise _BadLine("'section' must be a string")
    span = find_concept(text, concept)
    if span is None:
        raise _BadLine("concept not found in text")
    a = assess(text, *span, section=section)
    return {
        "id": obj["id"],
        "negated": a.negated,
        "temporality": a.temporality,
        "experiencer": a.experiencer,
        "triggers": list(a.triggers),
        "rules_version": a.rules_version,
    }


def run(lines: Iterable[str]) -> Iterator[str]:
    """One output line (no newline) per non-blank input line, in order."""
    for line in lines:
        if not line.strip():
            continue
        obj: Any = None
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            yield json.dumps({"id": None, "error": "line is not UTF-8"})
            continue
        try:
            obj = json.loads(line)
            out = answer(obj)
        except json.JSONDecodeError as e:
            out = {"id": None, "error": f"not JSON ({e.msg} at column {e.colno})"}
        except _BadLine as e:
            ident = obj.get("id") if isinstance(obj, dict) else None
            out = {"id": ident if isinstance(ident, str | int | float) or ident is None else None, "error": str(e)}
        yield json.dumps(out, ensure_ascii=False)
