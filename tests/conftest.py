"""Shared fixtures: settings in a temporary data folder, and generators of small synthetic scans.

Every resource is generated at test time (see ``tests/resources/README.md``); nothing here
mocks Tesseract, Poppler or SQLite.
"""

from __future__ import annotations

import io
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from migrate.db.session import dispose_engine, migrate_to_head
from migrate.settings import Settings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LETTER_IN = (8.5, 11.0)

# Clinical-looking lines with distinctive words Tesseract reads well at 150 dpi and ~16 pt.
CHART_LINES = [
    "RIVERSIDE CLINIC PROGRESS NOTE",
    "Reason for visit: persistent cough",
    "History: hypertension and asthma",
    "Medication: lisinopril daily",
    "Allergies: penicillin causes hives",
    "Examination: lungs clear bilaterally",
    "Assessment: bronchitis improving",
    "Plan: continue inhaler as needed",
    "Referral to cardiology next month",
    "Signed by attending physician",
]


def page_lines(tag: str, n: int = 10) -> list[str]:
    """Chart lines with a first line that makes the page's bytes (and text) unique."""
    return [f"Chart page {tag}", *CHART_LINES[: n - 1]]


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def distinctive(lines: Sequence[str]) -> set[str]:
    """The words of five letters or more on a page: what OCR must find again."""
    return {w for w in words_of(" ".join(lines)) if len(w) >= 5 and w.isalpha()}


def found_ratio(text: str, lines: Sequence[str]) -> float:
    expected = distinctive(lines)
    return len(expected & words_of(text)) / len(expected)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """No CHARTMIGRATE_* variable from the caller's shell may steer a test (e.g. a real database)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("CHARTMIGRATE_"):
                mp.delenv(key)
        yield


# --------------------------------------------------------------------------------------------
# Database backend: the whole suite runs once on SQLite and once on PostgreSQL (make test)
# --------------------------------------------------------------------------------------------

BACKEND = os.environ.get("CM_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"CM_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}")


def _pg_admin_url() -> str:
    url = os.environ.get("CM_TEST_PG_URL")
    if not url:
        raise pytest.UsageError(
            "CM_TEST_PG_URL is not set: start the services with `eval $(scripts/services.sh start)`"
        )
    return url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): tests SQLite's own file; skipped on PostgreSQL")
    config.addinivalue_line("markers", "shared_database: the module's tests share one database (module fixtures)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"chartmigrate database backend: {BACKEND}"


class PgDatabases:
    """Creates a fresh database per test from a template that already holds the current schema."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.prefix = f"cmtest_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.count = 0

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(sql))

    def make_template(self) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        self.execute(f"CREATE DATABASE {self.template}")
        migrate_to_head(self.url(self.template))
        dispose_engine(self.url(self.template))

    def create(self, *, empty: bool = False) -> str:
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        self.execute(f"CREATE DATABASE {name}" + ("" if empty else f" TEMPLATE {self.template}"))
        return name

    def drop(self, name: str) -> None:
        dispose_engine(self.url(name))
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self.drop(self.template)
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases(_pg_admin_url())
    dbs.make_template()
    yield dbs
    dbs.close()


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """A fresh PostgreSQL database with the current schema (whatever the run's backend)."""
    name = pg_databases.create()
    yield pg_databases.url(name)
    pg_databases.drop(name)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without any table, on the run's backend."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty' / 'chartmigrate.db'}"
        return
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    name = dbs.create(empty=True)
    yield dbs.url(name)
    dbs.drop(name)


@pytest.fixture
def own_database(request: pytest.FixtureRequest) -> str | None:
    """A database of this test's own inside a ``shared_database`` module (None: SQLite's default file)."""
    return None if BACKEND == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", autouse=True)
def module_database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """On PostgreSQL, one database for a module marked ``shared_database`` (its module-scoped
    fixtures ingest once and every test reads the result); None otherwise."""
    if BACKEND == "sqlite" or request.node.get_closest_marker("shared_database") is None:
        yield None
        return
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    name = dbs.create()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHARTMIGRATE_DB", dbs.url(name))
        yield dbs.url(name)
    dbs.drop(name)


@pytest.fixture(autouse=True)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, module_database_url: str | None) -> Iterator[str]:
    """The run's database for this test. On PostgreSQL it is a fresh database (or the module's
    shared one), exported as CHARTMIGRATE_DB so that Settings() and CLI subprocesses use it; on
    SQLite the default file under the test's data folder."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'chartmigrate.db'}"
        return
    marker = request.node.get_closest_marker("sqlite_only")
    if marker is not None:
        pytest.skip(f"SQLite only: {marker.args[0] if marker.args else ''}")
    if module_database_url is not None:
        yield module_database_url
        return
    url = request.getfixturevalue("pg_url")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHARTMIGRATE_DB", url)
        yield url


@pytest.fixture
def redis_url() -> str:
    """An emptied Redis database of the test services (the broker of queue tests)."""
    import redis

    base = os.environ.get("CM_TEST_REDIS_URL")
    if not base:
        raise pytest.UsageError("CM_TEST_REDIS_URL is not set: run `eval $(scripts/services.sh start)`")
    url = f"{base.rstrip('/')}/7"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "data")


def run_together(fns: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the functions in threads released at the same moment."""
    gate = threading.Barrier(len(fns))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(fn: Callable[[], Any]) -> None:
        gate.wait()
        try:
            value = fn()
        except BaseException as e:
            with lock:
                errors.append(e)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: none of the caller's CHARTMIGRATE_* settings, but the
    test's database when the run is on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTMIGRATE_")}
    if "CHARTMIGRATE_DB" in os.environ:  # set by the database_url fixture, never by the caller
        env["CHARTMIGRATE_DB"] = os.environ["CHARTMIGRATE_DB"]
    env["CHARTMIGRATE_HOME"] = str(home)
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Page images
# --------------------------------------------------------------------------------------------


