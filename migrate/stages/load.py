"""Open a stored original: count and check its pages at intake, then load one page at a time."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from migrate.errors import CorruptFile, DecompressionBomb, TruncatedFile
from migrate.external import poppler
from migrate.records import MediaType
from migrate.settings import Settings

DEFAULT_IMAGE_DPI = 300


@dataclass(frozen=True, slots=True)
class PageImage:
    gray: np.ndarray  # uint8, upright as stored in the file (before clean-up)
    dpi: int


def _bomb(width: float, height: float, settings: Settings, where: str) -> None:
    if width * height > settings.max_page_pixels:
        raise DecompressionBomb(
            f"{where} is {int(width)} x {int(height)} pixels, over the limit of "
            f"{settings.max_page_pixels:,} (CHARTMIGRATE_MAX_PAGE_PIXELS)"
        )


def _open_image(path: Path, settings: Settings) -> Image.Image:
    """Open an image reading only its header; refuse bombs before any pixel is decoded."""
    Image.MAX_IMAGE_PIXELS = settings.max_page_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DecompressionBomb(f"image is over the limit of {settings.max_page_pixels:,} pixels") from e
    except UnidentifiedImageError as e:
        raise CorruptFile("unreadable image: not a valid image file") from e
    except (OSError, TypeError, ValueError, SyntaxError) as e:
        raise CorruptFile("unreadable image: damaged image header") from e
    _bomb(img.width, img.height, settings, "image")
    return img


def count_pages(path: Path, media: MediaType, settings: Settings) -> int:
    """Number of pages; every page's size is checked against the bomb limit here, cheaply."""
    if media is MediaType.PDF:
        info = poppler.info(path)
        for n, (w, h) in enumerate(info.page_sizes_pt, start=1):
            scale = settings.render_dpi / 72
            _bomb(w * scale, h * scale, settings, f"page {n}")
        return info.pages
    img = _open_image(path, settings)
    try:
        frames = getattr(img, "n_frames", 1)
        for i in range(frames):
            img.seek(i)
            _bomb(img.width, img.height, settings, f"page {i + 1}")
        return int(frames)
    except EOFError as e:
        raise TruncatedFile("truncated image: fewer frames than announced") from e
    except (OSError, TypeError, ValueError, SyntaxError) as e:  # Pillow's ways of saying "damaged"
        raise CorruptFile("unreadable image: damaged page directory") from e
    finally:
        img.close()


def _dpi(img: Image.Image) -> int:
    dpi = img.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        value = 0
    return value if 70 <= value <= 1200 else DEFAULT_IMAGE_DPI


def load_page(path: Path, media: MediaType, number: int, settings: Settings) -> PageImage:
    """Only this page is decoded."""
    if media is MediaType.PDF:
        scan, scan_dpi = poppler.page_image(path, number)
        if scan is not None and scan_dpi is not None:
            return PageImage(scan, scan_dpi)
        dpi = scan_dpi or settings.render_dpi
        dpi = min(max(dpi, 150), 600)
        return PageImage(poppler.render(path, number, dpi), dpi)
    img = _open_image(path, settings)
    try:
        img.seek(number - 1)
        _bomb(img.width, img.height, settings, f"page {number}")
        dpi = _dpi(img)
        frame = ImageOps.exif_transpose(img) if media is MediaType.JPEG else img
        if frame.mode in ("I;16", "I;16B", "I", "F"):
            arr = np.asarray(frame, dtype=np.float64)
            span = float(arr.max() - arr.min()) or 1.0
            gray = ((arr - arr.min()) * (255.0 / span)).astype(np.uint8)
        else:
            if frame.mode in ("RGBA", "LA", "P"):
                frame = frame.convert("RGBA")
                white = Image.new("RGBA", frame.size, (255, 255, 255, 255))
                frame = Image.alpha_composite(white, frame)
            gray = np.asarray(frame.convert("L"))
        return PageImage(np.ascontiguousarray(gray), dpi)
    except EOFError as e:
        raise TruncatedFile(f"truncated image: page {number} is missing") from e
    except (OSError, TypeError, ValueError, SyntaxError) as e:
        raise CorruptFile(f"unreadable image on page {number}: damaged or truncated image data") from e
    finally:
        img.close()
