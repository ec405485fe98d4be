"""preprocess.clean: recovers quarter turns and skew with the sign conventions of records.Cleanup."""

from __future__ import annotations

import numpy as np
import pytest

from migrate.pipeline import _osd
from migrate.stages.preprocess import clean
from tests.conftest import blank_page, noise_page, page_lines, render_page


@pytest.mark.parametrize("orientation", [0, 90, 180, 270])
def test_quarter_turns_are_recovered(orientation: int) -> None:
    upright = np.asarray(render_page(page_lines("orient")))
    gray, cleanup = clean(np.asarray(render_page(page_lines("orient"), orientation=orientation)), 150, osd=_osd)
    # Cleanup.orientation: degrees turned clockwise to make the page upright
    assert cleanup.orientation == orientation
    assert abs(cleanup.skew) < 0.5
    assert gray.shape == upright.shape
    assert (f"rotate:{orientation}" in cleanup.steps) == bool(orientation)
    # the page comes back upright: its ink lies where the upright page's ink lies
    ink, ink_upright = gray < 128, upright < 128
    assert (ink & ink_upright).sum() / (ink | ink_upright).sum() > 0.9


@pytest.mark.parametrize("skew", [3, -3, 8, -8, 12, -12])
def test_skew_is_measured_and_undone(skew: float) -> None:
    _, cleanup = clean(np.asarray(render_page(page_lines("skew"), skew=skew)), 150, osd=_osd)
    # the page was turned counter-clockwise by `skew`; Cleanup.skew is the counter-clockwise
    # rotation that straightens it, so it is the opposite angle
    assert cleanup.orientation == 0
    assert abs(cleanup.skew - (-skew)) < 0.5
    assert any(s.startswith("deskew:") for s in cleanup.steps)


@pytest.mark.parametrize(("orientation", "skew"), [(90, 5), (180, -9), (270, 6)])
def test_turned_and_skewed(orientation: int, skew: float) -> None:
    page = render_page(page_lines("both"), skew=skew, orientation=orientation)
    _, cleanup = clean(np.asarray(page), 150, osd=_osd)
    assert cleanup.orientation == orientation
    assert abs(cleanup.skew - (-skew)) < 0.5


def test_straight_upright_page_is_left_alone() -> None:
    page = np.asarray(render_page(page_lines("plain")))
    gray, cleanup = clean(page, 150, osd=_osd)
    assert cleanup.orientation == 0
    assert not any(s.startswith(("rotate", "deskew")) for s in cleanup.steps)
    assert gray.shape == page.shape


def test_blank_page_is_flagged_not_crashed() -> None:
    page = np.asarray(blank_page())
    gray, cleanup = clean(page, 150, osd=_osd)
    assert cleanup.steps == ("blank",)
    assert cleanup.orientation == 0
    assert np.array_equal(gray, page)


def test_noise_page_does_not_crash() -> None:
    page = np.asarray(noise_page())
    gray, cleanup = clean(page, 150, osd=_osd)
    assert gray.dtype == np.uint8
    assert cleanup.orientation in (0, 90, 180, 270)
    assert abs(cleanup.skew) <= 15
