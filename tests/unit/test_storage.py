"""BlobStore: content addressing, idempotent writes, owner-only files and folders."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.storage import BlobStore, sha256_file


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual shell umask, so the test sees what the library itself enforces."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _blobs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_bytes_is_content_addressed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"scanned page bytes"
    sha = store.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha) == tmp_path / "blobs" / sha[:2] / sha[2:4] / sha
    assert store.path(sha).read_bytes() == data
    assert store.has(sha)
    assert not store.has(hashlib.sha256(b"other").hexdigest())


def test_put_file_and_put_bytes_agree(tmp_path: Path) -> None:
    src = tmp_path / "chart.pdf"
    src.write_bytes(b"%PDF-1.4 fake chart\n%%EOF\n")
    store = BlobStore(tmp_path / "blobs")
    sha = store.put_file(src)
    assert sha == sha256_file(src) == hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.put_bytes(src.read_bytes()) == sha
    assert _blobs(tmp_path / "blobs") == [store.path(sha)]


def test_sha256_file_reads_large_files_in_chunks(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 17)
    src.write_bytes(data)
    assert sha256_file(src) == hashlib.sha256(data).hexdigest()


def test_put_is_idempotent(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    src = tmp_path / "page.png"
    src.write_bytes(b"\x89PNG pretend")
    sha = store.put_file(src)
    before = store.path(sha).stat()
    assert store.put_file(src) == sha
    assert store.put_file(src, sha) == sha
    assert store.put_bytes(src.read_bytes()) == sha
    after = store.path(sha).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _blobs(tmp_path / "blobs") == [store.path(sha)]  # no temporary files left behind


def test_blob_file_is_owner_only(tmp_path: Path, umask_022: None) -> None:
    store = BlobStore(tmp_path / "blobs")
    sha_b = store.put_bytes(b"one")
    src = tmp_path / "two.bin"
    src.write_bytes(b"two")
    sha_f = store.put_file(src)
    for sha in (sha_b, sha_f):
        assert _mode(store.path(sha)) == 0o600
        assert _mode(store.path(sha).parent) == 0o700


def test_every_blob_folder_is_owner_only(tmp_path: Path, umask_022: None) -> None:
    root = tmp_path / "blobs"
    root.mkdir(mode=0o700)
    store = BlobStore(root)
    sha = store.put_bytes(b"page image")
    assert _mode(store.path(sha).parent) == 0o700  # blobs/ab/cd
    assert _mode(store.path(sha).parent.parent) == 0o700  # blobs/ab
