"""watch.Settling: a file is taken only once its size and mtime have held still long enough."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from migrate.watch import Settling


def _grow(path: Path, data: bytes, step: int) -> None:
    with path.open("ab") as f:
        f.write(data)
    # force a visibly different mtime even on coarse-grained filesystems
    os.utime(path, ns=(step * 1_000_000_000, step * 1_000_000_000))


def test_file_still_growing_is_not_taken(tmp_path: Path) -> None:
    f = tmp_path / "scan.tif"
    f.write_bytes(b"II*\x00" + bytes(100))
    s = Settling()
    assert s.ready([f], 1.0, now=100.0) == []
    for i, now in enumerate((100.6, 101.2, 101.8, 102.4), start=1):
        _grow(f, b"more pixels", i)
        assert s.ready([f], 1.0, now=now) == []  # each change restarts the clock
    assert s.ready([f], 1.0, now=102.9) == []
    assert s.ready([f], 1.0, now=103.4) == [f]


def test_empty_file_waits_three_times_longer(tmp_path: Path) -> None:
    f = tmp_path / "incoming.pdf"
    f.touch()
    s = Settling()
    assert s.ready([f], 1.0, now=0.0) == []
    assert s.ready([f], 1.0, now=2.9) == []
    assert s.ready([f], 1.0, now=3.0) == [f]


def test_vanished_file_is_forgotten(tmp_path: Path) -> None:
    f = tmp_path / "scan.png"
    f.write_bytes(b"x")
    s = Settling()
    s.ready([f], 1.0, now=0.0)
    f.unlink()
    assert s.ready([f], 1.0, now=5.0) == []  # listed but gone: skipped, not crashed
    assert s.ready([], 1.0, now=5.0) == []
    assert f not in s.seen
    f.write_bytes(b"x")
    assert s.ready([f], 1.0, now=6.0) == []  # a new arrival starts a new wait
    assert s.ready([f], 1.0, now=7.0) == [f]


@hsettings(max_examples=150, deadline=None, database=None)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.floats(min_value=0.0, max_value=1.5)), min_size=1, max_size=12),
    settle=st.floats(min_value=0.1, max_value=1.0),
    start_empty=st.booleans(),
)
def test_ready_matches_a_simple_model(steps: list[tuple[bool, float]], settle: float, start_empty: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "scan.pdf"
        f.write_bytes(b"" if start_empty else b"%PDF-")
        _grow(f, b"", 0)
        s = Settling()
        now = 0.0
        changed_at = now
        first = True
        for i, (grow, dt) in enumerate(steps, start=1):
            now += dt
            if grow:
                _grow(f, b"x", i)
            if first or grow:
                changed_at = now
                first = False
            size = f.stat().st_size
            wait = settle * 3 if size == 0 else settle
            expected = [f] if now - changed_at >= wait else []
            assert s.ready([f], settle, now) == expected
