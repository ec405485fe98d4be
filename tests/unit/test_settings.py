"""Settings: defaults, environment overrides, validation, frozen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from migrate.settings import Settings, load_settings


def test_defaults_put_sqlite_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARTMIGRATE_DB", raising=False)  # set when the suite runs on PostgreSQL
    settings = Settings(home=tmp_path / "data")
    home = (tmp_path / "data").resolve()
    assert settings.home == home
    assert settings.db is None
    assert settings.database_url == f"sqlite:///{home / 'chartmigrate.db'}"
    assert settings.blob_dir == home / "blobs"
    assert settings.ocr_lang == "eng"
    assert settings.workers >= 1
    assert settings.watch_settle_s == 2.0
    assert settings.max_page_pixels == 120_000_000


def test_default_home_is_data_in_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().home == tmp_path.resolve() / "data"
    assert Settings(home=Path("rel/data")).home == tmp_path.resolve() / "rel" / "data"


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTMIGRATE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("CHARTMIGRATE_WATCH_SETTLE_S", "0.2")
    monkeypatch.setenv("CHARTMIGRATE_DB", "sqlite:////elsewhere/x.db")
    s = load_settings(home=None, db=None)  # None means "not given on the command line"
    assert s.home == (tmp_path / "h").resolve()
    assert s.watch_settle_s == 0.2
    assert s.database_url == "sqlite:////elsewhere/x.db"
    assert load_settings(db="sqlite:////given.db").database_url == "sqlite:////given.db"


def test_invalid_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, ocr_psm=99)
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, workers=0)


def test_settings_are_frozen_and_varied_by_copy(settings: Settings) -> None:
    with pytest.raises(ValidationError):
        settings.workers = 7  # type: ignore[misc]
    other = settings.model_copy(update={"workers": 7})
    assert other.workers == 7
    assert settings.workers == (os.cpu_count() or 1)
    assert other.database_url == settings.database_url


def test_broker_redelivery_must_outlast_a_page(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="task_visibility_s"):
        Settings(home=tmp_path, task_visibility_s=60, ocr_timeout_s=60)
    assert Settings(home=tmp_path, task_visibility_s=61, ocr_timeout_s=60).task_visibility_s == 61
