"""OCR benchmark: our pipeline (clean-up + Tesseract) against raw Tesseract on the dev charts.

One run measures, side by side:

1. character error rate (CER) of our page text and of raw ``tesseract PAGE stdout`` on the
   unprocessed page image, against the truth text, by page group (rotated, skewed, clean-ish);
2. seconds per page with one worker, against raw Tesseract run sequentially (default threading
   and ``OMP_THREAD_LIMIT=1``);
3. throughput with two workers against one;
4. peak memory of ``chartmigrate ingest BIG.pdf --workers 2`` on a many-page image-only PDF.

Usage: ``python benchmarks/ocr_bench.py`` (see ``--help``; ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select

import migrate
from migrate.batch import run_batch
from migrate.db.models import Document, Page
from migrate.db.session import unit_of_work
from migrate.filetypes import sniff
from migrate.records import DocumentResult, PageOutcome
from migrate.settings import Settings
from migrate.stages.load import load_page

REPO = Path(__file__).resolve().parent.parent
MIGRATE_DIR = Path(migrate.__file__).resolve().parent  # the code measured (a snapshot copy, normally)
DEFAULT_CHARTS = (REPO / ".." / "shared" / "dev-charts").resolve()
CHARTMIGRATE = Path(sys.executable).parent / "chartmigrate"
CHART_SUFFIXES = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}

SKEW_LIMIT = 1.0  # degrees: at or above this a page counts as skewed
TARGET_ROT_SKEW_RATIO = 0.5  # ours/raw CER on rotated-or-skewed pages, at most
TARGET_CLEAN_RATIO = 1.0  # ours/raw CER on clean-ish pages, at most
TARGET_SPEED_RATIO = 1.3  # ours/raw seconds per page, at most
TARGET_SCALING = 1.8  # pages/s with 2 workers over 1 worker, at least
TARGET_PEAK_BYTES = 1 << 30  # peak RSS of the whole process tree, below
SAMPLE_S = 0.2
RAW_TIMEOUT_S = 600

GROUPS = ("rotated", "skewed", "clean-ish", "rotated+skewed", "all")


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True, slots=True)
class TruthPage:
    chart: str  # file name, e.g. chart_0001.pdf
    number: int
    text: str
    orientation: int
    skew: float
    dpi: int
    degradations: tuple[str, ...]
    stamp: str | None

    @property
    def name(self) -> str:
        return f"{self.chart} p{self.number}"

    @property
    def group(self) -> str:
        if self.orientation != 0:
            return "rotated"
        return "skewed" if abs(self.skew) >= SKEW_LIMIT else "clean-ish"


@dataclass(frozen=True, slots=True)
class Chart:
    path: Path
    pages: tuple[TruthPage, ...]


def load_charts(folder: Path, limit: int | None) -> list[Chart]:
    """Charts with their truth, sorted by name; the first ``limit`` when given."""
    charts: list[Chart] = []
    for truth_file in sorted(folder.glob("chart_*.truth.json")):
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        path = folder / truth["file"]
        if path.suffix.lower() not in CHART_SUFFIXES or not path.is_file():
            continue
        pages = tuple(
            TruthPage(
                chart=path.name,
                number=int(p["number"]),
                text=p["text"],
                orientation=int(p.get("orientation") or 0),
                skew=float(p.get("skew") or 0.0),
                dpi=int(p.get("dpi") or 0),
                degradations=tuple(p.get("degradations") or ()),
                stamp=p.get("stamp"),
            )
            for p in truth["pages"]
        )
        charts.append(Chart(path, pages))
    return charts if limit is None else charts[:limit]


@dataclass(frozen=True, slots=True)
class RawPage:
    truth: TruthPage
    png: Path
    dpi: int  # resolution the page was loaded at (scan resolution for PDFs)
    width: int
    height: int


def export_pages(
    charts: list[Chart], out: Path, settings: Settings, *, fmt: str = "png", quiet: bool = False
) -> list[RawPage]:
    """Every page as loaded from its file (before our clean-up), saved with its resolution."""
    out.mkdir(parents=True, exist_ok=True)
    pages: list[RawPage] = []
    for chart in charts:
        media = sniff(chart.path)
        for truth in chart.pages:
            loaded = load_page(chart.path, media, truth.number, settings)
            target = out / f"{chart.path.stem}_p{truth.number}.{fmt}"
            img = Image.fromarray(loaded.gray)
            if fmt == "png":
                img.save(target, dpi=(loaded.dpi, loaded.dpi), compress_level=1)
            else:
                img.save(target, dpi=(loaded.dpi, loaded.dpi), quality=85)
            pages.append(RawPage(truth, target, loaded.dpi, loaded.gray.shape[1], loaded.gray.shape[0]))
        if not quiet:
            progress(f"  exported {chart.path.name} ({len(chart.pages)} pages, {media.value})")
    return pages


# --------------------------------------------------------------------------- measurements


SNAPSHOT_ENV = "OCR_BENCH_CODE_SNAPSHOT"
CODE_SOURCES = {
    "head": "a copy of the last commit",
    "worktree": "a copy of the working tree",
    "live": "the repository (live files)",
}


def _digest(package: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def code_state() -> dict[str, str | None]:
    """Which code is measured: the repository's commit, and digests of migrate/ as imported and as on disk."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "migrate"], capture_output=True, text=True
    )
    return {
        "commit": head.stdout.strip() or None,
        "migrate_uncommitted_changes": "yes" if dirty.stdout.strip() else "no",
        "imported_from": str(MIGRATE_DIR),
        "imported_digest": _digest(MIGRATE_DIR),
        "repo_digest": _digest(REPO / "migrate"),
    }


