#!/usr/bin/env python3
"""Deterministic generator of synthetic scanned patient charts with ground truth.

Every person, clinic, phone number and identifier is invented (Faker plus
fictional 555-01xx phone numbers).  The same ``--seed`` and ``--count`` give
byte-identical output on the same machine (fixed PDF/TIFF timestamps, no
randomness from time).

Usage::

    python samples/generate.py --out samples/charts --seed 7 --count 6

Library use (e.g. from tests)::

    from samples.generate import render_text_page
    img = render_text_page(["Patient: DOE, JANE", "DOB: 01/02/1960"], skew=3.0)

See ``samples/README.md`` for the truth format and conventions.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "Plan",
    "apply_plan",
    "build_specs",
    "generate",
    "render_text_page",
]

PAGE_W_PT = 612.0  # US letter, points
PAGE_H_PT = 792.0
MARGIN_PT = 54.0  # 0.75 in; keeps text inside the frame even at 8 deg skew
FIXED_PDF_DATE = "D:20240101000000Z"
FIXED_TIFF_DATE = "2024:01:01 00:00:00"
PRODUCER = "chartmigrate samples/generate.py"

# --------------------------------------------------------------------------
# Fonts
# --------------------------------------------------------------------------

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/liberation2"),
)
# key -> (regular file, bold file, fallback key)
FONT_FILES: dict[str, tuple[str, str, str]] = {
    "dejavu_sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", ""),
    "dejavu_sans_condensed": (
        "DejaVuSansCondensed.ttf",
        "DejaVuSansCondensed-Bold.ttf",
        "dejavu_sans",
    ),
    "dejavu_serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "dejavu_sans"),
    "dejavu_serif_condensed": (
        "DejaVuSerifCondensed.ttf",
        "DejaVuSerifCondensed-Bold.ttf",
        "dejavu_serif",
    ),
    "dejavu_sans_mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "dejavu_sans"),
    "liberation_sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "dejavu_sans"),
    "liberation_serif": ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "dejavu_serif"),
    "liberation_mono": ("LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf", "dejavu_sans_mono"),
}
BODY_FONTS = [
    "dejavu_sans",
    "dejavu_sans",
    "dejavu_serif",
    "dejavu_sans_condensed",
    "dejavu_serif_condensed",
    "dejavu_sans_mono",
    "liberation_sans",
    "liberation_serif",
]
HEAD_FONTS = ["dejavu_sans", "dejavu_serif", "liberation_sans", "dejavu_sans_condensed"]

FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont
_FONT_CACHE: dict[tuple[str, int], FontT] = {}


def _find_font_file(name: str) -> Path | None:
    for d in FONT_DIRS:
        p = d / name
        if p.is_file():
            return p
    return None


def resolve_font(key: str) -> str:
    """Return the font key actually available, following the fallback chain."""
    seen: set[str] = set()
    while key and key not in seen:
        seen.add(key)
        regular, _bold, fallback = FONT_FILES.get(key, ("", "", "dejavu_sans"))
        if regular and _find_font_file(regular) is not None:
            return key
        key = fallback
    return "pillow_default"


def load_font(key: str, bold: bool, px: int) -> FontT:
    key = resolve_font(key)
    cache_key = (f"{key}:{int(bold)}", px)
    if cache_key in _FONT_CACHE:
        return _FONT_CACHE[cache_key]
    font: FontT
    if key == "pillow_default":
        font = ImageFont.load_default(size=px)
    else:
        regular, boldname, _ = FONT_FILES[key]
        path = _find_font_file(boldname) if bold else None
        if path is None:
            path = _find_font_file(regular)
        assert path is not None
        font = ImageFont.truetype(str(path), px, layout_engine=ImageFont.Layout.BASIC)
    _FONT_CACHE[cache_key] = font
    return font


# Helvetica advance widths (Adobe AFM, 1/1000 em) for ASCII 32..126.
_HELV_W = [
    278,
    278,
    355,
    556,
    556,
    889,
    667,
    191,
    333,
    333,
    389,
    584,
    278,
    333,
    278,
    278,
    556,
    556,
    556,
    556,
    556,
    556,
    556,
    556,
    556,
    556,
    278,
    278,
    584,
    584,
    584,
    556,
    1015,
    667,
    667,
    722,
    722,
    667,
    611,
    778,
    722,
    278,
    500,
    667,
    556,
    833,
    722,
    778,
    667,
    778,
    722,
    667,
    611,
    722,
    667,
    944,
    667,
    667,
    611,
    278,
    278,
    278,
    469,
    556,
    333,
    556,
    556,
    500,
    556,
    556,
    278,
    556,
    556,
    222,
    222,
    500,
    222,
    833,
    556,
    556,
    556,
    556,
    333,
    500,
    278,
    556,
    500,
    722,
    500,
    500,
    500,
    334,
    260,
    334,
    584,
]


def helvetica_width(text: str, size: float, bold: bool = False, mono: bool = False) -> float:
    if mono:
        return 0.6 * size * len(text)
    total = 0
    for ch in text:
        o = ord(ch)
        total += _HELV_W[o - 32] if 32 <= o <= 126 else 556
    return total * size / 1000.0 * (1.08 if bold else 1.0)


# --------------------------------------------------------------------------
# Drawing back ends (units: points, origin top-left, y downwards)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    size: float
    bold: bool = False
    role: str = "body"  # body | head | mono


class RasterBackend:
    """Draws on a grayscale PIL image of a US letter page."""

    def __init__(self, dpi: int, fonts: dict[str, str], ink: int = 0) -> None:
        self.dpi = dpi
        self.k = dpi / 72.0
        self.img = Image.new("L", (round(8.5 * dpi), round(11 * dpi)), 255)
        self.draw = ImageDraw.Draw(self.img)
        self.fonts = {role: resolve_font(key) for role, key in fonts.items()}
        self.ink = ink
        self.used: list[str] = []

    def _font(self, st: Style) -> FontT:
        key = self.fonts.get(st.role, self.fonts["body"])
        if key not in self.used:
            self.used.append(key)
        return load_font(key, st.bold, max(6, round(st.size * self.k)))

    def measure(self, text: str, st: Style) -> float:
        return float(self._font(st).getlength(text)) / self.k

    def metrics(self, st: Style) -> tuple[float, float]:
        font = self._font(st)
        if isinstance(font, ImageFont.FreeTypeFont):
            asc, desc = font.getmetrics()
            return asc / self.k, desc / self.k
        return st.size * 0.8, st.size * 0.25

    def text(self, x: float, y: float, s: str, st: Style) -> None:
        self.draw.text((x * self.k, y * self.k), s, font=self._font(st), fill=self.ink)

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float, gray: int) -> None:
        w = max(1, round(width * self.k))
        self.draw.line([(x0 * self.k, y0 * self.k), (x1 * self.k, y1 * self.k)], fill=gray, width=w)

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, width: float, gray: int, fill: int | None = None
    ) -> None:
        k = self.k
        w = max(1, round(width * k)) if width > 0 else 0
        self.draw.rectangle([x0 * k, y0 * k, x1 * k, y1 * k], outline=gray if w else None, fill=fill, width=w)


class PdfTextBackend:
    """Collects PDF content-stream operators using the standard Type1 fonts."""

    FONT_IDS: ClassVar[dict[tuple[str, bool], str]] = {
        ("body", False): "F1",
        ("body", True): "F2",
        ("mono", False): "F3",
        ("mono", True): "F4",
    }

    def __init__(self) -> None:
        self.ops: list[str] = []
        self.used: list[str] = []

    def _fid(self, st: Style) -> str:
        role = "mono" if st.role == "mono" else "body"
        name = "courier" if role == "mono" else "helvetica"
        if name not in self.used:
            self.used.append(name)
        return self.FONT_IDS[(role, st.bold)]

    def measure(self, text: str, st: Style) -> float:
        return helvetica_width(text, st.size, st.bold, st.role == "mono")

    def metrics(self, st: Style) -> tuple[float, float]:
        if st.role == "mono":
            return 0.629 * st.size, 0.157 * st.size
        return 0.718 * st.size, 0.207 * st.size

    def text(self, x: float, y: float, s: str, st: Style) -> None:
        fid = self._fid(st)
        base = PAGE_H_PT - (y + self.metrics(st)[0])
        esc = s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        self.ops.append(f"BT /{fid} {st.size:.2f} Tf {x:.2f} {base:.2f} Td ({esc}) Tj ET")

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float, gray: int) -> None:
        g = gray / 255.0
        self.ops.append(f"{width:.2f} w {g:.3f} G {x0:.2f} {PAGE_H_PT - y0:.2f} m {x1:.2f} {PAGE_H_PT - y1:.2f} l S")

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, width: float, gray: int, fill: int | None = None
    ) -> None:
        y = PAGE_H_PT - y1
        w, h = x1 - x0, y1 - y0
        if fill is not None:
            self.ops.append(f"{fill / 255.0:.3f} g {x0:.2f} {y:.2f} {w:.2f} {h:.2f} re f 0 g")
        if width > 0:
            self.ops.append(f"{width:.2f} w {gray / 255.0:.3f} G {x0:.2f} {y:.2f} {w:.2f} {h:.2f} re S")


Backend = RasterBackend | PdfTextBackend


# --------------------------------------------------------------------------
# Layout: flows record every drawn line of text, in reading order
# --------------------------------------------------------------------------


class Page:
    def __init__(self, backend: Backend, scale: float = 1.0, margin: float = MARGIN_PT) -> None:
        self.b = backend
        self.scale = scale
        self.left = margin
        self.right = PAGE_W_PT - margin
        self.top = margin
        self.bottom = PAGE_H_PT - margin
        self.overflow = False
        self.flow = Flow(self, self.left, self.right, self.top)

    def st(self, size: float, bold: bool = False, role: str = "body") -> Style:
        return Style(round(size * self.scale, 2), bold, role)

    def columns(self, fracs: Sequence[float] = (0.5, 0.5), gutter: float = 18.0) -> list[Flow]:
        f = self.flow
        avail = f.width - gutter * (len(fracs) - 1)
        cols, x = [], f.x0
        for fr in fracs:
            w = avail * fr / sum(fracs)
            cols.append(Flow(self, x, x + w, f.y))
            x += w + gutter
        return cols

    def join(self, cols: Sequence[Flow]) -> None:
        for c in cols:
            self.flow.lines.extend(c.lines)
        self.flow.y = max(c.y for c in cols)

    @property
    def text(self) -> str:
        return "\n".join(self.flow.lines)


class Flow:
    def __init__(self, page: Page, x0: float, x1: float, y: float) -> None:
        self.page = page
        self.b = page.b
        self.x0 = x0
        self.x1 = x1
        self.y = y
        self.lines: list[str] = []

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    def _check(self) -> None:
        if self.y > self.page.bottom:
            self.page.overflow = True

    def gap(self, pts: float) -> None:
        self.y += pts * self.page.scale

    def height(self, st: Style) -> float:
        a, d = self.b.metrics(st)
        return a + d

    def row(self, segs: Sequence[tuple[float, str, Style]], lead: float = 1.25) -> None:
        segs = [s for s in segs if s[1]]
        if not segs:
            return
        asc = max(self.b.metrics(st)[0] for _, _, st in segs)
        h = max(self.height(st) for _, _, st in segs)
        for i, (x, s, st) in enumerate(segs):
            w = self.b.measure(s, st)
            limit = segs[i + 1][0] - 2.0 if i + 1 < len(segs) else self.page.right + 2.0
            if x + w > limit:
                self.page.overflow = True
            self.b.text(x, self.y + asc - self.b.metrics(st)[0], s, st)
        self.lines.append(" ".join(s for _, s, _ in segs))
        self.y += h * lead
        self._check()

    def text(self, s: str, st: Style, indent: float = 0.0, lead: float = 1.25) -> None:
        self.row([(self.x0 + indent, s, st)], lead)

    def para(self, s: str, st: Style, indent: float = 0.0, hang: float = 0.0, lead: float = 1.25) -> None:
        """Greedy word wrap; continuation lines are indented by ``hang``."""
        cur = ""
        first = True
        for word in s.split():
            width = self.width - indent - (0.0 if first else hang)
            cand = f"{cur} {word}" if cur else word
            if cur and self.b.measure(cand, st) > width:
                self.text(cur, st, indent if first else indent + hang, lead)
                first = False
                cur = word
            else:
                cur = cand
        if cur:
            self.text(cur, st, indent if first else indent + hang, lead)

    def center(self, s: str, st: Style, lead: float = 1.25) -> None:
        w = self.b.measure(s, st)
        self.row([(self.x0 + (self.width - w) / 2, s, st)], lead)

    def right(self, s: str, st: Style, lead: float = 1.25) -> None:
        w = self.b.measure(s, st)
        self.row([(self.x1 - w, s, st)], lead)

    def rule(self, width: float = 0.8, gray: int = 0, before: float = 2.0, after: float = 6.0) -> None:
        self.gap(before)
        self.b.line(self.x0, self.y, self.x1, self.y, width, gray)
        self.gap(after)

    def heading(self, s: str, st: Style, kind: str = "plain", gray: int = 225) -> None:
        if kind == "bar":
            h = self.height(st)
            self.b.rect(self.x0, self.y - 2, self.x1, self.y + h + 2, 0, 0, fill=gray)
            self.row([(self.x0 + 4, s, st)], lead=1.0)
            self.gap(6)
        elif kind == "rule":
            self.row([(self.x0, s, st)], lead=1.05)
            self.b.line(self.x0, self.y, self.x1, self.y, 0.7, 0)
            self.gap(4)
        else:
            self.row([(self.x0, s, st)], lead=1.3)

    def kv_row(
        self,
        pairs: Sequence[tuple[str, str]],
        fracs: Sequence[float],
        lst: Style,
        vst: Style,
        underline: bool = False,
        lead: float = 1.45,
    ) -> None:
        segs: list[tuple[float, str, Style]] = []
        starts = [self.x0 + self.width * f for f in fracs]
        a, d = self.b.metrics(vst)
        for i, (label, value) in enumerate(pairs):
            x = starts[i]
            segs.append((x, label, lst))
            vx = x + self.b.measure(label, lst) + 5
            if value:
                segs.append((vx, value, vst))
            if underline:
                end = (starts[i + 1] - 10) if i + 1 < len(starts) else self.x1
                yl = self.y + a + d * 0.6
                self.b.line(vx - 2, yl, end, yl, 0.5, 90)
        self.row(segs, lead)

    def boxes(
        self, cells: Sequence[tuple[str, str, float]], lst: Style, vst: Style, gray: int = 100, pad: float = 3.0
    ) -> None:
        la, ld = self.b.metrics(lst)
        va, vd = self.b.metrics(vst)
        pad *= self.page.scale
        h = pad + la + ld + 3 + va + vd + pad
        total = sum(c[2] for c in cells)
        x = self.x0
        labels: list[str] = []
        values: list[str] = []
        xs = []
        for _label, _value, fr in cells:
            w = self.width * fr / total
            xs.append((x, w))
            self.b.rect(x, self.y, x + w, self.y + h, 0.7, gray)
            x += w
        # all labels first, then all values: the drawing order is the reading order
        for idx, yy, st in ((0, self.y + pad, lst), (1, self.y + pad + la + ld + 3, vst)):
            for (bx, w), cell in zip(xs, cells, strict=True):
                s = cell[0] if idx == 0 else cell[1]
                if s:
                    if self.b.measure(s, st) > w - 2 * pad:
                        self.page.overflow = True
                    self.b.text(bx + pad, yy, s, st)
                    (labels if idx == 0 else values).append(s)
        if labels:
            self.lines.append(" ".join(labels))
        if values:
            self.lines.append(" ".join(values))
        self.y += h
        self._check()

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        fracs: Sequence[float],
        hst: Style,
        cst: Style,
        grid: bool = True,
        gray: int = 110,
        shade: int | None = 232,
    ) -> None:
        pad = 3.0 * self.page.scale
        total = sum(fracs)
        xs = [self.x0]
        for fr in fracs:
            xs.append(xs[-1] + self.width * fr / total)
        for ri, cells in enumerate([list(header), *[list(r) for r in rows]]):
            st = hst if ri == 0 else cst
            a, d = self.b.metrics(st)
            h = pad + a + d + pad
            if ri == 0 and shade is not None:
                self.b.rect(xs[0], self.y, xs[-1], self.y + h, 0, 0, fill=shade)
            if grid:
                for ci in range(len(cells)):
                    self.b.rect(xs[ci], self.y, xs[ci + 1], self.y + h, 0.6, gray)
            for ci, s in enumerate(cells):
                if s:
                    if self.b.measure(s, st) > xs[ci + 1] - xs[ci] - 2 * pad:
                        self.page.overflow = True
                    self.b.text(xs[ci] + pad, self.y + pad, s, st)
            joined = " ".join(c for c in cells if c)
            if joined:
                self.lines.append(joined)
            self.y += h
            if not grid and ri == 0:
                self.b.line(xs[0], self.y, xs[-1], self.y, 0.8, 0)
        if not grid:
            self.b.line(xs[0], self.y, xs[-1], self.y, 0.5, gray)
        self.gap(4)
        self._check()


# --------------------------------------------------------------------------
# Clinical vocabularies (all codes ICD-10-CM / CPT)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cond:
    key: str
    code: str
    forms: tuple[str, ...]
    sex: str = ""  # restrict to "M"/"F"


CONDITIONS = [
    Cond("htn", "I10", ("hypertension", "HTN", "essential hypertension", "high blood pressure")),
    Cond(
        "t2dm",
        "E11.9",
        ("type 2 diabetes mellitus", "T2DM", "type 2 diabetes", "DM type 2", "diabetes mellitus, type II"),
    ),
    Cond("hld", "E78.5", ("hyperlipidemia", "HLD", "dyslipidemia")),
    Cond("chf", "I50.9", ("CHF", "congestive heart failure", "heart failure")),
    Cond("copd", "J44.9", ("COPD", "chronic obstructive pulmonary disease")),
    Cond("cad", "I25.10", ("CAD", "coronary artery disease", "atherosclerotic heart disease")),
    Cond("asthma", "J45.909", ("asthma", "reactive airway disease")),
    Cond("hypothyroid", "E03.9", ("hypothyroidism", "hypothyroid", "underactive thyroid")),
    Cond("gerd", "K21.9", ("GERD", "gastroesophageal reflux disease", "acid reflux")),
    Cond("afib", "I48.91", ("atrial fibrillation", "AFib", "A-fib")),
    Cond("oa", "M19.90", ("osteoarthritis", "OA", "degenerative joint disease", "DJD")),
    Cond("depression", "F32.A", ("depression", "depressive disorder")),
    Cond("ckd3", "N18.30", ("CKD stage 3", "chronic kidney disease, stage 3", "CKD 3")),
    Cond("migraine", "G43.909", ("migraine", "migraine headaches", "migraines")),
    Cond("obesity", "E66.9", ("obesity",)),
    Cond("anxiety", "F41.9", ("anxiety", "anxiety disorder")),
    Cond("gout", "M10.9", ("gout",)),
    Cond("osa", "G47.33", ("obstructive sleep apnea", "OSA")),
    Cond("osteoporosis", "M81.0", ("osteoporosis",), sex="F"),
    Cond("bph", "N40.0", ("BPH", "benign prostatic hyperplasia"), sex="M"),
    Cond("anemia", "D64.9", ("anemia",)),
    Cond("rhinitis", "J30.9", ("allergic rhinitis", "seasonal allergies")),
    Cond("lbp", "M54.50", ("low back pain", "chronic low back pain")),
    Cond("vitd", "E55.9", ("vitamin D deficiency",)),
]
COND_BY_KEY = {c.key: c for c in CONDITIONS}

# Findings that appear negated in the text: (text, code)
NEGATABLE = [
    ("chest pain", "R07.9"),
    ("shortness of breath", "R06.02"),
    ("diabetes", "E11.9"),
    ("COPD", "J44.9"),
    ("pneumonia", "J18.9"),
    ("fever", "R50.9"),
    ("DVT", "I82.409"),
    ("stroke", "I63.9"),
    ("palpitations", "R00.2"),
    ("syncope", "R55"),
    ("hematochezia", "K92.1"),
    ("dysuria", "R30.0"),
    ("asthma", "J45.909"),
    ("heart failure", "I50.9"),
]
NEG_CONFLICT = {"diabetes": "t2dm", "COPD": "copd", "asthma": "asthma", "heart failure": "chf"}

FAMILY_HISTORY = [
    "mother had breast cancer",
    "father had a myocardial infarction at age 58",
    "brother with type 1 diabetes",
    "father died of colon cancer",
    "sister has lupus",
    "maternal grandmother had Alzheimer dementia",
    "mother with hypertension",
    "father had prostate cancer",
    "paternal uncle with stroke at 70",
]


@dataclass(frozen=True)
class Med:
    name: str
    dose: str
    route: str
    freq: str
    alias: tuple[str, ...] = ()


MEDS_FOR: dict[str, list[Med]] = {
    "htn": [
        Med("lisinopril", "10 mg", "PO", "daily"),
        Med("lisinopril", "20 mg", "PO", "daily"),
        Med("amlodipine", "5 mg", "PO", "daily"),
        Med("losartan", "50 mg", "PO", "daily"),
        Med("hydrochlorothiazide", "25 mg", "PO", "daily", ("HCTZ",)),
    ],
    "t2dm": [
        Med("metformin", "500 mg", "PO", "BID"),
        Med("metformin", "1000 mg", "PO", "BID"),
        Med("glipizide", "5 mg", "PO", "daily"),
        Med("insulin glargine", "20 units", "SC", "QHS"),
    ],
    "hld": [
        Med("atorvastatin", "40 mg", "PO", "QHS"),
        Med("atorvastatin", "20 mg", "PO", "QHS"),
        Med("simvastatin", "20 mg", "PO", "QHS"),
        Med("rosuvastatin", "10 mg", "PO", "daily"),
    ],
    "chf": [Med("furosemide", "40 mg", "PO", "daily"), Med("carvedilol", "6.25 mg", "PO", "BID")],
    "copd": [Med("tiotropium", "18 mcg", "INH", "daily"), Med("albuterol", "90 mcg", "INH", "Q4-6H PRN")],
    "cad": [Med("aspirin", "81 mg", "PO", "daily", ("ASA",)), Med("clopidogrel", "75 mg", "PO", "daily")],
    "asthma": [Med("albuterol", "90 mcg", "INH", "Q4-6H PRN"), Med("fluticasone", "110 mcg", "INH", "BID")],
    "hypothyroid": [
        Med("levothyroxine", "50 mcg", "PO", "daily"),
        Med("levothyroxine", "75 mcg", "PO", "daily"),
        Med("levothyroxine", "100 mcg", "PO", "daily"),
    ],
    "gerd": [Med("omeprazole", "20 mg", "PO", "daily"), Med("pantoprazole", "40 mg", "PO", "daily")],
    "afib": [
        Med("apixaban", "5 mg", "PO", "BID"),
        Med("metoprolol tartrate", "25 mg", "PO", "BID"),
        Med("warfarin", "5 mg", "PO", "daily"),
    ],
    "oa": [Med("meloxicam", "15 mg", "PO", "daily"), Med("acetaminophen", "500 mg", "PO", "Q6H PRN")],
    "depression": [Med("sertraline", "50 mg", "PO", "daily"), Med("escitalopram", "10 mg", "PO", "daily")],
    "migraine": [Med("sumatriptan", "50 mg", "PO", "PRN"), Med("topiramate", "25 mg", "PO", "BID")],
    "anxiety": [Med("buspirone", "10 mg", "PO", "TID")],
    "gout": [Med("allopurinol", "100 mg", "PO", "daily")],
    "osteoporosis": [Med("alendronate", "70 mg", "PO", "weekly")],
    "bph": [Med("tamsulosin", "0.4 mg", "PO", "QHS")],
    "anemia": [Med("ferrous sulfate", "325 mg", "PO", "daily")],
    "rhinitis": [Med("cetirizine", "10 mg", "PO", "daily")],
    "lbp": [Med("cyclobenzaprine", "10 mg", "PO", "TID PRN")],
    "vitd": [Med("cholecalciferol", "2000 units", "PO", "daily", ("vitamin D3",))],
}
ROUTE_TEXT = {
    "PO": ["PO", "PO", "by mouth", "oral", "p.o."],
    "SC": ["SC", "subcut", "SQ", "subcutaneously"],
    "INH": ["INH", "inhaled", "via inhaler"],
    "SL": ["SL", "sublingual"],
}
FREQ_TEXT = {
    "daily": ["daily", "once daily", "QD", "every day", "once a day"],
    "BID": ["BID", "b.i.d.", "twice daily", "twice a day"],
    "TID": ["TID", "t.i.d.", "three times daily"],
    "QHS": ["QHS", "at bedtime", "nightly", "q.h.s."],
    "weekly": ["weekly", "once weekly", "every week"],
    "PRN": ["PRN", "as needed"],
    "Q4-6H PRN": ["Q4-6H PRN", "every 4-6 hours as needed", "q4-6h prn"],
    "Q6H PRN": ["Q6H PRN", "every 6 hours as needed"],
    "TID PRN": ["TID PRN", "three times daily as needed"],
}

ALLERGENS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    # substance, display forms, reactions
    ("penicillin", ("penicillin", "Penicillin", "PCN"), ("hives", "rash", "anaphylaxis")),
    ("sulfa drugs", ("sulfa drugs", "Sulfa", "sulfonamides"), ("rash", "hives")),
    ("codeine", ("codeine", "Codeine"), ("nausea", "vomiting")),
    ("latex", ("latex", "Latex"), ("contact dermatitis", "itching")),
    ("shellfish", ("shellfish", "Shellfish"), ("anaphylaxis", "throat swelling")),
    ("amoxicillin", ("amoxicillin", "Amoxicillin"), ("rash",)),
    ("morphine", ("morphine", "Morphine"), ("itching", "nausea")),
    ("iodinated contrast", ("iodinated contrast", "IV contrast"), ("hives",)),
    ("peanuts", ("peanuts", "Peanut"), ("anaphylaxis",)),
    ("erythromycin", ("erythromycin", "Erythromycin"), ("GI upset",)),
]
NKDA_TEXT = ["NKDA", "No known allergies", "No known drug allergies", "None known"]


@dataclass(frozen=True)
class Proc:
    key: str
    cpt: str
    forms: tuple[str, ...]
    sex: str = ""
    needs: str = ""  # condition key that makes this plausible


PAST_PROCS = [
    Proc("chole", "47562", ("laparoscopic cholecystectomy", "lap cholecystectomy")),
    Proc("appy", "44970", ("laparoscopic appendectomy", "appendectomy, laparoscopic")),
    Proc("cataract", "66984", ("cataract extraction with IOL, right eye", "right cataract surgery with lens implant")),
    Proc("tka", "27447", ("total knee arthroplasty", "total knee replacement", "TKA")),
    Proc("scope", "29881", ("knee arthroscopy with meniscectomy", "arthroscopic partial meniscectomy")),
    Proc("tonsil", "42826", ("tonsillectomy",)),
    Proc("csection", "59514", ("cesarean delivery", "C-section"), sex="F"),
    Proc("hernia", "49505", ("inguinal hernia repair", "repair of inguinal hernia")),
    Proc("pci", "92928", ("coronary stent placement", "PCI with stent"), needs="cad"),
    Proc("echo", "93306", ("transthoracic echocardiogram", "echocardiogram", "TTE")),
    Proc("mammo", "77067", ("screening mammogram", "bilateral screening mammography"), sex="F"),
]


@dataclass(frozen=True)
class NoteProc:
    proc: Proc
    indication: tuple[str, str] | None  # (text, ICD-10) recorded as a diagnosis
    indication_plain: str
    operator: str
    findings: str
    impression: str
    anesthesia: str


NOTE_PROCS = [
    NoteProc(
        Proc("colonoscopy", "45378", ("screening colonoscopy", "colonoscopy, screening", "colonoscopy")),
        None,
        "average-risk colorectal cancer screening",
        "Endoscopist",
        "The bowel preparation was good. The colonoscope was advanced to the cecum, identified by the "
        "appendiceal orifice and ileocecal valve. The mucosa appeared normal throughout the colon. "
        "Retroflexion in the rectum was unremarkable.",
        "Normal screening colonoscopy. Repeat in 10 years.",
        "monitored anesthesia care with propofol",
    ),
    NoteProc(
        Proc("egd", "43235", ("upper endoscopy (EGD)", "esophagogastroduodenoscopy", "EGD")),
        ("dyspepsia", "R10.13"),
        "",
        "Endoscopist",
        "The endoscope was passed under direct vision to the second part of the duodenum. The esophagus, "
        "stomach and duodenum appeared normal. No ulcers or masses were seen.",
        "Normal upper endoscopy.",
        "moderate sedation",
    ),
    NoteProc(
        Proc("knee_inj", "20610", ("right knee joint injection", "intra-articular steroid injection, right knee")),
        ("osteoarthritis of the right knee", "M17.11"),
        "",
        "Performed by",
        "The right knee was prepped with chlorhexidine. Using a lateral approach, 40 mg triamcinolone with "
        "3 mL of 1% lidocaine was injected into the joint space. The patient tolerated it well.",
        "Successful right knee injection.",
        "local",
    ),
    NoteProc(
        Proc("cysto", "52000", ("cystoscopy", "diagnostic cystoscopy")),
        ("microscopic hematuria", "R31.29"),
        "",
        "Urologist",
        "The flexible cystoscope was introduced per urethra. The bladder mucosa was inspected in its "
        "entirety. Both ureteral orifices were normal. No stones or tumors were identified.",
        "Normal cystoscopy.",
        "topical lidocaine jelly",
    ),
    NoteProc(
        Proc("ctr", "64721", ("right carpal tunnel release", "open carpal tunnel release, right")),
        ("carpal tunnel syndrome, right wrist", "G56.01"),
        "",
        "Surgeon",
        "A longitudinal incision was made in the palm. The transverse carpal ligament was divided under "
        "direct vision and the median nerve was decompressed. The wound was closed with nylon sutures.",
        "Uncomplicated right carpal tunnel release.",
        "local with sedation",
    ),
]

# which clinic specialties plausibly write which procedure note (others: any)
PROC_SPECIALTIES = {
    "colonoscopy": ("Gastroenterology",),
    "egd": ("Gastroenterology",),
    "knee_inj": ("Orthopedics", "Family Medicine", "Internal Medicine"),
    "ctr": ("Orthopedics",),
}

PAYERS = [
    "Medicare",
    "Medicaid",
    "Aetna",
    "Blue Cross Blue Shield",
    "UnitedHealthcare",
    "Cigna",
    "Humana",
    "Anthem",
    "Medical Mutual",
    "CareSource",
]
STATES = ["OH", "OH", "OH", "PA", "MI", "IN", "NY", "KY", "WV", "IL", "WI", "NC"]
AREA_CODES = {
    "OH": ["440", "216", "330", "614", "419"],
    "PA": ["412", "814", "724"],
    "MI": ["313", "616", "734"],
    "IN": ["317", "260"],
    "NY": ["716", "585"],
    "KY": ["502", "859"],
    "WV": ["304"],
    "IL": ["312", "217"],
    "WI": ["414", "608"],
    "NC": ["919", "704"],
}
SPECIALTIES = [
    ("Cardiology", "Cardiology Associates"),
    ("Gastroenterology", "Digestive Health Center"),
    ("Endocrinology", "Endocrine & Diabetes Clinic"),
    ("Pulmonology", "Lung & Sleep Specialists"),
    ("Nephrology", "Kidney Care Associates"),
    ("Internal Medicine", "Internal Medicine Associates"),
    ("Family Medicine", "Family Medicine"),
    ("Orthopedics", "Orthopedic & Sports Medicine"),
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
MON = [m[:3] for m in MONTHS]
DATE_STYLES = ["mdy", "mdy", "mdy_short", "long", "dmy_abbr", "iso", "abbr", "dmy_space"]


def fmt_date(d: date, style: str) -> str:
    if style == "mdy":
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == "mdy_short":
        return f"{d.month}/{d.day}/{d.year}"
    if style == "long":
        return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"
    if style == "dmy_abbr":
        return f"{d.day}-{MON[d.month - 1]}-{d.year % 100:02d}"
    if style == "abbr":
        return f"{MON[d.month - 1]} {d.day}, {d.year}"
    if style == "dmy_space":
        return f"{d.day:02d} {MON[d.month - 1]} {d.year}"
    return d.isoformat()


def fmt_phone(digits: str, style: int) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}"][style % 4]


def asciify(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --------------------------------------------------------------------------
# Chart context (one invented patient and everything around them)
# --------------------------------------------------------------------------


@dataclass
class Ctx:
    idx: int
    given: str
    middle: str | None
    family: str
    sex: str
    birth: date
    chart_number: str
    address_line: str
    city: str
    state: str
    postal_code: str
    phone: str
    payer: str
    member_id: str
    group_no: str
    clinic: str
    clinic_addr: str
    clinic_city: str
    clinic_state: str
    clinic_zip: str
    clinic_phone: str
    clinic_fax: str
    specialty: str
    provider: tuple[str, str]
    referrer: tuple[str, str]
    pcp: tuple[str, str]
    ec_name: str
    ec_rel: str
    ec_phone: str
    conds: list[Cond]
    meds: list[Med]
    allergies: list[tuple[str, str, str]]  # substance, display, reaction
    psh: list[tuple[Proc, date]]
    note_proc: NoteProc
    proc_date: date
    negs: list[tuple[str, str]]
    fhx: list[str]
    visit_date: date
    consult_date: date
    letter_date: date
    reg_date: date
    date_pref: str
    phone_style: int

    def dr(self, who: tuple[str, str]) -> str:
        return f"Dr. {who[0]} {who[1]}"

    def dr_text(self, who: tuple[str, str], rng: random.Random) -> str:
        f, last = who
        return rng.choice([f"Dr. {f} {last}", f"{f} {last}, MD", f"{f} {last}, M.D.", f"Dr. {f} {last}"])

    @property
    def mi(self) -> str:
        return self.middle[0] if self.middle else ""

    def name(self, style: str) -> str:
        g, m, f = self.given, self.middle, self.family
        mi = f" {m[0]}." if m else ""
        if style == "first_last":
            return f"{g}{mi} {f}"
        if style == "full":
            return f"{g} {m} {f}" if m else f"{g} {f}"
        if style == "LAST_FIRST":
            return f"{f.upper()}, {g.upper()}" + (f" {m[0]}" if m else "")
        return f"{f}, {g}{mi}"  # last_first

    @property
    def title(self) -> str:
        return "Mr." if self.sex == "M" else "Ms."

    @property
    def he(self) -> str:
        return "he" if self.sex == "M" else "she"

    @property
    def his(self) -> str:
        return "his" if self.sex == "M" else "her"

    def sex_text(self, rng: random.Random) -> str:
        full = "Male" if self.sex == "M" else "Female"
        return rng.choice([self.sex, full, full.upper()])

    def ph(self, digits: str, rng: random.Random | None = None) -> str:
        return fmt_phone(digits, rng.randrange(4) if rng else self.phone_style)


def _phone(rng: random.Random, state: str) -> str:
    return f"{rng.choice(AREA_CODES[state])}55501{rng.randrange(100):02d}"


def make_ctx(seed: int, idx: int) -> Ctx:
    from faker import Faker

    rng = random.Random(seed * 1_000_003 + idx * 7919 + 11)
    fake = Faker("en_US")
    fake.seed_instance(seed * 10_007 + idx)

    sex = rng.choice("FM")
    given = asciify(fake.first_name_female() if sex == "F" else fake.first_name_male())
    family = asciify(fake.last_name())
    r = rng.random()
    middle: str | None
    if r < 0.3:
        middle = None
    elif r < 0.6:
        middle = asciify(fake.first_name_female() if sex == "F" else fake.first_name_male())[0]
    else:
        middle = asciify(fake.first_name_female() if sex == "F" else fake.first_name_male())
    birth = date(1938, 1, 1) + timedelta(days=rng.randrange(365 * 62))
    clinic_state = rng.choice(STATES)
    state = clinic_state if rng.random() < 0.85 else rng.choice(STATES)
    mrn_style = rng.randrange(4)
    chart_number = [
        f"{rng.randrange(10**8):08d}",
        f"MR{rng.randrange(100000, 999999)}",
        f"{rng.choice('ABCHK')}{rng.randrange(10**6, 10**7)}",
        f"{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
    ][mrn_style]
    payer = rng.choice(PAYERS)
    if payer == "Medicare":
        alnum = "ACDEFGHJKMNPQRTUVWXY"
        member_id = (
            f"{rng.randrange(1, 10)}{rng.choice(alnum)}{rng.choice(alnum)}{rng.randrange(10)}"
            f"-{rng.choice(alnum)}{rng.choice(alnum)}{rng.randrange(10)}"
            f"-{rng.choice(alnum)}{rng.choice(alnum)}{rng.randrange(10)}{rng.randrange(10)}"
        )
    else:
        member_id = f"{rng.choice(['W', 'XJH', 'U', 'ZGP', 'M', ''])}{rng.randrange(10**8, 10**9)}"
    specialty, group = rng.choice(SPECIALTIES)
    clinic = rng.choice(
        [
            f"{asciify(fake.last_name())} {group}",
            f"{asciify(fake.city())} {group}",
            f"Lakeshore {group}",
            f"{asciify(fake.last_name())} & {asciify(fake.last_name())} {group}",
        ]
    )

    def doc() -> tuple[str, str]:
        return (asciify(fake.first_name()), asciify(fake.last_name()))

    provider, referrer = doc(), doc()
    pcp = referrer if rng.random() < 0.6 else doc()

    ec_rel = rng.choice(["Spouse", "Daughter", "Son", "Sister", "Brother", "Friend"])
    ec_female = {"Daughter": True, "Sister": True, "Son": False, "Brother": False, "Spouse": sex == "M"}.get(
        ec_rel, rng.random() < 0.5
    )
    ec_first = fake.first_name_female() if ec_female else fake.first_name_male()
    ec_name = f"{asciify(ec_first)} {family if ec_rel != 'Friend' else asciify(fake.last_name())}"

    # clinical profile
    pool = [c for c in CONDITIONS if not c.sex or c.sex == sex]
    conds = rng.sample(pool, rng.randint(2, 5))
    meds: list[Med] = []
    for c in conds:
        opts = MEDS_FOR.get(c.key, [])
        if opts and rng.random() < 0.9:
            m = rng.choice(opts)
            if all(m.name != x.name for x in meds):
                meds.append(m)
    if not meds:
        meds.append(Med("multivitamin", "1 tablet", "PO", "daily"))
    allergies: list[tuple[str, str, str]] = []
    if rng.random() < 0.65:
        for sub, forms, reactions in rng.sample(ALLERGENS, rng.randint(1, 3)):
            allergies.append((sub, rng.choice(forms), rng.choice(reactions)))
    visit = date(2016, 1, 4) + timedelta(days=rng.randrange(365 * 8))
    psh: list[tuple[Proc, date]] = []
    cand = [p for p in PAST_PROCS if (not p.sex or p.sex == sex) and (not p.needs or p.needs in {c.key for c in conds})]
    for p in rng.sample(cand, rng.randint(0, 3)):
        lo = max(birth + timedelta(days=365 * 18), date(1992, 1, 1))
        span = max(30, (visit - lo).days - 30)
        psh.append((p, lo + timedelta(days=rng.randrange(span))))
    psh.sort(key=lambda t: t[1])
    fitting = [n for n in NOTE_PROCS if specialty in PROC_SPECIALTIES.get(n.proc.key, ())]
    note_proc = rng.choice(fitting or NOTE_PROCS)
    cond_keys = {c.key for c in conds}
    negs = [n for n in NEGATABLE if NEG_CONFLICT.get(n[0]) not in cond_keys]
    negs = rng.sample(negs, rng.randint(2, 4))
    fhx = rng.sample(FAMILY_HISTORY, rng.randint(1, 2))

    return Ctx(
        idx=idx,
        given=given,
        middle=middle,
        family=family,
        sex=sex,
        birth=birth,
        chart_number=chart_number,
        address_line=asciify(fake.street_address()),
        city=asciify(fake.city()),
        state=state,
        postal_code=str(fake.zipcode_in_state(state)),
        phone=_phone(rng, state),
        payer=payer,
        member_id=member_id,
        group_no=f"{rng.randrange(10000, 99999)}",
        clinic=clinic,
        clinic_addr=asciify(fake.street_address()),
        clinic_city=asciify(fake.city()),
        clinic_state=clinic_state,
        clinic_zip=str(fake.zipcode_in_state(clinic_state)),
        clinic_phone=_phone(rng, clinic_state),
        clinic_fax=_phone(rng, clinic_state),
        specialty=specialty,
        provider=provider,
        referrer=referrer,
        pcp=pcp,
        ec_name=ec_name,
        ec_rel=ec_rel,
        ec_phone=_phone(rng, state),
        conds=conds,
        meds=meds,
        allergies=allergies,
        psh=psh,
        note_proc=note_proc,
        proc_date=visit + timedelta(days=rng.randint(7, 60)),
        negs=negs,
        fhx=fhx,
        visit_date=visit,
        consult_date=visit + timedelta(days=rng.randint(3, 40)),
        letter_date=visit + timedelta(days=rng.randint(41, 50)),
        reg_date=visit - timedelta(days=rng.randint(0, 400)),
        date_pref=rng.choice(DATE_STYLES),
        phone_style=rng.randrange(4),
    )


# --------------------------------------------------------------------------
# What a page mentions (becomes truth)
# --------------------------------------------------------------------------


@dataclass
class Mentions:
    dx: list[tuple[str, str, str, bool]] = field(default_factory=list)  # key, text, code, negated
    meds: list[Med] = field(default_factory=list)
    allergies: list[tuple[str, str]] = field(default_factory=list)
    procs: list[tuple[str, str, date, str]] = field(default_factory=list)
    encounters: list[tuple[date, str, str]] = field(default_factory=list)


class Writer:
    """Text helpers that produce varied wording and record what was mentioned."""

    def __init__(self, ctx: Ctx, rng: random.Random) -> None:
        self.ctx = ctx
        self.rng = rng
        self.m = Mentions()
        self.date_style = ctx.date_pref if rng.random() < 0.6 else rng.choice(DATE_STYLES)

    def d(self, x: date, style: str | None = None) -> str:
        return fmt_date(x, style or self.date_style)

    def cond(self, c: Cond, cap: bool = False) -> str:
        t = self.rng.choice(c.forms)
        self.m.dx.append((c.key, t, c.code, False))
        return t[0].upper() + t[1:] if cap and not t[:2].isupper() else t

    def extra_dx(self, text: str, code: str) -> str:
        self.m.dx.append((f"x:{text}", text, code, False))
        return text

    def neg(self, text: str, code: str) -> None:
        self.m.dx.append((f"neg:{text}", text, code, True))

    def med_name(self, m: Med) -> str:
        rng = self.rng
        name = rng.choice([m.name, m.name, m.name.capitalize(), m.name.upper(), *m.alias])
        return name

    def dose(self, m: Med) -> str:
        num, unit = m.dose.split(" ", 1)
        return self.rng.choice([f"{num} {unit}", f"{num} {unit}", f"{num}{unit}", f"{num} {unit.upper()}"])

    def route(self, m: Med) -> str:
        return self.rng.choice(ROUTE_TEXT[m.route])

    def freq(self, m: Med) -> str:
        return self.rng.choice(FREQ_TEXT[m.freq])

    def sig(self, m: Med) -> str:
        self.m.meds.append(m)
        return f"{self.med_name(m)} {self.dose(m)} {self.route(m)} {self.freq(m)}"

    def med_row(self, m: Med) -> list[str]:
        self.m.meds.append(m)
        return [self.med_name(m), self.dose(m), self.route(m), self.freq(m)]

    def allergy(self, a: tuple[str, str, str]) -> str:
        sub, disp, reac = a
        self.m.allergies.append((sub, reac))
        return self.rng.choice([f"{disp} - {reac}", f"{disp} ({reac})", f"{disp}: {reac}"])

    def allergy_line(self) -> str:
        if not self.ctx.allergies:
            return self.rng.choice(NKDA_TEXT)
        return "; ".join(self.allergy(a) for a in self.ctx.allergies)

    def proc(self, p: Proc, when: date) -> str:
        t = self.rng.choice(p.forms)
        self.m.procs.append((p.key, t, when, f"{p.cpt} (CPT)"))
        return t

    def negation_sentences(self, n: int) -> list[str]:
        ctx, rng = self.ctx, self.rng
        items = ctx.negs[:n]
        out: list[str] = []
        i = 0
        while i < len(items):
            text, code = items[i]
            form = rng.randrange(5)
            if form == 0 and i + 1 < len(items):
                t2, c2 = items[i + 1]
                self.neg(text, code)
                self.neg(t2, c2)
                out.append(f"{ctx.he.capitalize()} denies {text} and {t2}.")
                i += 2
                continue
            self.neg(text, code)
            out.append(
                [
                    f"{ctx.he.capitalize()} denies {text}.",
                    f"No history of {text}.",
                    f"Negative for {text}.",
                    f"{text[0].upper() + text[1:]} was ruled out.",
                    f"No evidence of {text}.",
                ][form]
            )
            i += 1
        return out

    def fhx_sentence(self) -> str:
        items = self.ctx.fhx
        s = "; ".join(items)
        return s[0].upper() + s[1:] + "."

    def hpi(self, when: date) -> str:
        ctx, rng = self.ctx, self.rng
        age = age_on(ctx.birth, when)
        conds = [self.cond(c) for c in ctx.conds[: rng.randint(1, min(3, len(ctx.conds)))]]
        hx = conds[0] if len(conds) == 1 else ", ".join(conds[:-1]) + " and " + conds[-1]
        reason = rng.choice(
            [
                "routine follow-up",
                "a medication refill",
                "an annual physical",
                "follow-up of chronic conditions",
                "evaluation of fatigue",
            ]
        )
        man = "man" if ctx.sex == "M" else "woman"
        s = f"{ctx.given} is a {age}-year-old {man} with a history of {hx} who presents for {reason}. "
        s += rng.choice(
            [
                f"{ctx.he.capitalize()} reports good adherence to medications.",
                f"{ctx.he.capitalize()} has been feeling well overall.",
                "Home readings have been stable.",
            ]
        )
        return s

    def vitals(self) -> str:
        rng = self.rng
        return (
            f"BP {rng.randint(112, 152)}/{rng.randint(68, 94)}, HR {rng.randint(58, 96)}, "
            f"Temp {rng.choice(['97.8', '98.1', '98.4', '98.6'])} F, Wt {rng.randint(118, 260)} lb, "
            f"SpO2 {rng.randint(93, 99)}%"
        )

    def plan_for(self, c: Cond) -> str:
        return self.rng.choice(
            [
                "Stable. Continue current regimen.",
                "Continue current medications; recheck labs in 3 months.",
                "Reviewed lifestyle measures. Follow up in 6 months.",
                "Well controlled. No changes today.",
                "Discussed goals of care; will reassess at next visit.",
            ]
        )


# --------------------------------------------------------------------------
# Page renderers.  Template letters are unique across kinds:
#   face A-D, progress E-G, problems H-I, meds J-L, procedure M-N, letter O-P
# --------------------------------------------------------------------------

KIND_TEMPLATES = {
    "face": "ABCD",
    "progress": "EFG",
    "problems": "HI",
    "meds": "JKL",
    "procedure": "MN",
    "letter": "OP",
}
DOB_LABELS = ["DOB", "D.O.B.", "Date of Birth", "Birthdate", "Birth Date"]
SEX_LABELS = ["Sex", "Gender"]
MRN_LABELS = ["Chart #", "MRN", "Record No.", "Medical Record #", "Chart No."]
PHONE_LABELS = ["Phone", "Home Phone", "Tel", "Telephone"]
INS_LABELS = ["Insurance", "Primary Insurance", "Payer", "Insurance Carrier"]
MEMBER_LABELS = ["Member ID", "Policy #", "Subscriber ID", "ID #"]


def letterhead(pg: Page, w: Writer, style: int) -> None:
    ctx, f = w.ctx, pg.flow
    addr = f"{ctx.clinic_addr}, {ctx.clinic_city}, {ctx.clinic_state} {ctx.clinic_zip}"
    tel = f"Phone {ctx.ph(ctx.clinic_phone, w.rng)}  Fax {ctx.ph(ctx.clinic_fax, w.rng)}"
    if style == 0:
        f.center(ctx.clinic.upper(), pg.st(15, True, "head"), lead=1.2)
        f.center(addr, pg.st(9))
        f.center(tel, pg.st(9))
        f.rule(1.2, 0, 2, 10)
    elif style == 1:
        f.text(ctx.clinic, pg.st(16, True, "head"), lead=1.15)
        f.text(addr, pg.st(9))
        f.text(tel, pg.st(9))
        f.rule(0.8, 60, 2, 10)
    else:
        a = pg.st(13, True, "head")
        b = pg.st(8.5)
        y0 = f.y
        f.text(ctx.clinic, a)
        f.text(f"{ctx.specialty}", pg.st(9.5))
        right_lines = [ctx.clinic_addr, f"{ctx.clinic_city}, {ctx.clinic_state} {ctx.clinic_zip}", tel]
        yy = y0
        for s in right_lines:
            x = f.x1 - pg.b.measure(s, b)
            pg.b.text(x, yy, s, b)
            f.lines.append(s)
            yy += f.height(b) * 1.25
        f.y = max(f.y, yy)
        f.rule(0.8, 0, 2, 10)


def banner(pg: Page, w: Writer, style: int) -> None:
    """Patient identification block at the top of clinical pages."""
    ctx, rng, f = w.ctx, w.rng, pg.flow
    lst, vst = pg.st(9.5, True), pg.st(9.5)
    dob_l, mrn_l = rng.choice(DOB_LABELS), rng.choice(MRN_LABELS)
    if style == 0:
        f.kv_row(
            [
                ("Patient:", ctx.name(rng.choice(["last_first", "LAST_FIRST"]))),
                (f"{dob_l}:", w.d(ctx.birth)),
                (f"{mrn_l}:", ctx.chart_number),
            ],
            [0, 0.45, 0.72],
            lst,
            vst,
        )
    elif style == 1:
        f.kv_row([("Name:", ctx.name("first_last"))], [0], lst, vst, lead=1.3)
        f.kv_row(
            [
                (f"{dob_l}:", w.d(ctx.birth)),
                (f"{rng.choice(SEX_LABELS)}:", ctx.sex_text(rng)),
                (f"{mrn_l}:", ctx.chart_number),
            ],
            [0, 0.4, 0.65],
            lst,
            vst,
        )
    else:
        f.boxes(
            [
                ("PATIENT NAME", ctx.name("LAST_FIRST"), 2.2),
                (dob_l.upper(), w.d(ctx.birth), 1.2),
                (mrn_l.upper(), ctx.chart_number, 1.2),
            ],
            pg.st(7),
            pg.st(10),
        )
        f.gap(8)


def visit_line(pg: Page, w: Writer, when: date, enc_type: str, label: str = "Date of Service") -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    w.m.encounters.append((when, ctx.dr(ctx.provider), enc_type))
    f.kv_row(
        [
            (f"{label}:", w.d(when)),
            (f"{rng.choice(['Provider', 'Physician', 'Seen by'])}:", ctx.dr_text(ctx.provider, rng)),
        ],
        [0, 0.45],
        pg.st(9.5, True),
        pg.st(9.5),
    )


def render_face(pg: Page, w: Writer, tpl: str) -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    letterhead(pg, w, rng.randrange(3))
    title = rng.choice(["PATIENT REGISTRATION", "FACE SHEET", "PATIENT INFORMATION", "REGISTRATION FORM"])
    lst, vst = pg.st(10, True), pg.st(10)
    dob_l, sex_l, mrn_l = rng.choice(DOB_LABELS), rng.choice(SEX_LABELS), rng.choice(MRN_LABELS)
    ph_l, ins_l, mem_l = rng.choice(PHONE_LABELS), rng.choice(INS_LABELS), rng.choice(MEMBER_LABELS)
    phone = ctx.ph(ctx.phone, rng)
    ec_phone = ctx.ph(ctx.ec_phone, rng)
    dob = w.d(ctx.birth)
    if tpl == "A":  # label beside value
        f.center(title, pg.st(13, True, "head"), lead=1.6)
        f.kv_row([("Registration Date:", w.d(ctx.reg_date))], [0], lst, vst)
        f.gap(4)
        f.kv_row([("Patient Name:", ctx.name(rng.choice(["LAST_FIRST", "last_first"])))], [0], lst, vst)
        if rng.random() < 0.5:
            sex_v = f"[X] {'Male' if ctx.sex == 'M' else 'Female'}  [ ] {'Female' if ctx.sex == 'M' else 'Male'}"
        else:
            sex_v = ctx.sex_text(rng)
        f.kv_row([(f"{dob_l}:", dob), (f"{sex_l}:", sex_v), (f"{mrn_l}:", ctx.chart_number)], [0, 0.36, 0.68], lst, vst)
        f.kv_row([("Address:", ctx.address_line)], [0], lst, vst)
        if rng.random() < 0.5:
            f.kv_row([("City/State/ZIP:", f"{ctx.city}, {ctx.state} {ctx.postal_code}")], [0], lst, vst)
        else:
            f.kv_row([("City:", ctx.city), ("State:", ctx.state), ("ZIP:", ctx.postal_code)], [0, 0.45, 0.68], lst, vst)
        f.kv_row(
            [(f"{ph_l}:", phone), ("Marital Status:", rng.choice(["Married", "Single", "Widowed", "Divorced"]))],
            [0, 0.5],
            lst,
            vst,
        )
        f.kv_row(
            [("Preferred Language:", "English"), ("SSN:", f"XXX-XX-{rng.randrange(1000, 9999)}")], [0, 0.5], lst, vst
        )
        f.gap(6)
        f.heading("INSURANCE", pg.st(11, True, "head"), "rule")
        f.kv_row([(f"{ins_l}:", ctx.payer), (f"{mem_l}:", ctx.member_id)], [0, 0.5], lst, vst)
        f.kv_row([("Group #:", ctx.group_no), ("Subscriber:", "Self")], [0, 0.5], lst, vst)
        f.gap(6)
        f.heading("EMERGENCY CONTACT", pg.st(11, True, "head"), "rule")
        f.kv_row([("Name:", ctx.ec_name), ("Relationship:", ctx.ec_rel)], [0, 0.5], lst, vst)
        f.kv_row([("Phone:", ec_phone)], [0], lst, vst)
        f.gap(6)
        f.heading("PHYSICIANS", pg.st(11, True, "head"), "rule")
        f.kv_row([("Primary Care Physician:", ctx.dr_text(ctx.pcp, rng))], [0], lst, vst)
        f.kv_row([("Referring Physician:", ctx.dr_text(ctx.referrer, rng))], [0], lst, vst)
    elif tpl == "B":  # boxed grid, label above value
        f.heading(title, pg.st(12, True, "head"), "bar")
        ls, vs = pg.st(7), pg.st(10.5)
        up = rng.random() < 0.5
        nm = ctx.family.upper() if up else ctx.family
        fn = ctx.given.upper() if up else ctx.given
        f.boxes([("LAST NAME", nm, 2), ("FIRST NAME", fn, 2), ("MI", ctx.mi, 0.6)], ls, vs)
        f.boxes(
            [(dob_l.upper(), dob, 1.5), (sex_l.upper(), ctx.sex_text(rng), 1), (mrn_l.upper(), ctx.chart_number, 1.6)],
            ls,
            vs,
        )
        f.boxes([("STREET ADDRESS", ctx.address_line, 1)], ls, vs)
        f.boxes([("CITY", ctx.city, 2), ("STATE", ctx.state, 0.7), ("ZIP CODE", ctx.postal_code, 1.1)], ls, vs)
        f.boxes([(ph_l.upper(), phone, 1), ("DATE REGISTERED", w.d(ctx.reg_date), 1)], ls, vs)
        f.gap(10)
        f.heading("INSURANCE INFORMATION", pg.st(10.5, True, "head"), "bar")
        f.boxes(
            [(ins_l.upper(), ctx.payer, 1.6), (mem_l.upper(), ctx.member_id, 1.3), ("GROUP NO.", ctx.group_no, 0.9)],
            ls,
            vs,
        )
        f.gap(10)
        f.heading("EMERGENCY CONTACT", pg.st(10.5, True, "head"), "bar")
        f.boxes([("NAME", ctx.ec_name, 1.6), ("RELATIONSHIP", ctx.ec_rel, 1), ("PHONE", ec_phone, 1.2)], ls, vs)
        f.gap(10)
        f.boxes([("PRIMARY CARE PHYSICIAN", ctx.dr_text(ctx.pcp, rng), 1)], ls, vs)
        f.gap(10)
        f.text("I authorize release of information necessary to process insurance claims.", pg.st(8.5))
        f.gap(14)
        f.kv_row([("Patient signature:", ""), ("Date:", "")], [0, 0.62], pg.st(9), pg.st(9), underline=True)
    elif tpl == "C":  # two columns, underlined blanks, "Name (Last, First)"
        f.center(title, pg.st(13, True, "head"), lead=1.6)
        cols = pg.columns((1, 1), gutter=22)
        left, right = cols
        ls, vs = pg.st(9.5, True), pg.st(10)
        left.heading("PATIENT", pg.st(10.5, True, "head"), "rule")
        left.kv_row([("Name (Last, First):", ctx.name("last_first"))], [0], ls, vs, underline=True)
        left.kv_row([(f"{dob_l}:", dob)], [0], ls, vs, underline=True)
        left.kv_row([(f"{sex_l}:", ctx.sex_text(rng))], [0], ls, vs, underline=True)
        left.kv_row([(f"{mrn_l}:", ctx.chart_number)], [0], ls, vs, underline=True)
        left.kv_row([("Street:", ctx.address_line)], [0], ls, vs, underline=True)
        left.kv_row([("City:", ctx.city)], [0], ls, vs, underline=True)
        left.kv_row([("State:", ctx.state), ("Zip:", ctx.postal_code)], [0, 0.45], ls, vs, underline=True)
        left.kv_row([(f"{ph_l}:", phone)], [0], ls, vs, underline=True)
        right.heading("INSURANCE", pg.st(10.5, True, "head"), "rule")
        right.kv_row([(f"{ins_l}:", ctx.payer)], [0], ls, vs, underline=True)
        right.kv_row([(f"{mem_l}:", ctx.member_id)], [0], ls, vs, underline=True)
        right.kv_row([("Group:", ctx.group_no)], [0], ls, vs, underline=True)
        right.gap(8)
        right.heading("IN CASE OF EMERGENCY", pg.st(10.5, True, "head"), "rule")
        right.kv_row([("Contact:", ctx.ec_name)], [0], ls, vs, underline=True)
        right.kv_row([("Relation:", ctx.ec_rel)], [0], ls, vs, underline=True)
        right.kv_row([("Phone:", ec_phone)], [0], ls, vs, underline=True)
        right.gap(8)
        right.heading("REFERRAL", pg.st(10.5, True, "head"), "rule")
        right.kv_row([("Referred by:", ctx.dr_text(ctx.referrer, rng))], [0], ls, vs, underline=True)
        right.kv_row([("Date:", w.d(ctx.reg_date))], [0], ls, vs, underline=True)
        pg.join(cols)
        f.gap(14)
        f.kv_row([("Allergies:", w.allergy_line())], [0], ls, vs)
    else:  # D: field/value grid table
        f.heading(title, pg.st(12, True, "head"), "plain")
        rows = [
            ["Patient Name", ctx.name("full")],
            [dob_l, dob],
            [sex_l, ctx.sex_text(rng)],
            [mrn_l, ctx.chart_number],
            ["Address", f"{ctx.address_line}, {ctx.city}, {ctx.state} {ctx.postal_code}"],
            [ph_l, phone],
            [ins_l, ctx.payer],
            [mem_l, ctx.member_id],
            ["Emergency Contact", f"{ctx.ec_name} ({ctx.ec_rel}) {ec_phone}"],
            ["Primary Physician", ctx.dr_text(ctx.pcp, rng)],
            ["Registered", w.d(ctx.reg_date)],
        ]
        f.table(["Field", "Value"], rows, [1, 2.6], pg.st(9.5, True), pg.st(9.5), grid=True)


def render_progress(pg: Page, w: Writer, tpl: str) -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    body, head = pg.st(9.5), pg.st(10, True, "head")
    when = ctx.visit_date
    if rng.random() < 0.7:
        letterhead(pg, w, rng.randrange(3))
    if tpl == "E":  # headings on their own line
        f.heading(rng.choice(["PROGRESS NOTE", "CLINIC NOTE", "OFFICE VISIT"]), pg.st(12.5, True, "head"), "plain")
        banner(pg, w, rng.randrange(3))
        visit_line(pg, w, when, "office visit")
        f.gap(4)
        f.heading("HISTORY OF PRESENT ILLNESS", head, "rule")
        f.para(w.hpi(when) + " " + " ".join(w.negation_sentences(2)), body)
        f.heading("PAST MEDICAL HISTORY", head, "rule")
        for i, c in enumerate(ctx.conds, 1):
            f.text(f"{i}. {w.cond(c, cap=True)}", body, indent=6)
        if ctx.psh:
            f.heading("PAST SURGICAL HISTORY", head, "rule")
            for p, d in ctx.psh:
                f.text(f"- {w.proc(p, d)} ({w.d(d)})", body, indent=6)
        f.heading("MEDICATIONS", head, "rule")
        for m in ctx.meds:
            f.text(w.sig(m), body, indent=6)
        f.heading("ALLERGIES", head, "rule")
        f.para(w.allergy_line(), body)
        f.heading("FAMILY HISTORY", head, "rule")
        f.para(w.fhx_sentence(), body)
        f.heading("PHYSICAL EXAM", head, "rule")
        f.para(f"Vitals: {w.vitals()}. Lungs clear. Heart regular rate and rhythm.", body)
        f.heading("ASSESSMENT AND PLAN", head, "rule")
        for i, c in enumerate(ctx.conds[:4], 1):
            f.para(f"{i}. {w.cond(c, cap=True)} - {w.plan_for(c)}", body, hang=10)
    elif tpl == "F":  # compact inline headings, two-column header
        cols = pg.columns((1.15, 1))
        lcol, r = cols
        lcol.kv_row([("Patient:", ctx.name("LAST_FIRST"))], [0], pg.st(9.5, True), body)
        lcol.kv_row([(f"{rng.choice(DOB_LABELS)}:", w.d(ctx.birth))], [0], pg.st(9.5, True), body)
        lcol.kv_row([(f"{rng.choice(MRN_LABELS)}:", ctx.chart_number)], [0], pg.st(9.5, True), body)
        w.m.encounters.append((when, ctx.dr(ctx.provider), "office visit"))
        r.kv_row([("Visit:", w.d(when))], [0], pg.st(9.5, True), body)
        r.kv_row([("Provider:", ctx.dr_text(ctx.provider, rng))], [0], pg.st(9.5, True), body)
        r.kv_row([("PCP:", ctx.dr_text(ctx.pcp, rng))], [0], pg.st(9.5, True), body)
        pg.join(cols)
        f.rule(0.8, 0, 2, 8)
        lab = pg.st(9.5, True)

        def inline(label: str, text: str) -> None:
            f.para(f"{label} {text}", body, hang=12)
            f.gap(3)

        _ = lab
        inline("CC:", rng.choice(["Follow-up.", "Med refill.", "Annual exam.", "Fatigue."]))
        inline("HPI:", w.hpi(when))
        inline("PMH:", ", ".join(w.cond(c) for c in ctx.conds) + ".")
        if ctx.psh:
            inline("PSH:", "; ".join(f"{w.proc(p, d)} {w.d(d)}" for p, d in ctx.psh) + ".")
        inline("Meds:", "; ".join(w.sig(m) for m in ctx.meds) + ".")
        inline("Allergies:", w.allergy_line() + ".")
        inline("FHx:", w.fhx_sentence())
        inline("ROS:", " ".join(w.negation_sentences(3)) + " All other systems reviewed and negative.")
        inline("Exam:", w.vitals() + ". Alert, no distress. No edema.")
        f.text("A/P:", pg.st(9.5, True))
        for c in ctx.conds:
            f.para(f"- {w.cond(c)}: {w.plan_for(c)}", body, indent=8, hang=8)
    else:  # G: SOAP
        f.heading("SOAP NOTE", pg.st(12.5, True, "head"), "bar")
        banner(pg, w, rng.randrange(3))
        visit_line(pg, w, when, "office visit", label=rng.choice(["Date", "Visit Date", "DOS"]))
        f.gap(4)
        f.text("S:", head)
        f.para(w.hpi(when) + " " + " ".join(w.negation_sentences(2)), body, indent=14)
        f.para("Current meds: " + ", ".join(w.sig(m) for m in ctx.meds) + ".", body, indent=14)
        f.para("Allergies: " + w.allergy_line() + ".", body, indent=14)
        f.para("Family history: " + w.fhx_sentence(), body, indent=14)
        f.text("O:", head)
        f.para(w.vitals() + ". HEENT normal. Lungs clear bilaterally. Abdomen soft.", body, indent=14)
        f.text("A:", head)
        for i, c in enumerate(ctx.conds, 1):
            f.text(
                f"{i}) {w.cond(c, cap=True)} ({c.code})" if rng.random() < 0.4 else f"{i}) {w.cond(c, cap=True)}",
                body,
                indent=14,
            )
        f.text("P:", head)
        f.para(
            rng.choice(["Continue current medications.", "No medication changes."])
            + f" Return in {rng.choice(['3', '4', '6'])} months or sooner as needed.",
            body,
            indent=14,
        )
    f.gap(10)
    f.text(f"Signed: {ctx.dr_text(ctx.provider, rng)}   {w.d(when)}", pg.st(9, False))


def render_problems(pg: Page, w: Writer, tpl: str) -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    if rng.random() < 0.5:
        letterhead(pg, w, rng.randrange(3))
    f.heading(
        rng.choice(["PROBLEM LIST", "ACTIVE PROBLEM LIST", "PROBLEM SUMMARY"]), pg.st(12.5, True, "head"), "plain"
    )
    banner(pg, w, rng.randrange(3))
    f.kv_row(
        [("Updated:", w.d(ctx.visit_date)), ("By:", ctx.dr_text(ctx.provider, rng))],
        [0, 0.4],
        pg.st(9.5, True),
        pg.st(9.5),
    )
    f.gap(6)
    body = pg.st(10)
    onsets = [ctx.visit_date.year - rng.randint(0, 15) for _ in ctx.conds]
    onsets = [max(o, ctx.birth.year + 18) for o in onsets]
    if tpl == "H":
        for i, (c, y) in enumerate(zip(ctx.conds, onsets, strict=True), 1):
            t = w.cond(c, cap=True)
            f.text(rng.choice([f"{i}. {t} ({c.code}) - since {y}", f"{i}. {t}, ICD-10 {c.code}", f"{i}. {t}"]), body)
        if ctx.psh:
            f.gap(8)
            f.heading("PAST SURGICAL HISTORY", pg.st(10.5, True, "head"), "rule")
            for p, d in ctx.psh:
                f.text(f"{w.proc(p, d)} - {w.d(d)}", body, indent=6)
        f.gap(8)
        f.heading("FAMILY HISTORY", pg.st(10.5, True, "head"), "rule")
        f.para(w.fhx_sentence(), body)
        f.gap(8)
        f.heading("PERTINENT NEGATIVES", pg.st(10.5, True, "head"), "rule")
        f.para(" ".join(w.negation_sentences(2)), body)
    else:
        rows = [
            [str(i), w.cond(c, cap=True), c.code, str(y), rng.choice(["Active", "Chronic"])]
            for i, (c, y) in enumerate(zip(ctx.conds, onsets, strict=True), 1)
        ]
        f.table(["#", "Problem", "ICD-10", "Onset", "Status"], rows, [0.4, 3.6, 1.1, 0.9, 1.0], pg.st(9.5, True), body)
        f.gap(8)
        if ctx.psh:
            f.text("Surgical history", pg.st(10.5, True, "head"))
            f.table(
                ["Procedure", "Date"],
                [[w.proc(p, d), w.d(d)] for p, d in ctx.psh],
                [3, 1.2],
                pg.st(9.5, True),
                body,
                grid=False,
            )
            f.gap(8)
        f.text("Family history", pg.st(10.5, True, "head"))
        for s in ctx.fhx:
            f.text(f"- {s[0].upper() + s[1:]}", body, indent=6)
        f.gap(8)
        f.text("Notes", pg.st(10.5, True, "head"))
        f.para(" ".join(w.negation_sentences(2)), body)


def render_meds(pg: Page, w: Writer, tpl: str) -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    if rng.random() < 0.6:
        letterhead(pg, w, rng.randrange(3))
    f.heading(
        rng.choice(["MEDICATION LIST", "CURRENT MEDICATIONS", "MEDICATION RECONCILIATION"]),
        pg.st(12.5, True, "head"),
        rng.choice(["plain", "bar"]),
    )
    banner(pg, w, rng.randrange(3))
    f.kv_row(
        [("Reviewed:", w.d(ctx.visit_date)), ("By:", ctx.dr_text(ctx.provider, rng))],
        [0, 0.4],
        pg.st(9.5, True),
        pg.st(9.5),
    )
    f.gap(8)
    body = pg.st(10)
    nk = not ctx.allergies
    if tpl == "J":
        f.table(
            ["Drug", "Dose", "Route", "Frequency"],
            [w.med_row(m) for m in ctx.meds],
            [2.4, 1.1, 1.2, 2.2],
            pg.st(10, True),
            body,
        )
        f.gap(10)
        f.heading("ALLERGIES", pg.st(11, True, "head"), "rule")
        if nk:
            f.text(rng.choice(NKDA_TEXT), pg.st(10.5, True))
        else:
            rows = []
            for a in ctx.allergies:
                w.m.allergies.append((a[0], a[2]))
                rows.append([a[1], a[2]])
            f.table(["Allergen", "Reaction"], rows, [1, 1], pg.st(10, True), body)
    elif tpl == "K":
        for i, m in enumerate(ctx.meds, 1):
            f.text(f"{i}. {w.sig(m)}", body)
        f.gap(10)
        f.kv_row([("ALLERGIES:", w.allergy_line())], [0], pg.st(10.5, True), body)
        f.gap(6)
        f.para(
            f"Pharmacy: {rng.choice(['Walgreens', 'CVS Pharmacy', 'Rite Aid', 'Discount Drug Mart'])} "
            f"#{rng.randrange(1000, 9999)}, {ctx.ph(_phone(rng, ctx.clinic_state), rng)}",
            body,
        )
    else:
        cols = pg.columns((1.5, 1))
        left, right = cols
        left.text("Medications", pg.st(10.5, True, "head"))
        for m in ctx.meds:
            left.para(w.sig(m), body, hang=8)
        right.text("Allergies / Reactions", pg.st(10.5, True, "head"))
        if nk:
            right.text(rng.choice(NKDA_TEXT), body)
        else:
            for a in ctx.allergies:
                right.para(w.allergy(a), body, hang=8)
        right.gap(8)
        right.text("Emergency contact", pg.st(10.5, True, "head"))
        right.text(ctx.ec_name, body)
        right.text(ctx.ph(ctx.ec_phone, rng), body)
        pg.join(cols)
    f.gap(12)
    f.para("Patient instructed to bring all medication bottles to each visit.", pg.st(9))


def render_procedure(pg: Page, w: Writer, tpl: str) -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    np_ = ctx.note_proc
    when = ctx.proc_date
    w.m.encounters.append((when, ctx.dr(ctx.provider), "procedure"))
    letterhead(pg, w, rng.randrange(3))
    body = pg.st(10)
    ptext = w.proc(np_.proc, when)
    if np_.indication:
        ind = w.extra_dx(*np_.indication)
    else:
        ind = np_.indication_plain
    ind_full = ind + (f"; family history: {ctx.fhx[0]}" if rng.random() < 0.4 else "")
    if tpl == "M":
        f.heading("PROCEDURE NOTE", pg.st(13, True, "head"), "plain")
        banner(pg, w, rng.randrange(2))
        lst = pg.st(10, True)
        f.kv_row([("Date of Procedure:", w.d(when))], [0], lst, body)
        f.kv_row([("Procedure:", ptext + (f" (CPT {np_.proc.cpt})" if rng.random() < 0.5 else ""))], [0], lst, body)
        f.kv_row([(f"{np_.operator}:", ctx.dr_text(ctx.provider, rng))], [0], lst, body)
        f.kv_row([("Referring:", ctx.dr_text(ctx.referrer, rng))], [0], lst, body)
        f.kv_row([("Anesthesia:", np_.anesthesia)], [0], lst, body)
        f.para(f"Indication: {ind_full}.", body, hang=12)
        f.gap(4)
        f.text("Findings:", lst)
        f.para(np_.findings, body)
        f.kv_row([("Complications:", "None"), ("EBL:", "Minimal")], [0, 0.5], lst, body)
        f.gap(4)
        f.text("Impression:", lst)
        f.para(np_.impression, body)
        f.text("Plan:", lst)
        f.para("Discharge home when criteria met. Resume prior medications. " + " ".join(w.negation_sentences(1)), body)
    else:
        f.heading("OPERATIVE / PROCEDURE REPORT", pg.st(12, True, "head"), "bar")
        ls, vs = pg.st(7), pg.st(10)
        f.boxes(
            [
                ("PATIENT", ctx.name("LAST_FIRST"), 2),
                (rng.choice(DOB_LABELS).upper(), w.d(ctx.birth), 1.1),
                (rng.choice(MRN_LABELS).upper(), ctx.chart_number, 1.1),
            ],
            ls,
            vs,
        )
        f.boxes([("DATE", w.d(when), 1), (np_.operator.upper(), ctx.dr_text(ctx.provider, rng), 2)], ls, vs)
        f.gap(10)
        f.para(
            f"The patient is a {age_on(ctx.birth, when)}-year-old {'male' if ctx.sex == 'M' else 'female'} "
            f"referred by {ctx.dr(ctx.referrer)} for {ptext}. Indication: {ind_full}. "
            f"Allergies: {w.allergy_line()}. After informed consent was obtained, the procedure was performed "
            f"under {np_.anesthesia}.",
            body,
        )
        f.gap(6)
        f.para(np_.findings, body)
        f.gap(6)
        f.para(f"IMPRESSION: {np_.impression} There were no complications.", body)
        f.gap(6)
        f.para("Past medical history: " + ", ".join(w.cond(c) for c in ctx.conds) + ".", body)
    f.gap(14)
    f.text(ctx.dr_text(ctx.provider, rng), pg.st(10))
    f.text(ctx.specialty, pg.st(9))


def render_letter(pg: Page, w: Writer, tpl: str) -> None:
    ctx, rng, f = w.ctx, w.rng, pg.flow
    body = pg.st(10.5, role="body")
    letterhead(pg, w, 0 if tpl == "O" else rng.choice([1, 2]))
    when = ctx.consult_date
    w.m.encounters.append((when, ctx.dr(ctx.provider), "consultation"))
    ref_first, ref_last = ctx.referrer
    if tpl == "O":
        f.right(fmt_date(ctx.letter_date, "long"), body)
    else:
        f.text(fmt_date(ctx.letter_date, "long"), body)
    f.gap(8)
    f.text(f"{ref_first} {ref_last}, MD", body)
    f.text(rng.choice(["Family Practice", "Primary Care Partners", "Internal Medicine"]), body)
    f.gap(8)
    nm = ctx.name(rng.choice(["first_last", "full"]))
    if tpl == "O":
        f.text(f"RE: {nm}   {rng.choice(['DOB', 'D.O.B.'])} {w.d(ctx.birth)}", pg.st(10.5, True))
    else:
        f.kv_row([("RE:", nm)], [0], pg.st(10.5, True), body, lead=1.2)
        f.kv_row(
            [(f"{rng.choice(DOB_LABELS)}:", w.d(ctx.birth)), (f"{rng.choice(MRN_LABELS)}:", ctx.chart_number)],
            [0, 0.45],
            pg.st(10.5, True),
            body,
            lead=1.2,
        )
    f.gap(8)
    f.text(f"Dear Dr. {ref_last},", body)
    f.gap(4)
    bstyle = rng.choice(["long", "long", "mdy", "abbr"])
    opener = rng.choice(
        [
            f"I saw your patient {ctx.title} {ctx.name('first_last')}, born {fmt_date(ctx.birth, bstyle)}, "
            f"in {ctx.specialty.lower()} consultation on {w.d(when)}.",
            f"Thank you for referring {ctx.title} {ctx.name('first_last')} (date of birth "
            f"{fmt_date(ctx.birth, bstyle)}), whom I saw in the office on {w.d(when)}.",
        ]
    )
    conds = [w.cond(c) for c in ctx.conds]
    hx = conds[0] if len(conds) == 1 else ", ".join(conds[:-1]) + " and " + conds[-1]
    p2 = f"{ctx.his.capitalize()} past medical history is significant for {hx}. " + " ".join(w.negation_sentences(3))
    p3 = rng.choice([f"Family history: {'; '.join(ctx.fhx)}.", f"In the family history, {' and '.join(ctx.fhx)}."])
    p4 = "Current medications include " + ", ".join(w.sig(m) for m in ctx.meds) + ". "
    if ctx.allergies:
        p4 += f"{ctx.he.capitalize()} reports allergies to " + ", ".join(w.allergy(a) for a in ctx.allergies) + "."
    else:
        p4 += f"{ctx.he.capitalize()} has {rng.choice(['no known drug allergies', 'no known allergies'])}."
    advice = rng.choice(["continuing the current regimen", "follow-up labs in 6 weeks", "a repeat visit in 3 months"])
    p5 = (
        f"On examination {w.vitals()}. My impression is that {ctx.his} {w.cond(ctx.conds[0])} is "
        f"{rng.choice(['reasonably controlled', 'not optimally controlled', 'stable'])}. "
        f"I recommended {advice}. "
        f"{ctx.he.capitalize()} may contact our office at {ctx.ph(ctx.clinic_phone, rng)} with any questions."
    )
    for p in (opener, p2, p3, p4, p5):
        f.para(p, body)
        f.gap(5)
    f.text("Thank you for allowing me to participate in the care of this patient.", body)
    f.gap(8)
    f.text("Sincerely,", body)
    f.gap(16)
    f.text(ctx.dr_text(ctx.provider, rng), body)
    f.text(ctx.specialty, body)
    f.gap(6)
    if ctx.pcp != ctx.referrer:
        f.text(f"cc: {ctx.dr(ctx.pcp)}", pg.st(9))


RENDERERS: dict[str, Callable[[Page, Writer, str], None]] = {
    "face": render_face,
    "progress": render_progress,
    "problems": render_problems,
    "meds": render_meds,
    "procedure": render_procedure,
    "letter": render_letter,
}


# --------------------------------------------------------------------------
# Scan degradations
# --------------------------------------------------------------------------


@dataclass
class Plan:
    """Degradations for one page.  Zero/False means not applied."""

    orientation: int = 0  # quarter turn, degrees counter-clockwise (0/90/180/270)
    skew: float = 0.0  # degrees counter-clockwise
    border: bool = False
    illumination: float = 0.0  # strength 0..0.45
    blur: float = 0.0  # gaussian sigma in px
    noise: float = 0.0  # gaussian sigma in gray levels
    jpeg: int = 0  # JPEG quality used to introduce artefacts
    fax: bool = False  # binarise + speckle

    @property
    def rotation(self) -> float:
        return round(self.orientation + self.skew, 2)

    @property
    def names(self) -> list[str]:
        out = []
        for name, on in (
            ("orientation", self.orientation != 0),
            ("skew", self.skew != 0),
            ("border", self.border),
            ("illumination", self.illumination > 0),
            ("blur", self.blur > 0),
            ("noise", self.noise > 0),
            ("jpeg", self.jpeg > 0),
            ("fax", self.fax),
        ):
            if on:
                out.append(name)
        return out


def random_plan(rng: random.Random, fmt: str, allow_clean: bool = True) -> Plan:
    if rng.random() < 0.15 and allow_clean:
        return Plan()
    orientation = rng.choices([0, 90, 180, 270], [0.76, 0.08, 0.08, 0.08])[0]
    r = rng.random()
    mag = 0.0 if r < 0.2 else (rng.uniform(0.5, 3.0) if r < 0.8 else rng.uniform(3.0, 8.0))
    skew = round(mag * rng.choice([-1, 1]), 1) if mag else 0.0
    p = Plan(
        orientation=orientation,
        skew=skew,
        border=rng.random() < 0.3,
        illumination=round(rng.uniform(0.15, 0.4), 2) if rng.random() < 0.4 else 0.0,
        blur=round(rng.uniform(0.5, 1.1), 2) if rng.random() < 0.35 else 0.0,
        noise=round(rng.uniform(3, 9), 1) if rng.random() < 0.45 else 0.0,
        jpeg=rng.randint(15, 35) if rng.random() < 0.3 else 0,
        fax=rng.random() < 0.15,
    )
    if fmt == "tiff":
        p.fax = True
    if fmt == "jpeg":  # keep the single JPEG grayscale (bilevel JPEG is unusual)
        p.fax = False
    if fmt == "png":  # lossless container: gaussian noise would blow the size budget
        p.noise = 0.0
    if p.fax:
        p.noise, p.jpeg = 0.0, 0
    return p


def apply_plan(img: Image.Image, plan: Plan, seed: int = 0) -> Image.Image:
    """Apply the degradations in scanner order.  Returns mode "L" (or "1" if fax)."""
    rng = np.random.default_rng(seed)
    a: NDArray[np.uint8] = np.asarray(img.convert("L"), dtype=np.uint8).copy()
    if plan.orientation:
        a = np.ascontiguousarray(np.rot90(a, k=(plan.orientation // 90) % 4))
    h, w = a.shape
    if plan.skew:
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), plan.skew, 1.0)
        a = np.asarray(
            cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255),
            dtype=np.uint8,
        )
    f: NDArray[np.float32] = a.astype(np.float32)
    if plan.border:
        edges = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
        for e in edges:
            t0 = float(rng.uniform(0.008, 0.03)) * min(h, w)
            t1 = float(rng.uniform(0.0, 0.035)) * min(h, w)
            val = float(rng.uniform(15, 60))
            mask = np.zeros((h, w), np.uint8)
            if e == 0:
                pts = [(0, 0), (w, 0), (w, t1), (0, t0)]
            elif e == 1:
                pts = [(0, h), (w, h), (w, h - t1), (0, h - t0)]
            elif e == 2:
                pts = [(0, 0), (0, h), (t1, h), (t0, 0)]
            else:
                pts = [(w, 0), (w, h), (w - t1, h), (w - t0, 0)]
            cv2.fillPoly(mask, [np.array(pts, dtype=np.int32)], 1)
            f = np.where(mask > 0, val + rng.normal(0, 6, size=(h, w)).astype(np.float32), f)
    if plan.illumination:
        ang = float(rng.uniform(0, 2 * np.pi))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        proj = xx * np.cos(ang) / w + yy * np.sin(ang) / h
        proj = (proj - proj.min()) / max(1e-6, float(proj.max() - proj.min()))
        f = f * (1.0 - plan.illumination * proj)
    if plan.blur:
        f = np.asarray(cv2.GaussianBlur(f, (0, 0), plan.blur), dtype=np.float32)
    if plan.noise:
        f = f + rng.normal(0, plan.noise, size=f.shape).astype(np.float32)
    a = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if plan.jpeg:
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, plan.jpeg])
        if ok:
            a = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)
    if plan.fax:
        thr = float(rng.uniform(135, 175))
        b = np.where(a < thr, 0, 255).astype(np.uint8)
        speck = rng.random(b.shape) < float(rng.uniform(0.0004, 0.0015))
        b[speck] = 0
        drop = rng.random(b.shape) < 0.02
        b[drop & (b == 0)] = 255
        return Image.fromarray(b).convert("1", dither=Image.Dither.NONE)
    return Image.fromarray(a)


def draw_stamp(img: Image.Image, text: str, rng: random.Random, dpi: int) -> Image.Image:
    k = dpi / 72.0
    font = load_font("dejavu_sans", True, round(15 * k))
    tw = int(font.getlength(text)) + round(16 * k)
    th = round(30 * k)
    layer = Image.new("L", (tw, th), 255)
    d = ImageDraw.Draw(layer)
    d.rectangle([1, 1, tw - 2, th - 2], outline=110, width=max(2, round(2 * k)))
    d.text((round(8 * k), round(6 * k)), text, font=font, fill=110)
    layer = layer.rotate(rng.uniform(-18, 18), expand=True, fillcolor=255, resample=Image.Resampling.BILINEAR)
    x = rng.randint(img.width // 2, max(img.width // 2, img.width - layer.width - round(40 * k)))
    y = rng.choice([round(40 * k), img.height - layer.height - round(50 * k)])
    base = np.asarray(img, dtype=np.uint8).copy()
    lay = np.asarray(layer, dtype=np.uint8)
    region = base[y : y + lay.shape[0], x : x + lay.shape[1]]
    base[y : y + lay.shape[0], x : x + lay.shape[1]] = np.minimum(region, lay[: region.shape[0], : region.shape[1]])
    return Image.fromarray(base)


# --------------------------------------------------------------------------
# Public helper for tests
# --------------------------------------------------------------------------


def render_text_page(
    lines: list[str],
    *,
    dpi: int = 150,
    font_size: float = 12.0,
    skew: float = 0.0,
    orientation: int = 0,
    noise: float = 0.0,
    blur: float = 0.0,
    font: str = "dejavu_sans",
    seed: int = 0,
) -> Image.Image:
    """Draw ``lines`` (one visual line each) on a white US-letter page and degrade it.

    ``skew``/``orientation`` are degrees counter-clockwise (rotate by
    ``-(orientation + skew)`` to restore).  Returns a grayscale PIL image.
    Lines that do not fit are drawn anyway (clipped by the page edge).
    """
    if orientation % 90:
        raise ValueError("orientation must be a multiple of 90")
    be = RasterBackend(dpi, {"body": font, "head": font, "mono": "dejavu_sans_mono"})
    pg = Page(be)
    st = Style(font_size)
    for line in lines:
        pg.flow.text(line, st, lead=1.4)
    plan = Plan(orientation=orientation % 360, skew=skew, noise=noise, blur=blur)
    return apply_plan(be.img, plan, seed)


# --------------------------------------------------------------------------
# Chart specs, rendering and file writers
# --------------------------------------------------------------------------

FORMATS = ["pdf_image", "tiff", "png", "jpeg", "pdf_text", "pdf_image"]
EXT = {"pdf_image": "pdf", "pdf_text": "pdf", "tiff": "tif", "png": "png", "jpeg": "jpg"}


@dataclass
class PageSpec:
    kind: str
    template: str
    plan: Plan
    seed: int
    fonts: dict[str, str]
    stamp: str | None


@dataclass
class ChartSpec:
    idx: int
    fmt: str
    dpi: int | None
    ctx: Ctx
    pages: list[PageSpec]

    @property
    def file(self) -> str:
        return f"chart_{self.idx + 1:04d}.{EXT[self.fmt]}"


def _choose_kinds(rng: random.Random, n: int) -> list[str]:
    if n == 1:
        return [rng.choice(["progress", "letter", "procedure", "progress"])]
    kinds: list[str] = []
    if rng.random() < 0.55:
        kinds.append("face")
    rest = ["progress", "problems", "meds", "procedure", "letter"]
    rng.shuffle(rest)
    for k in rest:
        if len(kinds) >= n:
            break
        kinds.append(k)
    if not any(k in kinds for k in ("progress", "letter", "problems")):
        kinds[-1] = "progress"
    return kinds


def build_specs(seed: int, count: int) -> list[ChartSpec]:
    specs: list[ChartSpec] = []
    for i in range(count):
        rng = random.Random(seed * 7_777_777 + i * 104_729 + 3)
        fmt = FORMATS[i % len(FORMATS)]
        if fmt in ("png", "jpeg"):
            n = 1
        elif fmt == "tiff":
            n = rng.randint(2, 3)
        else:
            n = rng.randint(1, 3) if i >= len(FORMATS) else (3 if i == 0 else rng.randint(2, 3))
        dpi: int | None = None if fmt == "pdf_text" else (200 if fmt == "tiff" else rng.choice([150, 150, 200]))
        ctx = make_ctx(seed, i)
        pages: list[PageSpec] = []
        for j, kind in enumerate(_choose_kinds(rng, n)):
            tpl = rng.choice(KIND_TEMPLATES[kind])
            if fmt == "pdf_text":
                plan = Plan()
                fonts = {"body": "helvetica", "head": "helvetica", "mono": "courier"}
                stamp = None
            else:
                plan = random_plan(rng, fmt, allow_clean=all(p.plan.names for p in pages))
                body = rng.choice(BODY_FONTS)
                fonts = {"body": body, "head": rng.choice([body, *HEAD_FONTS]), "mono": "dejavu_sans_mono"}
                stamp = None
                if rng.random() < 0.3:
                    d = ctx.visit_date + timedelta(days=rng.randint(1, 60))
                    stamp = rng.choice(
                        [f"RECEIVED {MON[d.month - 1].upper()} {d.day:02d} {d.year}", "SCANNED", "COPY", "FAXED"]
                    )
            pages.append(PageSpec(kind, tpl, plan, seed * 1000 + i * 10 + j, fonts, stamp))
        specs.append(ChartSpec(i, fmt, dpi, ctx, pages))
    _enforce_requirements(specs, random.Random(seed * 31 + 17))
    return specs


def _enforce_requirements(specs: list[ChartSpec], rng: random.Random) -> None:
    """Make sure the set contains a clean, an upside-down, a sideways and a >4 deg skewed page."""
    raster = [(c, p) for c in specs if c.fmt != "pdf_text" for p in c.pages]
    reqs: list[tuple[Callable[[Plan], bool], Callable[[Plan], Plan]]] = [
        (lambda p: not p.names, lambda p: Plan()),
        (lambda p: p.orientation == 180, lambda p: replace(p, orientation=180)),
        (lambda p: p.orientation in (90, 270), lambda p: replace(p, orientation=rng.choice([90, 270]))),
        (
            lambda p: abs(p.skew) > 4,
            lambda p: replace(p, skew=round(rng.uniform(4.5, 8.0) * rng.choice([-1, 1]), 1)),
        ),
    ]
    reserved: set[int] = set()
    for check, fix in reqs:
        hit = [k for k, (_, p) in enumerate(raster) if check(p.plan) and k not in reserved]
        if hit:
            reserved.add(hit[0])
            continue
        free = [k for k in range(len(raster)) if k not in reserved]
        if not free:
            return
        k = rng.choice(free)
        c, p = raster[k]
        p.plan = fix(p.plan)
        if c.fmt == "tiff":
            p.plan.fax = True
        reserved.add(k)


@dataclass
class RenderedPage:
    text: str
    mentions: Mentions
    fonts: list[str]
    image: Image.Image | None = None
    pdf_ops: list[str] | None = None


def render_page(ctx: Ctx, ps: PageSpec, dpi: int | None) -> RenderedPage:
    for scale in (1.0, 0.93, 0.86, 0.8, 0.74, 0.68, 0.62):
        rng = random.Random(ps.seed)
        backend: Backend
        if dpi is None:
            backend = PdfTextBackend()
        else:
            backend = RasterBackend(dpi, ps.fonts, ink=rng.randint(0, 35))
        pg = Page(backend, scale)
        w = Writer(ctx, rng)
        RENDERERS[ps.kind](pg, w, ps.template)
        if not pg.overflow:
            break
    else:
        raise RuntimeError(f"page {ps.kind}/{ps.template} does not fit for chart {ctx.idx}")
    if isinstance(backend, PdfTextBackend):
        return RenderedPage(pg.text, w.m, list(backend.used), pdf_ops=backend.ops)
    img = backend.img
    if ps.stamp:
        img = draw_stamp(img, ps.stamp, random.Random(ps.seed + 5), backend.dpi)
    img = apply_plan(img, ps.plan, ps.seed)
    return RenderedPage(pg.text, w.m, list(backend.used), image=img)


def _pdf_assemble(objs: list[bytes]) -> bytes:
    """objs[0] must be the catalog (1 0 R) and objs[1] the info dict (2 0 R)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 2 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _stream(dict_body: str, data: bytes) -> bytes:
    return f"<< {dict_body} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def _info(title: str) -> bytes:
    return (
        f"<< /Title ({title}) /Producer ({PRODUCER}) /Creator ({PRODUCER}) "
        f"/CreationDate ({FIXED_PDF_DATE}) /ModDate ({FIXED_PDF_DATE}) >>"
    ).encode()


