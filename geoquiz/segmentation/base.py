"""The segmenter protocol and what every segmenter shares (no torch at import time).

A segmenter turns an RGB uint8 HxWx3 image into a list of :class:`geoquiz.types.Segment` (bool HxW
masks, possibly overlapping, at the image's resolution). SAM-family segmenters also offer an
*attribution-guided* mode that prompts only inside the salient region of a heatmap.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from geoquiz.boxes import Box
from geoquiz.errors import CheckpointError, GeoQuizError, torch_load_refusal
from geoquiz.types import Segment


class SegmenterUnavailable(GeoQuizError):
    """A segmenter's Python package is not installed (the message says what to pip install)."""


@dataclass(frozen=True)
class SegmenterInfo:
    """Registry entry (:data:`geoquiz.segmentation.SEGMENTERS`).

    ``family``: ``default`` | ``sam`` | ``mobilesam`` | ``sam2`` ...; ``arch``: the family's own
    model name (``vit_b``, a SAM2 config ...); ``official_file``: the checkpoint the user must
    download ('' = weight-free); ``package``: the import name; ``extra``: the ``geoquiz[...]`` extra
    that installs it; ``builder``: ``"module:callable"`` called as
    ``builder(info, checkpoint_path, device, **params)`` to make the segmenter (imported lazily, so
    the registry stays torch-free); ``label``: the short name shown in the app and reports.
    ``checkpoint_kind``: ``file`` (one PyTorch file) or ``directory`` (a model folder, e.g. a
    Transformers checkpoint; the app then offers a folder picker); ``check``: ``"module:callable"``
    called as ``check(info, path)`` for a cheap, torch-free look at a set checkpoint, returning why
    it cannot be used or None (default: the file exists and looks like a PyTorch file).
    ``concepts``: the segmenter is prompted with a concept vocabulary and names its segments.
    """

    name: str
    family: str
    arch: str
    official_file: str
    package: str
    extra: str
    source: str
    description: str
    builder: str = ""
    label: str = ""
    checkpoint_kind: str = "file"
    check: str = ""
    concepts: bool = False

    @property
    def needs_checkpoint(self) -> bool:
        return bool(self.official_file) and self.family != "default"

    @property
    def display_name(self) -> str:
        return self.label or self.description or self.name


@runtime_checkable
class Segmenter(Protocol):
    name: str
    supports_guided: bool

    @property
    def params(self) -> dict[str, Any]:
        """Everything that changes the output (part of cache keys)."""

    def segment(self, image: np.ndarray) -> list[Segment]:
        """All segments of an RGB uint8 HxWx3 image; masks are bool HxW at the image's size."""