def run_on_snapshot(argv: list[str], source: str) -> int:
    """Run this script again on a frozen copy of migrate/, so edits made meanwhile don't leak into the run.

    ``source`` "head" copies the last commit (``git archive``), "worktree" the files as they are now.
    The copy goes first on PYTHONPATH, which the worker processes and the ``chartmigrate`` subprocess inherit.
    """
    snapshot = Path(tempfile.mkdtemp(prefix="ocr-bench-code-"))
    try:
        if source == "head":
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", "migrate"], capture_output=True, check=False
            )
            if archive.returncode != 0:
                progress(f"git archive failed: {archive.stderr.decode(errors='replace').strip()[:200]}")
                return 2
            subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive.stdout, check=True)
        else:
            shutil.copytree(REPO / "migrate", snapshot / "migrate", ignore=shutil.ignore_patterns("__pycache__"))
        path = os.pathsep.join(p for p in (str(snapshot), os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path, **{SNAPSHOT_ENV: source})
        return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], env=env, check=False).returncode
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def normalise(text: str) -> str:
    return " ".join(text.split())


def edits(hypothesis: str, truth: str) -> int:
    return int(Levenshtein.distance(normalise(hypothesis), normalise(truth)))


def tesseract_env(single_thread: bool) -> dict[str, str]:
    """The environment for raw Tesseract; our serial executor sets OMP_THREAD_LIMIT=1 in this process."""
    env = dict(os.environ)
    env.pop("OMP_THREAD_LIMIT", None)
    if single_thread:
        env["OMP_THREAD_LIMIT"] = "1"
    return env


def run_raw_tesseract(pages: list[RawPage], *, single_thread: bool) -> tuple[dict[str, str], float]:
    """``tesseract PAGE stdout`` on each page in turn: texts by page name, and total wall seconds."""
    env = tesseract_env(single_thread)
    texts: dict[str, str] = {}
    started = time.perf_counter()
    for i, page in enumerate(pages, start=1):
        proc = subprocess.run(
            ["tesseract", str(page.png), "stdout"],
            capture_output=True,
            env=env,
            timeout=RAW_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"tesseract failed on {page.truth.name}: {proc.stderr.decode(errors='replace')[:300]}")
        texts[page.truth.name] = proc.stdout.decode("utf-8", errors="replace")
        if i % 10 == 0 or i == len(pages):
            progress(f"  raw tesseract ({'1 thread' if single_thread else 'default threads'}): {i}/{len(pages)} pages")
    return texts, time.perf_counter() - started


class ProgressPrinter:
    """Batch observer that prints a line every ``every`` pages (to stderr, so the tables stay clean)."""

    def __init__(self, label: str, every: int = 10) -> None:
        self.label, self.every = label, every
        self.total = self.done = 0
        self.started = time.perf_counter()

    def planned(self, pages: int) -> None:
        self.total = pages

    def page_done(self, outcome: PageOutcome) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            progress(f"  {self.label}: {self.done}/{self.total} pages, {time.perf_counter() - self.started:.0f} s")

    def document_done(self, result: DocumentResult) -> None:
        if result.status == "failed":
            progress(f"  {self.label}: document {result.document_id} failed: {result.error_message}")


@dataclass(slots=True)
class OurRun:
    workers: int
    seconds: float  # wall time of run_batch
    pages: int
    page_seconds: float  # sum of per-page build times recorded by the pipeline
    failed: list[str]
    texts: dict[str, str] = field(default_factory=dict)
    cleanup: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)