def write_image_pdf(path: Path, images: list[Image.Image], dpi: int) -> None:
    """Image-only PDF: one DCT (grayscale JPEG) or 1-bit Flate image per page, no text layer."""
    n = len(images)
    page_ids = [4 + 3 * i for i in range(n)]
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 3 0 R >>", _info(path.stem)]
    objs.append(f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {n} >>".encode())
    for i, im in enumerate(images):
        pid = page_ids[i]
        wpt, hpt = im.width * 72.0 / dpi, im.height * 72.0 / dpi
        objs.append(
            f"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 {wpt:.2f} {hpt:.2f}] "
            f"/Resources << /XObject << /Im0 {pid + 2} 0 R >> >> /Contents {pid + 1} 0 R >>".encode()
        )
        objs.append(_stream("", f"q {wpt:.2f} 0 0 {hpt:.2f} 0 0 cm /Im0 Do Q".encode()))
        if im.mode == "1":
            data = zlib.compress(im.tobytes(), 9)
            objs.append(
                _stream(
                    f"/Type /XObject /Subtype /Image /Width {im.width} /Height {im.height} "
                    "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode",
                    data,
                )
            )
        else:
            buf = io.BytesIO()
            im.convert("L").save(buf, "JPEG", quality=70, optimize=True)
            objs.append(
                _stream(
                    f"/Type /XObject /Subtype /Image /Width {im.width} /Height {im.height} "
                    "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode",
                    buf.getvalue(),
                )
            )
    path.write_bytes(_pdf_assemble(objs))


def write_text_pdf(path: Path, pages_ops: list[list[str]]) -> None:
    """Born-digital PDF with a real text layer (standard Type1 fonts, BT/Tf/Td/Tj)."""
    n = len(pages_ops)
    fonts = [("F1", "Helvetica"), ("F2", "Helvetica-Bold"), ("F3", "Courier"), ("F4", "Courier-Bold")]
    first_font = 4
    first_page = first_font + len(fonts)
    page_ids = [first_page + 2 * i for i in range(n)]
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 3 0 R >>", _info(path.stem)]
    objs.append(f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {n} >>".encode())
    for _fid, base in fonts:
        objs.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode())
    font_res = " ".join(f"/{fid} {first_font + k} 0 R" for k, (fid, _) in enumerate(fonts))
    for i, ops in enumerate(pages_ops):
        pid = page_ids[i]
        objs.append(
            f"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 {PAGE_W_PT:.0f} {PAGE_H_PT:.0f}] "
            f"/Resources << /Font << {font_res} >> >> /Contents {pid + 1} 0 R >>".encode()
        )
        objs.append(_stream("", ("\n".join(ops) + "\n").encode("latin-1")))
    path.write_bytes(_pdf_assemble(objs))


def write_tiff(path: Path, images: list[Image.Image], dpi: int) -> None:
    info = {305: PRODUCER, 306: FIXED_TIFF_DATE}
    bilevel = all(im.mode == "1" for im in images)
    ims = images if bilevel else [im.convert("L") for im in images]
    ims[0].save(
        path,
        format="TIFF",
        save_all=True,
        append_images=ims[1:],
        compression="group4" if bilevel else "tiff_lzw",
        dpi=(dpi, dpi),
        tiffinfo=info,
    )


def _merge_truth(rendered: list[RenderedPage]) -> dict[str, Any]:
    dx: list[dict[str, Any]] = []
    seen_dx: set[str] = set()
    meds: list[dict[str, Any]] = []
    seen_meds: set[str] = set()
    allergies: list[dict[str, Any]] = []
    seen_all: set[str] = set()
    procs: list[dict[str, Any]] = []
    seen_procs: set[tuple[str, date]] = set()
    encs: list[dict[str, Any]] = []
    seen_enc: set[tuple[date, str, str]] = set()
    for r in rendered:
        m = r.mentions
        for key, text, code, neg in m.dx:
            if key not in seen_dx:
                seen_dx.add(key)
                dx.append({"text": text, "code": code, "negated": neg})
        for med in m.meds:
            if med.name not in seen_meds:
                seen_meds.add(med.name)
                meds.append({"name": med.name, "dose": med.dose, "route": med.route, "frequency": med.freq})
        for sub, reac in m.allergies:
            if sub not in seen_all:
                seen_all.add(sub)
                allergies.append({"substance": sub, "reaction": reac})
        for key, text, when, code in m.procs:
            if (key, when) not in seen_procs:
                seen_procs.add((key, when))
                procs.append({"text": text, "date": when.isoformat(), "code": code})
        for when, prov, typ in m.encounters:
            if (when, prov, typ) not in seen_enc:
                seen_enc.add((when, prov, typ))
                encs.append({"date": when.isoformat(), "provider": prov, "type": typ})
    encs.sort(key=lambda e: e["date"])
    return {"encounters": encs, "diagnoses": dx, "procedures": procs, "medications": meds, "allergies": allergies}


def _printed_only(text: str, patient: dict[str, Any]) -> dict[str, Any]:
    """Truth holds what the chart itself shows: a field never printed on any page is null."""
    low = text.lower()
    digits = re.sub(r"\D", "", text)
    out = dict(patient)
    for key, value in patient.items():
        if value is None or key in ("given_name", "family_name", "birth_date"):
            continue
        if key == "phone":
            shown = str(value) in digits
        elif key == "sex":
            shown = bool(re.search(r"\b(sex|gender)\b|\b(mr|mrs|ms)\.?\s", low))
        elif key == "middle_name":
            shown = bool(re.search(rf"\b{re.escape(str(value)[0].lower())}(\.|\b)", low)) and (
                str(value).lower() in low or len(str(value)) == 1
            )
            if not shown and re.search(rf"\b{re.escape(str(value)[0].lower())}\.", low):
                out[key] = str(value)[0]  # only the initial is printed
                continue
        elif key == "state":  # a bare two-letter code also appears in the clinic's address
            shown = bool(patient.get("postal_code")) and str(patient["postal_code"]) in low
        else:
            shown = str(value).lower() in low
        if not shown:
            out[key] = None
    return out


def render_chart(spec: ChartSpec, out: Path) -> dict[str, Any]:
    ctx = spec.ctx
    rendered = [render_page(ctx, ps, spec.dpi) for ps in spec.pages]
    path = out / spec.file
    if spec.fmt == "pdf_text":
        write_text_pdf(path, [r.pdf_ops or [] for r in rendered])
    else:
        assert spec.dpi is not None
        images = [r.image for r in rendered if r.image is not None]
        if spec.fmt == "pdf_image":
            write_image_pdf(path, images, spec.dpi)
        elif spec.fmt == "tiff":
            write_tiff(path, images, spec.dpi)
        elif spec.fmt == "png":
            im = images[0]
            im.save(path, format="PNG", optimize=True, dpi=(spec.dpi, spec.dpi))
        else:
            images[0].convert("L").save(path, format="JPEG", quality=72, optimize=True, dpi=(spec.dpi, spec.dpi))
    merged = _merge_truth(rendered)
    pages = []
    for j, (ps, r) in enumerate(zip(spec.pages, rendered, strict=True), 1):
        pages.append(
            {
                "number": j,
                "text": r.text,
                "rotation": ps.plan.rotation,
                "orientation": ps.plan.orientation,
                "skew": ps.plan.skew,
                "dpi": spec.dpi,
                "template": ps.template,
                "kind": ps.kind,
                "degradations": ps.plan.names,
                "stamp": ps.stamp,
                "fonts": r.fonts,
            }
        )
    printed = "\n".join(str(pg["text"]) for pg in pages)
    return {
        "file": spec.file,
        "template": spec.pages[0].template,
        "patient": _printed_only(
            printed,
            {
                "given_name": ctx.given,
                "middle_name": ctx.middle,
                "family_name": ctx.family,
                "birth_date": ctx.birth.isoformat(),
                "sex": ctx.sex,
                "chart_number": ctx.chart_number,
                "address_line": ctx.address_line,
                "city": ctx.city,
                "state": ctx.state,
                "postal_code": ctx.postal_code,
                "phone": ctx.phone,
                "insurance_payer": ctx.payer,
                "insurance_member_id": ctx.member_id,
            },
        ),
        **merged,
        "expected_match": None,
        "match_case": "new",
        "pages": pages,
    }


def generate(out: Path, seed: int = 7, count: int = 6, truth_out: Path | None = None) -> list[Path]:
    """Scans into ``out``; their truth files into ``truth_out`` (default: beside the scans)."""
    truth_dir = truth_out or out
    out.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    for folder in {out, truth_dir}:
        for old in sorted(folder.glob("chart_[0-9][0-9][0-9][0-9].*")):
            old.unlink()
    written: list[Path] = []
    for spec in build_specs(seed, count):
        truth = render_chart(spec, out)
        tpath = truth_dir / f"chart_{spec.idx + 1:04d}.truth.json"
        tpath.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written += [out / spec.file, tpath]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "charts")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--truth-out", type=Path, default=None, help="folder for truth files (default: --out)")
    args = ap.parse_args(argv)
    for p in generate(args.out, args.seed, args.count, args.truth_out):
        print(f"{p}  {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
