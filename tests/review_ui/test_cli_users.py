"""`chartmigrate user add|passwd|unlock|demo`: passwords from stdin only, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from migrate.db.models import User, utcnow
from migrate.db.session import unit_of_work
from review_ui.security import verify_password
from tests.conftest import cli_env


def cm(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migrate", *args], input=stdin, capture_output=True, text=True,
                          env=cli_env(home), timeout=120)  # fmt: skip


def test_user_add_passwd_and_refusals(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "data"
    ok = cm(home, "user", "add", "tina", "--role", "technician", "--password-stdin", stdin="a long secret pass\n")
    assert ok.returncode == 0 and "added tina (technician)" in ok.stdout
    with unit_of_work(database_url) as s:
        user = s.scalar(select(User).where(User.username == "tina"))
        assert user is not None and user.role == "technician" and user.password_hash.startswith("$argon2")
        assert verify_password(user.password_hash, "a long secret pass")
    for args, stdin, message in [
        (("add", "tina", "--role", "technician", "--password-stdin"), "another long one\n", "taken"),
        (("add", "bob", "--role", "wizard", "--password-stdin"), "another long one\n", "unknown role"),
        (("add", "bob", "--role", "auditor", "--password-stdin"), "short\n", "at least 12"),
        (("add", "bob", "--role", "auditor"), "", "--password-stdin"),
        (("add", "bob", "--role", "auditor", "--password-stdin"), "", "no password"),
        (("passwd", "nobody", "--password-stdin"), "a long secret pass\n", "no such user"),
    ]:
        r = cm(home, "user", *args, stdin=stdin)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, (args, r.stderr)
    assert cm(home, "user", "passwd", "tina", "--password-stdin", stdin="the new long secret\n").returncode == 0
    with unit_of_work(database_url) as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "tina"))
        assert verify_password(stored, "the new long secret") and not verify_password(stored, "a long secret pass")
    with unit_of_work(database_url) as s:  # locked after failed logins
        s.execute(update(User).where(User.username == "tina").values(locked_until=utcnow() + timedelta(hours=1)))
        s.commit()
    assert cm(home, "user", "unlock", "tina").returncode == 0
    with unit_of_work(database_url) as s:
        assert s.scalar(select(User.locked_until).where(User.username == "tina")) is None
    missing = cm(home, "user", "unlock", "nobody")
    assert missing.returncode == 2 and "no such user" in missing.stderr


def test_user_demo_prints_fresh_random_logins(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "data"
    first, second = cm(home, "user", "demo"), cm(home, "user", "demo")
    assert first.returncode == 0 and second.returncode == 0
    lines = [ln.split() for ln in first.stdout.splitlines()[1:]]
    assert [(ln[0], ln[1]) for ln in lines] == [
        ("technician", "demo-technician"), ("supervisor", "demo-supervisor"), ("auditor", "demo-auditor")
    ]  # fmt: skip
    again = [ln.split()[2] for ln in second.stdout.splitlines()[1:]]
    assert all(len(ln[2]) >= 12 for ln in lines) and again != [ln[2] for ln in lines]
    with unit_of_work(database_url) as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "demo-auditor"))
        assert verify_password(stored, again[2]) and not verify_password(stored, lines[2][2])
