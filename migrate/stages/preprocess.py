"""Page clean-up with OpenCV: orientation, deskew, scanner borders, illumination and noise.

Every decision is measured on the page and recorded in a ``Cleanup`` so a reviewer can see it.
Analysis runs on a small binary copy of the page (~100 dpi); corrections are applied once to
the full-resolution image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from migrate.records import Cleanup

ANALYSIS_DPI = 100
MAX_SKEW = 15.0  # degrees searched either way
MIN_DESKEW = 0.3  # smaller tilts cost a full-page resample and do not change what Tesseract reads
UPRIGHT_MIN_MARGIN = 0.25  # ascender/descender vote balance below this: ask OSD
UPRIGHT_MIN_LEAD = 8  # ... or a lead of fewer word votes than this

OsdFn = Callable[[np.ndarray], tuple[int, float] | None]


@dataclass(frozen=True, slots=True)
class Orientation:
    rotate: int  # clockwise quarter turns in degrees
    method: str
    confidence: float


def _ink(gray: np.ndarray) -> np.ndarray:
    """Binary ink mask (ink = 1) by Otsu."""
    _, mask = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return mask


def _drop_edge_blobs(mask: np.ndarray) -> np.ndarray:
    """Remove ink connected to the page edge (scanner borders, punched holes, fold shadows)."""
    h, w = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask
    x, y, bw, bh = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    touches = (x == 0) | (y == 0) | (x + bw >= w) | (y + bh >= h)
    touches[0] = False
    if not touches.any():
        return mask
    out = mask.copy()
    out[touches[labels]] = 0
    return out


def _rotate(img: np.ndarray, angle: float, *, border: int, expand: bool, interp: int) -> np.ndarray:
    """Rotate counter-clockwise by ``angle`` degrees around the centre."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    if expand:
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        w, h = nw, nh
    return cv2.warpAffine(img, m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def _sharpness(mask: np.ndarray) -> float:
    """How strongly ink falls into horizontal lines: energy of the row profile's changes."""
    rows = mask.sum(axis=1, dtype=np.float64)
    return float(np.square(np.diff(rows)).sum())


class _Strips:
    """Row profiles of vertical strips of a mask, to score many small rotations cheaply.

    Turning a page by a small angle moves each column's ink up or down by x * tan(angle), so the
    rotated page's row profile is the sum of strip profiles shifted by their own offsets: no
    image is rotated while searching (the classic projection-profile deskew, made fast).
    """

    def __init__(self, mask: np.ndarray, strips: int = 40) -> None:
        h, w = mask.shape
        edges = np.linspace(0, w, strips + 1).astype(int)
        self.profiles = np.add.reduceat(mask.astype(np.float64), edges[:-1], axis=1).T  # strips x rows
        self.centers = (edges[:-1] + edges[1:]) / 2.0 - w / 2.0
        self.height = h

    def score(self, angle: float) -> float:
        # cv2's counter-clockwise turn by a moves a pixel at x (from the centre) to row y - x*tan(a).
        shifts = np.rint(-self.centers * np.tan(np.radians(angle))).astype(int)
        pad = int(np.abs(shifts).max()) + 1
        total = np.zeros(self.height + 2 * pad)
        for offset, profile in zip(shifts, self.profiles, strict=True):
            total[pad + offset : pad + offset + self.height] += profile
        return float(np.square(np.diff(total)).sum())

    def best(self, angles: np.ndarray) -> tuple[float, float]:
        scores = [self.score(float(a)) for a in angles]
        i = int(np.argmax(scores))
        return float(angles[i]), scores[i]


def _coarse(mask: np.ndarray) -> tuple[float, float]:
    """1-degree search over +-MAX_SKEW by really rotating a half-size copy: the best angle and
    how sharp the lines then are. (Strip shifting is only exact for small angles: at 14 degrees
    the ruled lines of a boxed form break into per-strip spikes that score as sharp.)"""
    half = (cv2.resize(mask * 255, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    angles = np.arange(-MAX_SKEW, MAX_SKEW + 0.1, 1.0)
    scores = [_sharpness(_rotate(half, float(a), border=0, expand=False, interp=cv2.INTER_NEAREST)) for a in angles]
    i = int(np.argmax(scores))
    return float(angles[i]), scores[i]


def _fine(mask: np.ndarray, around: float) -> float:
    angle, _ = _Strips(mask).best(np.arange(around - 0.9, around + 0.91, 0.1))
    return round(angle, 2)


def _upright_score(mask: np.ndarray) -> tuple[float, int]:
    """Balance of ink above vs below the x-height band over word-sized blobs.

    Latin text has many more ascenders (capitals, digits, b d f h k l t) than descenders
    (g j p q y), so on an upright page the band of densest ink sits low in each word.
    Each word votes once. Returns (score in -1..1, positive = upright; the winning lead in votes).
    """
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n < 10:
        return 0.0, 0
    heights = stats[1:, 3]
    char_h = float(np.median(heights[(heights > 2) & (heights < mask.shape[0] / 20)] if heights.size else [0]))
    if char_h < 3:
        return 0.0, 0
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(char_h * 0.6)), 1))
    words = cv2.dilate(mask, kernel)
    _, _, wstats, _ = cv2.connectedComponentsWithStats(words, connectivity=8)
    above = below = 0.0
    voters = 0
    for x, y, w, h, _area in wstats[1:]:
        if h < char_h * 0.8 or h > char_h * 2.5 or w < h * 1.5:
            continue
        prof = mask[y : y + h, x : x + w].sum(axis=1, dtype=np.float64)
        peak = prof.max()
        if peak <= 0:
            continue
        core = np.flatnonzero(prof >= 0.5 * peak)
        c0, c1 = core[0], core[-1]
        a, b = prof[:c0].sum(), prof[c1 + 1 :].sum()
        if abs(a - b) < 0.05 * prof.sum():  # no clear ascender or descender zone: no vote
            continue
        above += a > b
        below += b > a
        voters += 1
    total = above + below
    return ((above - below) / total if total else 0.0), int(abs(above - below))