def run_ours(charts: list[Chart], home: Path, workers: int) -> OurRun:
    settings = Settings(home=home)
    paths = [c.path for c in charts]
    started = time.perf_counter()
    summary = run_batch(paths, settings, workers=workers, observer=ProgressPrinter(f"ours, {workers} worker(s)"))
    seconds = time.perf_counter() - started
    by_source = {str(c.path): c.path.name for c in charts}
    run = OurRun(workers, seconds, 0, 0.0, [r.path for r in summary.failed])
    with unit_of_work(settings.database_url) as session:
        rows = session.execute(select(Document.source_path, Page).join(Page, Page.document_id == Document.id))
        for source, page in rows:
            name = f"{by_source.get(source, Path(source).name)} p{page.number}"
            run.texts[name] = page.text
            run.cleanup[name] = dict(page.cleanup)
            run.flags[name] = list(page.flags)
            run.pages += 1
            run.page_seconds += page.seconds
    return run


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def _children_cpu_s() -> float:
    """CPU seconds of our live child processes, including their reaped descendants.

    Pool workers are children of the multiprocessing forkserver (our child, which outlives the pool):
    once the pool has shut down, their CPU shows in the forkserver's cutime/cstime.
    """
    me, total = os.getpid(), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def wait_idle(max_s: float, *, busy_below: float = 0.25, window_s: float = 2.0) -> float:
    """Wait (up to ``max_s``) until the machine's CPUs are nearly idle; returns the seconds waited."""
    started = time.perf_counter()
    told = False
    cpus = os.cpu_count() or 1
    while time.perf_counter() - started < max_s:
        b0, t0 = _machine_jiffies()
        time.sleep(window_s)
        b1, t1 = _machine_jiffies()
        busy = (b1 - b0) / (t1 - t0) * cpus if t1 > t0 else 0.0
        if busy < busy_below:
            break
        if not told:
            progress(f"  machine busy ({busy:.2f} cores used by other processes): waiting up to {max_s:.0f} s")
            told = True
    return time.perf_counter() - started


class CpuMeter:
    """CPU used during a phase: the whole machine's, and ours (this process + its reaped children).

    Timings are only comparable on an otherwise idle machine; ``other_cores`` shows what else ran.
    """

    def __init__(self, label: str, idle_wait_s: float = 0.0) -> None:
        self.label, self.idle_wait_s = label, idle_wait_s
        self.figures: dict[str, Any] = {}

    def __enter__(self) -> CpuMeter:
        if self.idle_wait_s > 0:
            wait_idle(self.idle_wait_s)
        self._t0 = time.perf_counter()
        self._m0 = _machine_jiffies()
        self._o0 = os.times()
        self._c0 = _children_cpu_s()
        self._load0 = os.getloadavg()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        busy0, total0 = self._m0
        busy1, total1 = _machine_jiffies()
        o0, o1 = self._o0, os.times()
        own = (o1.user - o0.user) + (o1.system - o0.system)
        own += (o1.children_user - o0.children_user) + (o1.children_system - o0.children_system)
        own += _children_cpu_s() - self._c0
        cpus = os.cpu_count() or 1
        machine = (busy1 - busy0) / (total1 - total0) * cpus if total1 > total0 else None
        self.figures = {
            "phase": self.label,
            "wall_s": wall,
            "machine_busy_cores": machine,
            "own_cores": own / wall if wall else None,
            "other_cores": None if machine is None or not wall else max(0.0, machine - own / wall),
            "loadavg_1min_at_start": self._load0,
        }


# --------------------------------------------------------------------------- CER tables


@dataclass(slots=True)
class GroupCer:
    pages: int = 0
    truth_chars: int = 0
    ours_edits: int = 0
    raw_edits: int = 0
    ours_cer_sum: float = 0.0
    raw_cer_sum: float = 0.0

    def add(self, truth_chars: int, ours: int, raw: int) -> None:
        self.pages += 1
        self.truth_chars += truth_chars
        self.ours_edits += ours
        self.raw_edits += raw
        self.ours_cer_sum += ours / max(truth_chars, 1)
        self.raw_cer_sum += raw / max(truth_chars, 1)

    def figures(self) -> dict[str, float | int | None]:
        n, chars = max(self.pages, 1), max(self.truth_chars, 1)
        ours_mean, raw_mean = self.ours_cer_sum / n, self.raw_cer_sum / n
        ours_pooled, raw_pooled = self.ours_edits / chars, self.raw_edits / chars
        return {
            "pages": self.pages,
            "truth_chars": self.truth_chars,
            "ours_mean": ours_mean,
            "raw_mean": raw_mean,
            "ratio_mean": ours_mean / raw_mean if raw_mean else None,
            "ours_pooled": ours_pooled,
            "raw_pooled": raw_pooled,
            "ratio_pooled": ours_pooled / raw_pooled if raw_pooled else None,
        }


