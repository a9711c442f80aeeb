"""Image files in and out: the one place GeoQuiz decodes and encodes pictures (Pillow, Qt-free).

Every array is RGB ``uint8`` in HWC layout. EXIF orientation is applied when reading, so the array,
:func:`image_size` and what a person sees in a viewer agree. Missing, unreadable, corrupt or
unsupported files raise :class:`geoquiz.errors.DatasetImportError` naming the path.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from geoquiz.errors import DatasetImportError

#: File extensions (lower case, with dot) that the importers treat as images.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# EXIF orientations 5..8 swap width and height.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


class ImageReadError(DatasetImportError):
    """An image file is missing, unreadable, corrupt or unsupported. ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise ImageReadError(path, "image file not found")
    if path.is_dir():
        raise ImageReadError(path, "expected an image file but found a folder")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image, or an unsupported image format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, "image is implausibly large (decompression bomb?)") from exc
    except OSError as exc:
        raise ImageReadError(path, f"cannot read the file ({exc.strerror or exc})") from exc


def _orientation(img) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:
        return 1


def read_image(path: str | Path) -> np.ndarray:
    """Decode the whole file and return it as RGB uint8 HWC (EXIF orientation applied).

    Greyscale, palette, RGBA (alpha dropped, composited on nothing) and 16-bit images are converted.
    Raises :class:`DatasetImportError` naming ``path`` if it is missing, truncated or not an image.
    """
    from PIL import ImageOps

    path = Path(path)
    img = _open(path)
    try:
        with img:
            img.load()
            if _orientation(img) != 1:
                img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB") if img.mode != "RGB" else img
            arr = np.asarray(rgb, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(path, f"decoded to an unexpected shape {arr.shape}")
    return np.ascontiguousarray(arr)


def verify_image(path: str | Path) -> tuple[int, int]:
    """Fully decode ``path`` to prove it is a readable image; return its displayed ``(width, height)``.

    Cheaper than :func:`read_image` (no colour conversion or copy), same errors.
    """
    path = Path(path)
    img = _open(path)
    try:
        with img:
            img.load()
            w, h = img.size
            orientation = _orientation(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from exc
    if w == 0 or h == 0:
        raise ImageReadError(path, f"image is empty ({w}x{h} pixels)")
    return (h, w) if orientation in _TRANSPOSED_ORIENTATIONS else (w, h)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` in pixels as displayed (EXIF orientation applied), read from the header only."""
    path = Path(path)
    img = _open(path)
    with img:
        w, h = img.size
        orientation = _orientation(img)
    return (h, w) if orientation in _TRANSPOSED_ORIENTATIONS else (w, h)


def read_thumbnail(path: str | Path, size: int = 128) -> np.ndarray:
    """A downscaled RGB uint8 HWC copy whose longer side is at most ``size`` pixels (aspect kept).

    Uses JPEG draft decoding, so it is much faster than :func:`read_image` on large photos.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    img = _open(path)
    try:
        with img:
            img.draft("RGB", (size, size))
            img.load()
            if _orientation(img) != 1:
                img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB") if img.mode != "RGB" else img
            rgb.thumbnail((size, size), Image.Resampling.BILINEAR)
            return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from exc


def write_image(path: str | Path, array: np.ndarray, *, quality: int = 92) -> Path:
    """Write an RGB uint8 HWC (or HxW greyscale uint8) array; the format follows the suffix.

    The file appears atomically (written to a temporary file in the same folder, then renamed), so a
    crash never leaves a half-written image behind. ``quality`` applies to JPEG/WebP. Returns the path.
    """
    from PIL import Image

    path = Path(path)
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8, got {arr.dtype} for {path}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"write_image expects HxWx3 RGB or HxW grey, got shape {arr.shape} for {path}")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise ValueError(f"unsupported image extension {path.suffix!r} for {path}")
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, suffix[1:].upper())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
            Image.fromarray(np.ascontiguousarray(arr)).save(fh, format=fmt, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