def _upright(mask: np.ndarray) -> tuple[bool, float, int]:
    score, lead = _upright_score(mask)
    return score >= 0, abs(score), lead


def detect_orientation(
    mask: np.ndarray, osd: OsdFn | None, page: np.ndarray | None = None
) -> tuple[Orientation, float, np.ndarray]:
    """Quarter turn that makes the page upright, the residual skew, and the mask turned upright.

    ``page`` is the grayscale page at scan resolution, for OSD: at the analysis resolution small
    print is too coarse for it (seen: a 150 dpi page called upside down at 100 dpi, right at 150).
    """
    h_angle, h_score = _coarse(mask)
    turned = np.ascontiguousarray(np.rot90(mask, k=-1))  # 90 degrees clockwise
    v_angle, v_score = _coarse(turned)
    base, base_mask, coarse = (90, turned, v_angle) if v_score > h_score * 1.3 else (0, mask, h_angle)
    skew = _fine(base_mask, coarse)
    straight = _rotate(base_mask, skew, border=0, expand=True, interp=cv2.INTER_NEAREST)
    is_up, margin, lead = _upright(straight)
    rotate = base if is_up else (base + 180) % 360
    method, confidence = "heuristic", margin
    if (margin < UPRIGHT_MIN_MARGIN or lead < UPRIGHT_MIN_LEAD) and osd is not None:
        found = osd(page if page is not None else np.where(mask > 0, 0, 255).astype(np.uint8))
        # Trust our axis (line sharpness is robust); OSD only settles up or down.
        if found is not None and found[1] >= 1.0 and (found[0] - base) % 180 == 0:
            rotate, confidence, method = found[0], found[1], "osd"
    return Orientation(rotate, method, confidence), skew, np.ascontiguousarray(np.rot90(mask, k=-(rotate // 90)))


def _paper(gray: np.ndarray, dpi: int) -> np.ndarray:
    """Paper brightness at ~50 dpi: text closed away, then smoothed."""
    scale = min(1.0, 50 / dpi)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    k = max(3, int(small.shape[1] / 40) | 1)
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.GaussianBlur(bg, (0, 0), k)


def _noise_sigma(gray: np.ndarray) -> float:
    """Robust estimate of pixel noise on the paper (median absolute deviation from a 3x3 median)."""
    sample = np.ascontiguousarray(gray[::3, ::3])
    diff = cv2.absdiff(sample, cv2.medianBlur(sample, 3))
    paper = sample > np.percentile(sample, 40)
    return float(np.median(diff[paper]) * 1.4826) if paper.any() else 0.0


def _edge_ink(gray: np.ndarray, dpi: int) -> np.ndarray | None:
    """Full-size mask of dark regions joined to the page edge (found at analysis resolution)."""
    scale = min(1.0, ANALYSIS_DPI / max(dpi, 1))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ink = _ink(small)
    border = ink & ~_drop_edge_blobs(ink).astype(bool)
    if border.sum() <= small.size * 0.002:
        return None
    border = cv2.dilate(border.astype(np.uint8), np.ones((3, 3), np.uint8))
    return cv2.resize(border, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


def clean(gray: np.ndarray, dpi: int, *, osd: OsdFn | None = None) -> tuple[np.ndarray, Cleanup]:
    """Make one grayscale page upright, straight and clean for OCR."""
    steps: list[str] = []
    scale = min(1.0, ANALYSIS_DPI / max(dpi, 1))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    mask = _drop_edge_blobs(_ink(small))
    if mask.sum() < 50:  # blank page: nothing to straighten
        return gray, Cleanup(steps=("blank",))

    orient, skew, mask = detect_orientation(mask, osd, gray)
    if orient.rotate:
        gray = np.ascontiguousarray(np.rot90(gray, k=-(orient.rotate // 90)))
        steps.append(f"rotate:{orient.rotate}")
    if abs(skew) >= MIN_DESKEW:
        gray = _rotate(gray, skew, border=255, expand=True, interp=cv2.INTER_LINEAR)
        steps.append(f"deskew:{skew:+.2f}")

    paper = _paper(gray, dpi)
    lo, mid, hi = np.percentile(paper, (2, 50, 98))
    if hi - lo > 25 or mid < 200:
        # Uneven light or grey paper: divide out the paper so a global threshold works again.
        full = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
        gray = cv2.divide(gray, np.maximum(full, 1), scale=255)
        steps.append("flatten_illumination")

    sigma = _noise_sigma(gray)
    if sigma > 6.0:
        gray = cv2.medianBlur(gray, 3)
        steps.append(f"denoise:median3(sigma={sigma:.0f})")

    border = _edge_ink(gray, dpi)
    if border is not None:
        gray = gray.copy()
        gray[border] = 255
        steps.append("remove_border")

    return gray, Cleanup(
        orientation=orient.rotate,
        orientation_method=orient.method,
        orientation_confidence=float(orient.confidence),
        skew=skew,
        steps=tuple(steps),
    )
