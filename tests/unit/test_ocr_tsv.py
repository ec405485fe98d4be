"""stages.ocr: Tesseract's TSV becomes words in reading order, page text and a confidence."""

from __future__ import annotations

import pytest

from migrate.records import Box
from migrate.stages.ocr import mean_confidence, page_text, parse_tsv

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
ROWS = [
    "1\t1\t0\t0\t0\t0\t0\t0\t1275\t1650\t-1\t",
    "2\t1\t1\t0\t0\t0\t110\t100\t600\t90\t-1\t",
    "3\t1\t1\t1\t0\t0\t110\t100\t600\t90\t-1\t",
    "4\t1\t1\t1\t1\t0\t110\t100\t400\t40\t-1\t",
    "5\t1\t1\t1\t1\t1\t110\t100\t150\t40\t96.5\tPatient",
    "5\t1\t1\t1\t1\t2\t270\t100\t120\t40\t91\tchart",
    "4\t1\t1\t1\t2\t0\t110\t150\t500\t40\t-1\t",
    "5\t1\t1\t1\t2\t1\t110\t150\t120\t40\t88\tBlood",
    "5\t1\t1\t1\t2\t2\t240\t150\t200\t40\t80\tpressure",
    '5\t1\t1\t1\t2\t3\t450\t150\t150\t40\t70\t"120/80"',
    "5\t1\t1\t1\t2\t4\t610\t150\t10\t40\t95\t ",
    "2\t1\t2\t0\t0\t0\t110\t400\t300\t40\t-1\t",
    "5\t1\t2\t1\t1\t1\t110\t400\t160\t40\t50\tSigned",
    "5\t1\t2\t1\t1\t2\t280\t400\t10\t40\tnot-a-number\tbroken",
]
TSV = "\n".join([HEADER, *ROWS]) + "\n"


def test_parse_tsv_keeps_only_words_with_text_in_order() -> None:
    words = parse_tsv(TSV)
    assert [w.text for w in words] == ["Patient", "chart", "Blood", "pressure", '"120/80"', "Signed"]
    first = words[0]
    assert first.box == Box(110, 100, 260, 140)
    assert first.confidence == pytest.approx(0.965)
    assert (first.block, first.paragraph, first.line, first.number) == (1, 1, 1, 1)
    assert (words[-1].block, words[-1].line) == (2, 1)


def test_confidences_are_clamped_to_unit_range() -> None:
    tsv = "\n".join([HEADER, "5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t-1\tfaint", "5\t1\t1\t1\t1\t2\t20\t0\t10\t10\t140\tx"])
    assert [w.confidence for w in parse_tsv(tsv)] == [0.0, 1.0]


def test_page_text_one_line_per_ocr_line_and_blank_line_between_blocks() -> None:
    assert page_text(parse_tsv(TSV)) == 'Patient chart\nBlood pressure "120/80"\n\nSigned'


def test_mean_confidence_is_weighted_by_word_length() -> None:
    words = parse_tsv(TSV)
    total = sum(len(w.text) for w in words)
    expected = sum(w.confidence * len(w.text) for w in words) / total
    assert mean_confidence(words) == pytest.approx(expected)
    # a long word read badly pulls the mean down more than a short one
    assert mean_confidence(words) < sum(w.confidence for w in words) / len(words) + 0.05
    assert mean_confidence(words[:2]) == pytest.approx((0.965 * 7 + 0.91 * 5) / 12)


def test_empty_input() -> None:
    assert parse_tsv(HEADER + "\n") == []
    assert page_text([]) == ""
    assert mean_confidence([]) is None