def page_rows(pages: list[RawPage], ours: OurRun, raw: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for page in pages:
        t = page.truth
        truth_chars = len(normalise(t.text))
        ours_text = ours.texts.get(t.name)
        ours_edits = edits(ours_text or "", t.text)
        raw_edits = edits(raw[t.name], t.text)
        cleanup = ours.cleanup.get(t.name, {})
        orient_ok = cleanup.get("orientation") == t.orientation if cleanup else None
        skew_found = cleanup.get("skew")
        rows.append(
            {
                "page": t.name,
                "group": t.group,
                "orientation": t.orientation,
                "skew": t.skew,
                "dpi": page.dpi,
                "degradations": list(t.degradations),
                "has_stamp": bool(t.stamp),
                "truth_chars": truth_chars,
                "ours_edits": ours_edits,
                "raw_edits": raw_edits,
                "ours_cer": ours_edits / max(truth_chars, 1),
                "raw_cer": raw_edits / max(truth_chars, 1),
                "ours_missing": ours_text is None,
                "ours_orientation": cleanup.get("orientation"),
                "orientation_ok": orient_ok,
                # our skew is the counter-clockwise correction, the truth the counter-clockwise damage
                "skew_error": None if skew_found is None else round(abs(float(skew_found) + t.skew), 2),
                "cleanup_steps": cleanup.get("steps"),
                "flags": ours.flags.get(t.name, []),
            }
        )
    return rows


def group_table(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    groups: dict[str, GroupCer] = {g: GroupCer() for g in GROUPS}
    for r in rows:
        members = [r["group"], "all"]
        if r["group"] in ("rotated", "skewed"):
            members.append("rotated+skewed")
        for g in members:
            groups[g].add(r["truth_chars"], r["ours_edits"], r["raw_edits"])
    return {g: groups[g].figures() for g in GROUPS}


# --------------------------------------------------------------------------- memory


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        children[int(fields[1])].append(int(entry.name))
    return children


def _tree(root: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of ``root`` and all its descendants."""
    children = _proc_children()
    out, todo = [], [(root, 0)]
    while todo:
        pid, parent = todo.pop()
        out.append((pid, parent))
        todo.extend((child, pid) for child in children.get(pid, []))
    return out


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _label(pid: int, parent: int) -> str:
    """What a process of the tree is: the command, or its role for Python processes of the pool."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
    cmd = _cmdline(pid)
    if "multiprocessing.forkserver" in cmd:
        return "pool worker" if "multiprocessing.forkserver" in _cmdline(parent) else "forkserver"
    if "multiprocessing.resource_tracker" in cmd:
        return "resource_tracker"
    return comm


@dataclass(slots=True)
class MemoryPeak:
    samples: int = 0
    total_rss_kib: int = 0
    total_pss_kib: int = 0
    single_rss_kib: int = 0
    single_name: str = ""
    max_processes: int = 0
    by_name_kib: dict[str, int] = field(default_factory=dict)

    def sample(self, root: int) -> int:
        """One sample of the tree under ``root``; returns its total RSS in KiB."""
        total_rss = total_pss = 0
        pids = _tree(root)
        for pid, parent in pids:
            rss = _kib(f"/proc/{pid}/status", "VmRSS:")
            if not rss:
                continue  # gone, or a zombie
            total_rss += rss
            total_pss += _kib(f"/proc/{pid}/smaps_rollup", "Pss:")
            name = _label(pid, parent) or "(exited while sampled)"
            self.by_name_kib[name] = max(self.by_name_kib.get(name, 0), rss)
            if rss > self.single_rss_kib:
                self.single_rss_kib, self.single_name = rss, f"{name} (pid {pid})"
        self.samples += 1
        self.total_rss_kib = max(self.total_rss_kib, total_rss)
        self.total_pss_kib = max(self.total_pss_kib, total_pss)
        self.max_processes = max(self.max_processes, len(pids))
        return total_rss


def build_big_pdf(pages: list[RawPage], count: int, out: Path) -> Path:
    """An image-only PDF of ``count`` pages, cycling through the given page JPEGs (embedded as they are)."""
    import img2pdf

    sources = [str(pages[i % len(pages)].png) for i in range(count)]
    with out.open("wb") as f:
        img2pdf.convert(sources, outputstream=f)
    return out


def _pages_stored(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            return int(conn.execute("SELECT count(*) FROM pages").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def run_big(pdf: Path, home: Path, workers: int, pages: int) -> dict[str, Any]:
    """``chartmigrate ingest BIG.pdf --workers N`` with the whole process tree's memory sampled."""
    env = dict(os.environ, CHARTMIGRATE_HOME=str(home))
    env.pop("OMP_THREAD_LIMIT", None)
    log = home.parent / "big-ingest.log"
    peak = MemoryPeak()
    started = time.perf_counter()
    last_report = started
    with log.open("wb") as logf:
        proc = subprocess.Popen(
            [str(CHARTMIGRATE), "ingest", str(pdf), "--workers", str(workers)],
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
        )
        while proc.poll() is None:
            current = peak.sample(proc.pid)
            now = time.perf_counter()
            if now - last_report >= 30:
                last_report = now
                done = _pages_stored(home / "chartmigrate.db")
                progress(
                    f"  big PDF: {done if done is not None else '?'}/{pages} pages, {now - started:.0f} s, "
                    f"tree RSS now {current / 1024:.0f} MiB, peak {peak.total_rss_kib / 1024:.0f} MiB"
                )
            time.sleep(SAMPLE_S)
    seconds = time.perf_counter() - started
    stored = _pages_stored(home / "chartmigrate.db")
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    return {
        "pages": pages,
        "pages_stored": stored,
        "workers": workers,
        "exit_code": proc.returncode,
        "seconds": seconds,
        "pages_per_s": (stored or 0) / seconds if seconds else None,
        "samples": peak.samples,
        "max_processes": peak.max_processes,
        "peak_total_rss_bytes": peak.total_rss_kib * 1024,
        "peak_total_pss_bytes": peak.total_pss_kib * 1024,
        "peak_single_rss_bytes": peak.single_rss_kib * 1024,
        "peak_single_process": peak.single_name,
        "peak_rss_by_command_bytes": {k: v * 1024 for k, v in sorted(peak.by_name_kib.items(), key=lambda kv: -kv[1])},
        "log_tail": tail,
    }


# --------------------------------------------------------------------------- report


def _f(value: float | int | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def _line(cells: list[str], widths: list[int]) -> str:
    first, *rest = zip(cells, widths, strict=True)
    return "  " + "  ".join([first[0].ljust(first[1]), *(c.rjust(w) for c, w in rest)])


def print_table(title: str, header: list[str], rows: Iterable[list[str]]) -> None:
    body = list(rows)
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    print(f"\n{title}")
    print(_line(header, widths))
    for r in body:
        print(_line(r, widths))


def report_cer(groups: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    print_table(
        "1. Character error rate vs truth (whitespace collapsed; truth excludes stamp text)",
        ["group", "pages", "ours mean", "raw mean", "ratio", "ours pooled", "raw pooled", "ratio"],
        (
            [
                g,
                str(v["pages"]),
                _f(v["ours_mean"]),
                _f(v["raw_mean"]),
                _f(v["ratio_mean"], ".2f"),
                _f(v["ours_pooled"]),
                _f(v["raw_pooled"]),
                _f(v["ratio_pooled"], ".2f"),
            ]
            for g, v in groups.items()
            if v["pages"]
        ),
    )
    worse = [r for r in rows if r["ours_edits"] > r["raw_edits"]]
    print(f"\n  pages where our CER is worse than raw tesseract: {len(worse)} of {len(rows)}")
    for r in worse:
        print(
            f"    {r['page']:<20} {r['group']:<9} orient {r['orientation']:>3} skew {r['skew']:+.2f}  "
            f"ours {r['ours_cer']:.3f} raw {r['raw_cer']:.3f}  ({', '.join(r['degradations'])})"
        )
    wrong = [r for r in rows if r["orientation_ok"] is False]
    print(f"  pages our clean-up turned to the wrong orientation: {len(wrong)}")
    for r in wrong:
        print(
            f"    {r['page']:<20} truth {r['orientation']} ours {r['ours_orientation']}  ours CER {r['ours_cer']:.3f}"
        )
    missing = [r["page"] for r in rows if r["ours_missing"]]
    if missing:
        print(f"  pages with no text stored by our pipeline (counted as empty): {', '.join(missing)}")
    stamped = sum(r["has_stamp"] for r in rows)
    print(f"  pages carrying a rubber stamp (its text is in neither truth; both sides pay for reading it): {stamped}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--charts", type=Path, default=DEFAULT_CHARTS, help="evaluation corpus (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="first N charts only (0: skip parts 1-3)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure (and per-page rows) here")
    parser.add_argument("--big-pages", type=int, default=500, help="pages in the memory test PDF (default 500)")
    parser.add_argument("--skip-big", action="store_true", help="skip the memory test on the big PDF")
    parser.add_argument("--big-workers", type=int, default=2, help="workers for the memory test (default 2)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        metavar="S",
        help="before each timed phase wait up to S seconds for other processes to leave the CPUs (default 60)",
    )
    parser.add_argument(
        "--code",
        choices=("head", "worktree", "live"),
        default="head",
        help="migrate/ measured: a copy of the last commit (default), a copy of the files as they are now, "
        "or the repository's files imported directly",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (page PNGs, databases)")
    args = parser.parse_args(argv)
    if args.code != "live" and not os.environ.get(SNAPSHOT_ENV):
        return run_on_snapshot(sys.argv[1:] if argv is None else argv, args.code)

    if shutil.which("tesseract") is None:
        progress("tesseract is not installed")
        return 2
    charts_all = load_charts(args.charts, None)
    if not charts_all:
        progress(f"no charts with truth found in {args.charts}")
        return 2
    charts = charts_all if args.limit is None else charts_all[: args.limit]
    tess_version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    results: dict[str, Any] = {
        "corpus": str(args.charts),
        "charts": len(charts),
        "tesseract": tess_version,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "skew_limit_deg": SKEW_LIMIT,
    }
    results["code_at_start"] = code_start = code_state()
    progress(f"measuring migrate/ of commit {code_start['commit']} from {MIGRATE_DIR}")
    targets: list[tuple[str, bool | None, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    progress(f"working folder: {tmp}")
    try:
        load_settings = Settings(home=tmp / "unused")
        if charts:
            total_pages = sum(len(c.pages) for c in charts)
            progress(f"[1/4] exporting {total_pages} unprocessed pages of {len(charts)} charts as PNG")
            pages = export_pages(charts, tmp / "raw-pages", load_settings)

            progress("[2/4] raw tesseract, default threading, then OMP_THREAD_LIMIT=1")
            with CpuMeter("raw tesseract, default threads", args.wait_idle) as m_raw_default:
                raw_texts, raw_default_s = run_raw_tesseract(pages, single_thread=False)
            with CpuMeter("raw tesseract, OMP_THREAD_LIMIT=1", args.wait_idle) as m_raw_single:
                raw_texts_1, raw_single_s = run_raw_tesseract(pages, single_thread=True)
            raw_differ = sorted(n for n in raw_texts if normalise(raw_texts[n]) != normalise(raw_texts_1[n]))

            progress("[3/4] our pipeline, 1 worker, then 2 workers")
            with CpuMeter("ours, workers=1", args.wait_idle) as m_ours1:
                ours1 = run_ours(charts, tmp / "home-w1", 1)
            with CpuMeter("ours, workers=2", args.wait_idle) as m_ours2:
                ours2 = run_ours(charts, tmp / "home-w2", 2)
            meters = [m_raw_default, m_raw_single, m_ours1, m_ours2]
            results["cpu"] = [m.figures for m in meters]

            rows = page_rows(pages, ours1, raw_texts)
            groups = group_table(rows)
            results["cer"] = {"groups": groups, "pages": rows, "raw_texts_differing_by_threads": raw_differ}

            n = len(pages)
            ours_spp = ours1.seconds / max(ours1.pages, 1)
            raw_default_spp, raw_single_spp = raw_default_s / n, raw_single_s / n
            best_label, best_spp = min(
                (("default threads", raw_default_spp), ("OMP_THREAD_LIMIT=1", raw_single_spp)), key=lambda t: t[1]
            )
            results["speed"] = {
                "pages": n,
                "ours_pages_stored": ours1.pages,
                "ours_wall_s": ours1.seconds,
                "ours_s_per_page": ours_spp,
                "ours_in_page_s_per_page": ours1.page_seconds / max(ours1.pages, 1),
                "raw_default_s": raw_default_s,
                "raw_default_s_per_page": raw_default_spp,
                "raw_single_s": raw_single_s,
                "raw_single_s_per_page": raw_single_spp,
                "ratio_vs_default": ours_spp / raw_default_spp,
                "ratio_vs_single": ours_spp / raw_single_spp,
                "best_raw": best_label,
                "ratio_vs_best": ours_spp / best_spp,
                "failed_documents": ours1.failed,
            }
            pps1 = ours1.pages / ours1.seconds
            pps2 = ours2.pages / ours2.seconds
            results["throughput"] = {
                "workers1_pages": ours1.pages,
                "workers1_s": ours1.seconds,
                "workers1_pages_per_s": pps1,
                "workers2_pages": ours2.pages,
                "workers2_s": ours2.seconds,
                "workers2_pages_per_s": pps2,
                "scaling": pps2 / pps1,
                "failed_documents": ours2.failed,
            }

            report_cer(groups, rows)
            if raw_differ:
                print(f"  raw tesseract text differs between thread settings on: {', '.join(raw_differ)}")
            sp = results["speed"]

            def cpu_spp(m: CpuMeter, pages: int) -> float | None:
                own = m.figures["own_cores"]
                return None if own is None else own * m.figures["wall_s"] / max(pages, 1)

            cpu = {
                "ours": cpu_spp(m_ours1, ours1.pages),
                "default": cpu_spp(m_raw_default, n),
                "single": cpu_spp(m_raw_single, n),
            }
            sp["cpu_s_per_page"] = cpu
            sp["cpu_ratio_vs_single"] = cpu["ours"] / cpu["single"] if cpu["ours"] and cpu["single"] else None
            print_table(
                "2. Seconds per page, single worker (ours: run_batch wall time incl. intake and PDF assembly)",
                ["run", "pages", "wall s", "s/page", "ours/this", "CPU s/page", "ours/this"],
                [
                    [
                        "ours (workers=1)",
                        str(ours1.pages),
                        _f(ours1.seconds, ".1f"),
                        _f(ours_spp, ".2f"),
                        "",
                        _f(cpu["ours"], ".2f"),
                        "",
                    ],
                    [
                        "raw tesseract, default threads",
                        str(n),
                        _f(raw_default_s, ".1f"),
                        _f(raw_default_spp, ".2f"),
                        _f(sp["ratio_vs_default"], ".2f"),
                        _f(cpu["default"], ".2f"),
                        _f(cpu["ours"] / cpu["default"] if cpu["ours"] and cpu["default"] else None, ".2f"),
                    ],
                    [
                        "raw tesseract, OMP_THREAD_LIMIT=1",
                        str(n),
                        _f(raw_single_s, ".1f"),
                        _f(raw_single_spp, ".2f"),
                        _f(sp["ratio_vs_single"], ".2f"),
                        _f(cpu["single"], ".2f"),
                        _f(sp["cpu_ratio_vs_single"], ".2f"),
                    ],
                ],
            )
            print(f"  our per-page build time alone (stored Page.seconds): {sp['ours_in_page_s_per_page']:.2f} s/page")
            print("  CPU s/page (ours + children) is less disturbed by other load on the machine than wall time")
            tp = results["throughput"]
            print_table(
                "3. Throughput, our pipeline",
                ["workers", "pages", "wall s", "pages/s", "cores used by us"],
                [
                    [
                        "1",
                        str(ours1.pages),
                        _f(ours1.seconds, ".1f"),
                        _f(pps1, ".3f"),
                        _f(m_ours1.figures["own_cores"], ".2f"),
                    ],
                    [
                        "2",
                        str(ours2.pages),
                        _f(ours2.seconds, ".1f"),
                        _f(pps2, ".3f"),
                        _f(m_ours2.figures["own_cores"], ".2f"),
                    ],
                ],
            )
            print(f"  scaling 2 workers / 1 worker: {tp['scaling']:.2f}x")
            print_table(
                f"   CPU during the timed phases ({os.cpu_count()} CPUs; timings need an otherwise idle machine)",
                ["phase", "wall s", "machine busy", "ours", "others", "load1 at start"],
                (
                    [
                        m.figures["phase"],
                        _f(m.figures["wall_s"], ".1f"),
                        _f(m.figures["machine_busy_cores"], ".2f"),
                        _f(m.figures["own_cores"], ".2f"),
                        _f(m.figures["other_cores"], ".2f"),
                        _f(m.figures["loadavg_1min_at_start"], ".2f"),
                    ]
                    for m in meters
                ),
            )
            busy_elsewhere = [m.figures["phase"] for m in meters if (m.figures["other_cores"] or 0) > 0.15]
            if busy_elsewhere:
                print(f"  WARNING: other processes used CPU during: {', '.join(busy_elsewhere)}; timings are inflated")

            rs = groups["rotated+skewed"]["ratio_pooled"]
            cl = groups["clean-ish"]["ratio_pooled"]
            targets += [
                (
                    f"CER ours/raw, rotated+skewed (pooled) <= {TARGET_ROT_SKEW_RATIO}",
                    None if rs is None else rs <= TARGET_ROT_SKEW_RATIO,
                    _f(rs, ".2f"),
                ),
                (
                    f"CER ours/raw, clean-ish (pooled) <= {TARGET_CLEAN_RATIO}",
                    None if cl is None else cl <= TARGET_CLEAN_RATIO,
                    _f(cl, ".2f"),
                ),
                (
                    f"s/page ours/raw (best raw: {best_label}) <= {TARGET_SPEED_RATIO}",
                    sp["ratio_vs_best"] <= TARGET_SPEED_RATIO,
                    _f(sp["ratio_vs_best"], ".2f"),
                ),
                (
                    f"pages/s 2 workers / 1 worker >= {TARGET_SCALING}",
                    tp["scaling"] >= TARGET_SCALING,
                    _f(tp["scaling"], ".2f"),
                ),
            ]

        if not args.skip_big and args.big_pages > 0:
            progress(f"[4/4] memory: building a {args.big_pages}-page image-only PDF")
            jpgs = export_pages(charts_all, tmp / "big-src", load_settings, fmt="jpg", quiet=True)
            pdf = build_big_pdf(jpgs, args.big_pages, tmp / "big.pdf")
            progress(f"  {pdf} is {pdf.stat().st_size / 2**20:.0f} MiB; running chartmigrate ingest")
            with CpuMeter("big PDF ingest", args.wait_idle) as m_big:
                big = run_big(pdf, tmp / "home-big", args.big_workers, args.big_pages)
            big["machine_busy_cores"] = m_big.figures["machine_busy_cores"]
            big["pdf_bytes"] = pdf.stat().st_size
            results["memory"] = big
            print_table(
                f"4. Peak memory: chartmigrate ingest ({args.big_pages}-page PDF) --workers {args.big_workers}",
                ["measure", "value"],
                [
                    ["pages stored / exit code", f"{big['pages_stored']} / {big['exit_code']}"],
                    ["wall time", f"{big['seconds']:.0f} s ({_f(big['pages_per_s'], '.3f')} pages/s)"],
                    ["peak total RSS, process tree", f"{big['peak_total_rss_bytes'] / 2**20:.0f} MiB"],
                    ["peak total PSS, process tree", f"{big['peak_total_pss_bytes'] / 2**20:.0f} MiB"],
                    [
                        "peak single process RSS",
                        f"{big['peak_single_rss_bytes'] / 2**20:.0f} MiB ({big['peak_single_process']})",
                    ],
                    ["processes in tree (max) / samples", f"{big['max_processes']} / {big['samples']}"],
                    ["machine CPU busy (cores, all processes)", _f(big["machine_busy_cores"], ".2f")],
                ],
            )
            print(
                "  peak RSS by command: "
                + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in big["peak_rss_by_command_bytes"].items())
            )
            if big["exit_code"] != 0:
                print("  ingest log tail: " + " | ".join(big["log_tail"]))
            targets.append(
                (
                    "peak total RSS < 1 GiB",
                    big["peak_total_rss_bytes"] < TARGET_PEAK_BYTES and big["exit_code"] == 0,
                    f"{big['peak_total_rss_bytes'] / 2**20:.0f} MiB",
                )
            )

        results["code_at_end"] = code_end = code_state()
        source = os.environ.get(SNAPSHOT_ENV, "live")
        print(
            f"\ncode measured: migrate/ from {CODE_SOURCES[source]} (commit {code_start['commit']}, "
            f"digest {code_start['imported_digest']}); uncommitted changes in the repository's migrate/: "
            f"{code_start['migrate_uncommitted_changes']}"
        )
        if code_end["imported_digest"] != code_start["imported_digest"]:
            print("  WARNING: the measured migrate/ changed on disk during the run; figures mix two versions")
        elif code_end["repo_digest"] != code_start["imported_digest"]:
            print("  note: migrate/ in the repository differs from the code measured")
        results["targets"] = [{"target": t, "pass": ok, "value": v} for t, ok, v in targets]
        if targets:
            print_table("Targets", ["target", "value", "result"], ([t, v, verdict(ok)] for t, ok, v in targets))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
            progress(f"figures written to {args.json}")
    finally:
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":  # the guard matters: worker processes import this module
    sys.exit(main())