def check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 HxWx3 image, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def image_hash(image: np.ndarray) -> str:
    """SHA-1 of an image's shape and pixels (the embedding-cache key)."""
    h = hashlib.sha1(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def masks_to_segments(
    masks: list[np.ndarray],
    qualities: list[float] | None = None,
    concepts: list[str | None] | None = None,
    tags: list[str | None] | None = None,
) -> list[Segment]:
    """Bool HxW masks -> Segments (empty masks are dropped); ``concepts`` / ``tags``: the name and
    cue tag of each mask (concept-prompted segmenters), aligned with ``masks``."""
    out = []
    for i, m in enumerate(masks):
        m = np.asarray(m, dtype=bool)
        area = int(m.sum())
        if area == 0:
            continue
        q = 1.0 if qualities is None else float(qualities[i])
        concept = None if concepts is None else concepts[i]
        tag = None if tags is None else tags[i]
        out.append(Segment(mask=m, box=Box.from_mask(m), area=area, quality=q, concept=concept, tag=tag))
    return out


def pack_masks(segments: list[Segment], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Arrays for ``np.savez_compressed``: bit-packed masks (N, H, ceil(W/8)) and qualities; when
    any segment is named (SAM3), also ``concept`` and ``tag`` (unicode arrays, '' = none)."""
    h, w = shape
    stack = np.zeros((len(segments), h, w), dtype=bool)
    for i, s in enumerate(segments):
        stack[i] = s.mask
    out = {
        "masks": np.packbits(stack, axis=-1),
        "quality": np.array([s.quality for s in segments], dtype=np.float32),
        "shape": np.array([h, w], dtype=np.int64),
    }
    if any(s.concept is not None for s in segments):
        out["concept"] = np.array([s.concept or "" for s in segments], dtype=str)
        out["tag"] = np.array([s.tag or "" for s in segments], dtype=str)
    return out


def unpack_masks(data: Mapping[str, np.ndarray]) -> list[Segment]:
    h, w = (int(v) for v in data["shape"])
    stack = (
        np.unpackbits(data["masks"], axis=-1, count=w).astype(bool)
        if len(data["masks"])
        else np.zeros((0, h, w), bool)
    )
    named = {k: [str(v) or None for v in data[k]] for k in ("concept", "tag") if k in data}
    return masks_to_segments(list(stack), list(data["quality"]), named.get("concept"), named.get("tag"))


def guided_points(
    heatmap: np.ndarray, top_p: float, points_per_side: int, *, min_points: int = 4
) -> np.ndarray:
    """Point prompts for attribution-guided SAM, normalised ``(x, y)`` in [0, 1], shape (N, 2).

    The points of the regular ``points_per_side`` x ``points_per_side`` grid that SAM's automatic
    generator would use which fall inside the salient region (top-p percentile of ``heatmap``, as in
    :func:`geoquiz.elements.salient_mask`); if fewer than ``min_points`` do (a small salient region
    between grid points), the most attributed salient pixels are added up to ``min_points``.
    """
    from geoquiz.elements import salient_mask

    values = np.asarray(heatmap, dtype=np.float32)
    salient = salient_mask(values, top_p)
    h, w = salient.shape
    offset = 1.0 / (2 * points_per_side)
    side = np.linspace(offset, 1 - offset, points_per_side)
    xs, ys = np.meshgrid(side, side)
    grid = np.stack([xs.ravel(), ys.ravel()], axis=-1)
    cols = np.clip((grid[:, 0] * w).astype(int), 0, w - 1)
    rows = np.clip((grid[:, 1] * h).astype(int), 0, h - 1)
    points = grid[salient[rows, cols]]
    if len(points) < min_points and salient.any():
        flat = np.flatnonzero(salient)
        best = flat[np.argsort(-values.ravel()[flat], kind="stable")[: min_points - len(points)]]
        r, c = np.unravel_index(best, salient.shape)
        extra = np.stack([(c + 0.5) / w, (r + 0.5) / h], axis=-1)
        points = np.concatenate([points, extra], axis=0)
    return points.astype(np.float64)


class EmbeddingCache:
    """A small thread-safe LRU cache: image hash -> whatever a predictor needs to skip its encoder."""

    def __init__(self, max_items: int = 8) -> None:
        self.max_items = max_items
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
            return None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_items:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def how_to_configure(info: SegmenterInfo) -> str:
    kind = "folder" if info.checkpoint_kind == "directory" else "file"
    return (
        f"Download the official {kind} {info.official_file} ({info.source}) and set its path in the app "
        f'(File > Settings > Segmenters), in project.toml ([segmenters] {info.name} = ".../{info.official_file}") '
        f"or on the command line (--checkpoint {info.name}=PATH)."
    )


def check_checkpoint_path(info: SegmenterInfo, path: str | Path | None) -> Path:
    """The checkpoint path, or :class:`CheckpointError` when it is not set, missing or not a file."""
    if not path or not str(path).strip():
        raise CheckpointError(f"{info.name}: no checkpoint configured. {how_to_configure(info)}")
    p = Path(str(path)).expanduser()
    if not p.exists():
        raise CheckpointError(
            f"{info.name}: checkpoint {p} does not exist (expected the official file {info.official_file}). {how_to_configure(info)}"
        )
    if not p.is_file():
        raise CheckpointError(
            f"{info.name}: checkpoint {p} is not a file (expected the official file {info.official_file})"
        )
    return p


def load_state_dict_checked(
    model: Any, info: SegmenterInfo, path: str | Path, *, key: str | None = None
) -> None:
    """Load a checkpoint into ``model`` with ``torch.load(weights_only=True)`` + ``load_state_dict``.

    Raises :class:`CheckpointError` naming the official file when the file is not a PyTorch
    checkpoint, holds no state dict, or does not fit the architecture (another SAM variant's file).
    ``key``: the state dict sits under this key (SAM2 files: ``"model"``).
    """
    import torch

    p = check_checkpoint_path(info, path)
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        detail = torch_load_refusal(exc)
        raise CheckpointError(
            f"{info.name}: {p} is not a readable PyTorch checkpoint ({detail}); expected the official file {info.official_file}"
        ) from exc
    if key is not None and isinstance(data, Mapping) and key in data:
        data = data[key]
    if (
        not isinstance(data, Mapping)
        or not data
        or not all(isinstance(v, torch.Tensor) for v in data.values())
    ):
        raise CheckpointError(
            f"{info.name}: {p} holds no model weights (state dict); expected the official file {info.official_file}"
        )
    own = model.state_dict()
    missing = [k for k in own if k not in data]
    unexpected = [k for k in data if k not in own]
    mismatched = [k for k in own if k in data and tuple(data[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        example = (mismatched or missing or unexpected)[0]
        raise CheckpointError(
            f"{info.name}: {p} does not fit the {info.name} architecture ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(mismatched)} wrongly shaped tensors, e.g. {example!r}); "
            f"expected the official file {info.official_file}. Is it the checkpoint of another model?"
        )
    model.load_state_dict(data, strict=True)
