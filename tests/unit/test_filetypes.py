"""filetypes.sniff: the media type comes from the bytes; a lying or broken file is a document error."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from migrate.errors import DocumentError, EmptyFile, ExtensionMismatch, TruncatedFile, UnsupportedType
from migrate.filetypes import sniff
from migrate.records import MediaType
from tests.conftest import render_page, text_pdf_bytes, write_jpeg, write_png, write_tiff


def _small() -> Image.Image:
    return render_page(["Chart page"], size_in=(2.0, 1.0))


def _image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    _small().save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chart.pdf", MediaType.PDF),
        ("chart.PDF", MediaType.PDF),
        ("chart.tif", MediaType.TIFF),
        ("chart.tiff", MediaType.TIFF),
        ("chart.png", MediaType.PNG),
        ("chart.jpg", MediaType.JPEG),
        ("chart.jpeg", MediaType.JPEG),
    ],
)
def test_each_magic_type_is_recognised(tmp_path: Path, name: str, expected: MediaType) -> None:
    path = tmp_path / name
    if expected is MediaType.PDF:
        path.write_bytes(text_pdf_bytes(["Progress note"]))
    elif expected is MediaType.TIFF:
        write_tiff(path, [_small(), _small()])
    elif expected is MediaType.PNG:
        write_png(path, _small())
    else:
        write_jpeg(path, _small())
    assert sniff(path) is expected


def test_big_endian_tiff_signature(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    path.write_bytes(b"MM\x00*" + bytes(200))
    assert sniff(path) is MediaType.TIFF


def test_stored_copy_without_extension_uses_original_name(tmp_path: Path) -> None:
    blob = tmp_path / "3f9a0c"  # blobs are stored under their hash, without an extension
    blob.write_bytes(_image_bytes("PNG"))
    assert sniff(blob) is MediaType.PNG
    assert sniff(blob, name="scans/chart.png") is MediaType.PNG
    with pytest.raises(ExtensionMismatch):
        sniff(blob, name="scans/chart.jpg")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(EmptyFile, match="empty"):
        sniff(path)


def test_extension_that_lies(tmp_path: Path) -> None:
    path = tmp_path / "chart.pdf"
    path.write_bytes(_image_bytes("PNG"))
    with pytest.raises(ExtensionMismatch) as info:
        sniff(path)
    assert "PDF" in info.value.message
    assert "PNG" in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt", b"Patient seen today, doing well.\n"),
        ("letter.docx", b"PK\x03\x04\x14\x00\x06\x00" + bytes(100)),
        ("noextension", b"just some bytes"),
    ],
)
def test_unsupported_types(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnsupportedType, match="unsupported file type"):
        sniff(path)


def test_truncated_pdf_without_eof_marker(tmp_path: Path) -> None:
    data = text_pdf_bytes(["Progress note", "Discharge summary"])
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) - 40])
    assert b"%%EOF" not in path.read_bytes()
    with pytest.raises(TruncatedFile, match="PDF"):
        sniff(path)


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", ".png"), ("JPEG", ".jpg")])
def test_truncated_images(tmp_path: Path, fmt: str, ext: str) -> None:
    data = _image_bytes(fmt)
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(TruncatedFile, match=fmt):
        sniff(path)


EXTENSIONS = ["", ".pdf", ".PDF", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".txt", ".docx", ".1957", "."]
MAGICS = [b"", b"%PDF-1.4\n", b"II*\x00", b"MM\x00*", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"PK\x03\x04"]
TAILS = [b"", b"%%EOF\n", b"IEND\xaeB`\x82", b"\xff\xd9"]


@hsettings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    magic=st.sampled_from(MAGICS),
    body=st.binary(max_size=3000),
    tail=st.sampled_from(TAILS),
    ext=st.sampled_from(EXTENSIONS),
)
def test_sniff_random_bytes_only_raises_document_errors(magic: bytes, body: bytes, tail: bytes, ext: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob"
        path.write_bytes(magic + body + tail)
        try:
            kind = sniff(path, name=f"upload{ext}")
        except DocumentError as e:
            assert e.message
            assert "\n" not in e.message
        else:
            assert kind in set(MediaType)
            assert path.stat().st_size > 0
