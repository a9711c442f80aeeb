"""Image files in and out: the one place GeoQuiz decodes and encodes pictures (Pillow, Qt-free).

Every array is RGB ``uint8`` in HWC layout. EXIF orientation is applied when reading, so the array,
:func:`image_size` and what a person sees in a viewer agree. Missing, unreadable, corrupt or
unsupported files raise :class:`geoquiz.errors.DatasetImportError` naming the path.

**Bit depth.** Images with more than 8 bits per sample are scaled, never clipped: 16-bit grey
(``I;16``) and 16-bit colour are mapped ``v -> round(v / 257)`` (0..65535 onto 0..255); 32-bit
integer images (``I``) holding values in 0..65535 likewise, other ranges are stretched min..max;
float images (``F``) in [0, 1] are multiplied by 255, in [0, 255] taken as they are, otherwise
stretched min..max (NaN -> 0). Grey becomes three equal channels.

**Pixel limit.** Before anything is decoded, the size in the file's header is checked against a
pixel-count limit (width x height, default :data:`DEFAULT_MAX_PIXELS`, Pillow's own default), so a
small file claiming a huge picture (a decompression bomb) is refused without allocating it. The
check is explicit and per call (no warning filters, so it holds in every thread); the limit is the
argument ``max_pixels`` or else the process-wide :func:`max_image_pixels` (set from a project's
``[limits] max_image_pixels`` when it is opened). It cannot exceed :data:`HARD_MAX_PIXELS`, where
Pillow itself refuses to open a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from geoquiz.config import (
    DEFAULT_MAX_IMAGE_PIXELS,
    HARD_MAX_IMAGE_PIXELS,
    max_image_pixels,
    set_max_image_pixels,
)
from geoquiz.errors import DatasetImportError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HARD_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "image_size",
    "is_image_file",
    "max_image_pixels",
    "read_image",
    "read_thumbnail",
    "set_max_image_pixels",
    "verify_image",
    "write_image",
]

#: File extensions (lower case, with dot) that the importers treat as images.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: Default pixel-count limit: Pillow's ``Image.MAX_IMAGE_PIXELS`` default (about 89.5 Mpx, e.g. 9459 x 9459).
DEFAULT_MAX_PIXELS = DEFAULT_MAX_IMAGE_PIXELS
#: The highest limit that can be set: Pillow refuses to open anything over twice its default.
HARD_MAX_PIXELS = HARD_MAX_IMAGE_PIXELS

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


def _open(path: Path, max_pixels: int | None = None):
    """Open ``path`` (header only) and check its pixel count before anything is decoded."""
    from PIL import Image, UnidentifiedImageError

    limit = max_image_pixels() if max_pixels is None else max_pixels
    try:
        if not path.exists():
            raise ImageReadError(path, "image file not found")
        if path.is_dir():
            raise ImageReadError(path, "expected an image file but found a folder")
    except (OSError, ValueError) as exc:  # an unusable path (embedded NUL, too long, no permission)
        raise ImageReadError(path, f"cannot use this path ({exc})") from exc
    try:
        img = Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image, or an unsupported image format") from exc
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            path, f"image is implausibly large ({exc}); GeoQuiz's limit is {limit:,} pixels"
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ImageReadError(path, f"cannot read the file ({reason})") from exc
    w, h = img.size
    if w * h > limit:
        img.close()
        raise ImageReadError(
            path,
            f"image is {w:,} x {h:,} = {w * h:,} pixels, over the limit of {limit:,} "
            "(a decompression bomb? the limit is [limits] max_image_pixels in project.toml)",
        )
    return img


def _scale16(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64) / 257.0).clip(0, 255).astype(np.uint8)


def _stretch(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.round((values - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)


def _wide_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """A 16-bit, 32-bit integer or float single-channel array as uint8 (see the module docstring)."""
    if mode.startswith("I;16"):
        return _scale16(arr)
    if mode == "F":
        values = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if lo >= 0.0 and hi <= 1.0:
            return np.round(values * 255.0).astype(np.uint8)
        if lo >= 0.0 and hi <= 255.0:
            return np.round(values).astype(np.uint8)
        return _stretch(values)
    values = arr.astype(np.int64)  # mode "I": 32-bit signed
    if values.size and values.min() >= 0 and values.max() <= 65535:
        return _scale16(values)
    return _stretch(values.astype(np.float64)) if values.size else values.astype(np.uint8)


def _rgb_array(img) -> np.ndarray:
    """A loaded Pillow image as RGB uint8 HWC: wide modes scaled (module docstring), others converted."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = _wide_to_uint8(np.asarray(img), mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    rgb = img.convert("RGB") if mode != "RGB" else img
    return np.asarray(rgb, dtype=np.uint8)


def _orientation(img) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:
        return 1


def read_image(path: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode the whole file and return it as RGB uint8 HWC (EXIF orientation applied).

    Greyscale, palette and RGBA (alpha dropped, composited on nothing) are converted; 16-bit,
    32-bit and float images are scaled to 8 bits (module docstring). Raises
    :class:`DatasetImportError` naming ``path`` if it is missing, truncated, not an image, or over
    the pixel limit (``max_pixels``, default :func:`max_image_pixels`).
    """
    from PIL import ImageOps

    path = Path(path)
    img = _open(path, max_pixels)
    try:
        with img:
            img.load()
            if _orientation(img) != 1:
                img = ImageOps.exif_transpose(img)
            arr = _rgb_array(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(path, f"decoded to an unexpected shape {arr.shape}")
    return np.ascontiguousarray(arr)


def verify_image(path: str | Path, *, max_pixels: int | None = None) -> tuple[int, int]:
    """Fully decode ``path`` to prove it is a readable image; return its displayed ``(width, height)``.

    Cheaper than :func:`read_image` (no colour conversion or copy), same errors; the pixel limit is
    checked from the header before decoding (safe to call from several threads at once).
    """
    path = Path(path)
    img = _open(path, max_pixels)
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


def image_size(path: str | Path, *, max_pixels: int | None = None) -> tuple[int, int]:
    """``(width, height)`` in pixels as displayed (EXIF orientation applied), read from the header only."""
    path = Path(path)
    img = _open(path, max_pixels)
    with img:
        w, h = img.size
        orientation = _orientation(img)
    return (h, w) if orientation in _TRANSPOSED_ORIENTATIONS else (w, h)


def read_thumbnail(path: str | Path, size: int = 128, *, max_pixels: int | None = None) -> np.ndarray:
    """A downscaled RGB uint8 HWC copy whose longer side is at most ``size`` pixels (aspect kept).

    Uses JPEG draft decoding, so it is much faster than :func:`read_image` on large photos.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    img = _open(path, max_pixels)
    try:
        with img:
            img.draft("RGB", (size, size))
            img.load()
            if _orientation(img) != 1:
                img = ImageOps.exif_transpose(img)
            rgb = Image.fromarray(_rgb_array(img))
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
