"""The hot folder through the real command line: good files to processed/, bad ones to quarantine/."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from migrate.settings import Settings
from tests.conftest import cli_env, page_lines, write_text_pdf
from tests.integration.conftest import documents, run_cli, summary_counts

FAST = {"CHARTMIGRATE_WATCH_SETTLE_S": "0.2"}


def test_watch_once_files_good_and_bad_away(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    (hot / "station2").mkdir(parents=True)
    write_text_pdf(hot / "typed.pdf", page_lines("watched"))
    write_text_pdf(hot / "station2" / "other.pdf", page_lines("second station"))
    (hot / "bad.txt").write_text("not a chart\n", encoding="utf-8")
    home = tmp_path / "data"

    r = run_cli(home, "watch", str(hot), "--once", "--interval", "0.1", timeout=120, **FAST)

    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert summary_counts(r.stdout) == {"processed": 2, "duplicates": 0, "failed": 1, "pages": 2}
    assert sorted(p.relative_to(hot).as_posix() for p in hot.rglob("*") if p.is_file()) == [
        "processed/station2/other.pdf",
        "processed/typed.pdf",
        "quarantine/bad.txt",
        "quarantine/bad.txt.error.txt",
    ]
    error_lines = (hot / "quarantine" / "bad.txt.error.txt").read_text(encoding="utf-8").splitlines()
    assert len(error_lines) == 1
    assert error_lines[0].startswith("unsupported_type: unsupported file type")
    docs = documents(Settings(home=home))
    assert {name: d.status for name, d in docs.items()} == {
        "typed.pdf": "done",
        "other.pdf": "done",
        "bad.txt": "failed",
    }


def test_watch_once_on_an_empty_folder_returns(tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    r = run_cli(tmp_path / "data", "watch", str(hot), "--once", "--interval", "0.1", timeout=60, **FAST)
    assert r.returncode == 0, r.stderr
    assert (hot / "processed").is_dir() and (hot / "quarantine").is_dir()


def test_watch_refuses_a_missing_folder(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "data", "watch", str(tmp_path / "nowhere"), "--once", timeout=60, **FAST)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: not a folder")


def test_watch_leaves_its_own_data_folder_alone(tmp_path: Path) -> None:
    """`chartmigrate watch .` with the default data folder ./data: the store lies inside the hot folder."""
    hot = tmp_path / "hot"
    hot.mkdir()
    home = hot / "data"
    write_text_pdf(hot / "typed.pdf", page_lines("watched"))
    with (tmp_path / "watch.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", "watch", str(hot), "--once", "--interval", "0.1"],
            env=cli_env(home, **FAST),
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    output = (tmp_path / "watch.log").read_text(encoding="utf-8", errors="replace")
    assert (home / "blobs").is_dir(), output
    assert not (hot / "quarantine" / "data").exists(), output
    assert not (hot / "processed" / "data").exists(), output
    assert (hot / "processed" / "typed.pdf").exists()
    assert proc.returncode == 0, output
