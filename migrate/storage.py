"""Content-addressed blob store: every file kept once under its SHA-256, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class BlobStore:
    """Blobs at ``root/ab/cd/abcd...``; the folder tree is owner-only because blobs are PHI."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def _dest(self, sha256: str) -> Path:
        dest = self.path(sha256)
        # mkdir(parents=True) ignores ``mode`` for the parents it makes: create each level ourselves.
        for folder in (self.root, dest.parent.parent, dest.parent):
            if not folder.is_dir():
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                folder.chmod(0o700)
        return dest

    def _commit(self, tmp: str, dest: Path) -> None:
        Path(tmp).chmod(0o600)
        Path(tmp).replace(dest)  # atomic: a crash leaves the old state or the whole blob

    def _write(self, sha256: str, fill: Callable[[BinaryIO], None]) -> str:
        """Write a blob through ``fill`` into a temporary file, fsync it, then rename it in place."""
        if self.has(sha256):
            return sha256
        dest = self._dest(sha256)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            self._commit(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256

    def put_file(self, src: Path, sha256: str | None = None) -> str:
        def copy(out: BinaryIO) -> None:
            with src.open("rb") as f:
                while chunk := f.read(CHUNK):
                    out.write(chunk)

        return self._write(sha256 or sha256_file(src), copy)

    def put_bytes(self, data: bytes) -> str:
        def write(out: BinaryIO) -> None:
            out.write(data)

        return self._write(hashlib.sha256(data).hexdigest(), write)
