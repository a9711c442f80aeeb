"""The explanation cache's plain-data side: cache keys, ``.npz`` files and the picklable blobs a
worker sends back (content hashes are :func:`geoquiz.hashing.file_hash`).

:func:`element_params_key` and :func:`seg_keys` (cache keys), :func:`encode_npz` and the private writers/readers of cache files, the uint16
quantisation of maps, and :class:`SampleExplanation` with its parts (:class:`MapBlobs`,
:class:`SegmentBlobs`, :class:`ElementBlobs`). No database, no torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoquiz.config import ElementSettings
from geoquiz.types import Element

CACHE_VERSION = 1


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode()).hexdigest()


def encode_npz(**arrays: np.ndarray) -> bytes:
    """The bytes of a compressed ``.npz`` file holding ``arrays`` (what a cache file contains)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _write_blob(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None


def _quantise(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * 65535.0).astype(np.uint16)


def _dequantise(q: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) / np.float32(65535.0)).astype(np.float32)


# --- what a worker sends back: one sample's explanation as plain data --------------------------


@dataclass(frozen=True)
class MapBlobs:
    """One method's maps of one sample: cache keys, views, class explained and ``.npz`` bytes per view."""

    method: str
    params: dict
    keys: tuple[str, ...]
    views: tuple[str | None, ...]
    targets: tuple[str, ...]
    npz: tuple[bytes, ...]
    shape: tuple[int, int]


@dataclass(frozen=True)
class SegmentBlobs:
    """One segmenter's segments of one sample (per view). ``method`` is the guiding method of a
    ``:guided`` segmenter (else None); its keys are completed by the driver with the stored map ids.
    ``coverage``: per view, the fraction of pixels inside the union of the segments."""

    segmenter: str
    method: str | None
    parts: tuple[tuple, ...]
    top_p: float | None
    params: dict
    n_segments: tuple[int, ...]
    npz: tuple[bytes, ...]
    coverage: tuple[float, ...] = ()


@dataclass(frozen=True)
class ElementBlobs:
    """The ranked elements of one method x segmenter, each with the index of its segment."""

    method: str
    segmenter: str
    pkey: str
    params: ElementSettings
    records: tuple[tuple[Element, int], ...]

    @property
    def elements(self) -> list[Element]:
        return [e for e, _ in self.records]


@dataclass(frozen=True)
class SampleExplanation:
    """Everything :meth:`ExplainCore.explain_sample` computed for one sample (picklable, no pixels
    other than the compressed maps and masks); :meth:`Explainer.store_explanation` stores it."""

    maps: tuple[MapBlobs, ...]
    segments: tuple[SegmentBlobs, ...]
    elements: tuple[ElementBlobs, ...]

    def elements_of(self, method: str, segmenter: str) -> list[Element]:
        for e in self.elements:
            if e.method == method and e.segmenter == segmenter:
                return e.elements
        raise KeyError(f"no elements for {method} x {segmenter}")

    def segment_stats(self, method: str, segmenter: str) -> tuple[int, float]:
        """``(segments, coverage)`` of a method x segmenter: segments summed over the views and the
        mean over views of the fraction of pixels inside their union (the guiding method matters
        only for ``:guided`` segmenters)."""
        found = [s for s in self.segments if s.segmenter == segmenter and s.method in (None, method)]
        if not found:
            raise KeyError(f"no segments for {segmenter}")
        s = next((x for x in found if x.method == method), found[0])
        cov = float(np.mean(s.coverage)) if s.coverage else float("nan")
        return int(sum(s.n_segments)), cov

    def map_shape(self, method: str) -> tuple[int, int]:
        return next(m.shape for m in self.maps if m.method == method)

    @property
    def n_elements(self) -> int:
        return sum(len(e.records) for e in self.elements)


def element_params_key(params: ElementSettings, joint: bool) -> str:
    """The ``params_key`` of an element set (element settings + whether views were ranked jointly)."""
    return _key("elements", dataclasses.asdict(params), joint)


def seg_keys(parts: Sequence[Sequence], guide_ids: Sequence[int] | None, top_p: float | None) -> list[str]:
    """Segmentation cache keys from their per-view parts; a guided segmentation adds its map's row id."""
    return [
        _key("seg", *p, [guide_ids[i], top_p] if guide_ids is not None else None) for i, p in enumerate(parts)
    ]