def render_page(
    lines: Sequence[str],
    *,
    dpi: int = 150,
    font_size: float = 16,
    skew: float = 0,
    orientation: int = 0,
    noise: float = 0,
    size_in: tuple[float, float] = LETTER_IN,
    seed: int = 0,
) -> Image.Image:
    """A grayscale page with ``lines`` of DejaVu Sans (``font_size`` in points).

    ``skew``: the page is then rotated counter-clockwise by this many degrees (as a crooked feed).
    ``orientation``: then turned counter-clockwise by this quarter turn (0/90/180/270), so it takes
    ``orientation`` degrees clockwise to make it upright again.
    ``noise``: standard deviation of Gaussian pixel noise added last.
    """
    w, h = round(size_in[0] * dpi), round(size_in[1] * dpi)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, round(font_size * dpi / 72))
    x = y = round(0.75 * dpi)
    step = round(font_size * dpi / 72 * 1.7)
    for line in lines:
        draw.text((x, y), line, fill=0, font=font)
        y += step
    if skew:
        img = img.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    turns = {
        0: None,
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    if turns[orientation] is not None:
        img = img.transpose(turns[orientation])
    if noise:
        rng = np.random.default_rng(seed)
        arr = np.asarray(img, dtype=np.float64) + rng.normal(0, noise, (img.height, img.width))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    img.info["dpi"] = (dpi, dpi)
    return img


def noise_page(*, dpi: int = 150, size_in: tuple[float, float] = (5.0, 4.0), seed: int = 1) -> Image.Image:
    """Salt-and-pepper speckle: ink everywhere, no letters (a page OCR cannot read)."""
    rng = np.random.default_rng(seed)
    w, h = round(size_in[0] * dpi), round(size_in[1] * dpi)
    arr = np.where(rng.random((h, w)) < 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def blank_page(*, dpi: int = 150, size_in: tuple[float, float] = (5.0, 4.0)) -> Image.Image:
    return Image.new("L", (round(size_in[0] * dpi), round(size_in[1] * dpi)), 255)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def write_png(path: Path, img: Image.Image, dpi: int = 150) -> Path:
    img.save(path, format="PNG", dpi=(dpi, dpi))
    return path


def write_jpeg(path: Path, img: Image.Image, dpi: int = 150) -> Path:
    img.save(path, format="JPEG", quality=90, dpi=(dpi, dpi))
    return path


def write_tiff(path: Path, imgs: Sequence[Image.Image], dpi: int = 150) -> Path:
    first, *rest = imgs
    first.save(path, format="TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(dpi, dpi))
    return path


def write_image_pdf(path: Path, imgs: Sequence[Image.Image], dpi: int = 150) -> Path:
    """A scanned-looking PDF: each page one embedded image, no text layer."""
    first, *rest = (i.convert("L") for i in imgs)
    first.save(path, format="PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return path


def text_pdf_bytes(lines: Sequence[str], *, font_size: int = 14) -> bytes:
    """A born-digital one-page letter PDF with a real text layer (Helvetica), written by hand."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = [f"BT /F1 {font_size} Tf {int(font_size * 1.5)} TL 72 720 Td"]
    for i, line in enumerate(lines):
        ops.append(f"({esc(line)}) Tj" if i == 0 else f"T* ({esc(line)}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def write_text_pdf(path: Path, lines: Sequence[str]) -> Path:
    path.write_bytes(text_pdf_bytes(lines))
    return path


def write_encrypted_pdf(path: Path, lines: Sequence[str], password: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf_bytes(lines))))
    writer.encrypt(password)
    with path.open("wb") as f:
        writer.write(f)
    return path


def write_png_bomb(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A real, tiny PNG whose header is patched to claim ``width`` x ``height`` pixels (CRC fixed)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def write_corrupt_pdf(path: Path, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    path.write_bytes(b"%PDF-1.7\n" + rng.bytes(4000).replace(b"%%EOF", b"xxxxx") + b"\n%%EOF\n")
    return path


def write_truncated_pdf(path: Path, lines: Sequence[str]) -> Path:
    data = text_pdf_bytes(lines)
    path.write_bytes(data[: len(data) // 2])
    return path
