"""The one place that reads the environment: a frozen, validated settings object."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.cwd() / "data"


class Settings(BaseSettings):
    """Configuration for every command; pass it explicitly, vary it with ``model_copy``."""

    model_config = SettingsConfigDict(env_prefix="CHARTMIGRATE_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=_default_home, description="data folder: blobs, quarantine, database")
    db: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home")
    broker: str | None = Field(default=None, description="Celery broker URL (scale-out)")

    # A queued page's message goes back to the queue this long after a worker took it and vanished
    # (host lost); it must exceed the longest task, one page's OCR with its time-out.
    task_visibility_s: int = Field(default=900, ge=10, description="broker redelivery time-out")
    task_max_attempts: int = Field(default=3, ge=1, description="starts of one page before its document fails")

    ocr_lang: str = "eng"
    # 4 (one column, variable sizes) keeps a form label and its value on one line; measured on the
    # dev charts it beats 3 (auto layout), which drops label columns of dotted-leader forms.
    ocr_psm: int = Field(default=4, ge=0, le=13)
    ocr_timeout_s: int = Field(default=180, gt=0, description="per page")
    page_image_quality: int = Field(default=85, ge=30, le=100, description="JPEG quality of stored page images")
    render_dpi: int = Field(default=300, ge=72, le=600, description="PDF pages without a single scan image")
    max_page_pixels: int = Field(default=120_000_000, gt=0, description="larger pages are refused as bombs")
    min_text_layer_chars: int = Field(default=40, ge=1, description="a PDF text layer shorter is not trusted")
    unreadable_confidence: float = Field(default=0.35, ge=0, le=1)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    watch_settle_s: float = Field(default=2.0, ge=0, description="a file is complete once its size held this long")

    # Master patient index. No false links is the first goal: a link needs a posterior this high
    # and no hard disagreement (different given name, birth date, Jr/Sr); review below it.
    mpi_link_threshold: float = Field(default=0.99, gt=0, le=1)
    mpi_review_threshold: float = Field(default=0.5, gt=0, le=1)
    mrn_prefix: str = Field(default="CM", pattern=r"^[A-Z]{0,6}$", description="prefix of MRNs this tool issues")

    # Review app. Sessions end after this much inactivity; this many failed logins in a row lock the
    # account for lockout_min; a claim on a draft lapses when its technician stops working on it.
    session_idle_min: int = Field(default=20, ge=1, le=24 * 60)
    lockout_failures: int = Field(default=5, ge=1)
    lockout_min: int = Field(default=15, ge=1)
    claim_min: int = Field(default=30, ge=1)
    # Cookies carry the Secure flag: browsers send them over https, and to http://127.0.0.1 /
    # localhost, which they treat as secure. Turn off only behind a proxy that terminates TLS oddly.
    cookie_secure: bool = True

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @model_validator(mode="after")
    def _redelivery_after_the_longest_page(self) -> Settings:
        if self.task_visibility_s <= self.ocr_timeout_s:
            raise ValueError("task_visibility_s must be longer than ocr_timeout_s, or pages would run twice")
        return self

    @property
    def database_url(self) -> str:
        return self.db or f"sqlite:///{self.home / 'chartmigrate.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit command-line overrides applied on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
