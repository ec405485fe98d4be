"""What a file really is, from its first bytes; the extension must not contradict it."""

from __future__ import annotations

from pathlib import Path

from migrate.errors import EmptyFile, ExtensionMismatch, TruncatedFile, UnsupportedType
from migrate.records import MediaType

EXTENSIONS: dict[str, MediaType] = {
    ".pdf": MediaType.PDF,
    ".tif": MediaType.TIFF,
    ".tiff": MediaType.TIFF,
    ".png": MediaType.PNG,
    ".jpg": MediaType.JPEG,
    ".jpeg": MediaType.JPEG,
    ".jpe": MediaType.JPEG,
    ".jfif": MediaType.JPEG,
}
_NAMES = {MediaType.PDF: "PDF", MediaType.TIFF: "TIFF", MediaType.PNG: "PNG", MediaType.JPEG: "JPEG"}


def _magic(head: bytes) -> MediaType | None:
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return MediaType.PDF
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return MediaType.TIFF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    return None


def sniff(path: Path, *, name: str | None = None) -> MediaType:
    """The file's media type; raises a document error naming what is wrong in one line.

    ``name`` is the file's original name when ``path`` is its stored copy.
    """
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile("empty file (0 bytes)")
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, size - 2048))
        tail = f.read()
    actual = _magic(head)
    ext = Path(name).suffix.lower() if name else path.suffix.lower()
    claimed = EXTENSIONS.get(ext)
    # File names can carry patient names, so messages never quote the name or its extension.
    if actual is None:
        raise UnsupportedType("unsupported file type: the content is not PDF, TIFF, PNG or JPEG")
    if ext and claimed != actual:
        said = "is not a scan type" if claimed is None else f"says {_NAMES[claimed]}"
        raise ExtensionMismatch(f"file extension {said} but the content is {_NAMES[actual]}")
    if actual is MediaType.PDF and b"%%EOF" not in tail:
        raise TruncatedFile("truncated PDF: no end-of-file marker")
    if actual is MediaType.PNG and b"IEND" not in tail[-64:]:
        raise TruncatedFile("truncated PNG: no end chunk")
    if actual is MediaType.JPEG and b"\xff\xd9" not in tail[-1024:]:
        raise TruncatedFile("truncated JPEG: no end-of-image marker")
    return actual
