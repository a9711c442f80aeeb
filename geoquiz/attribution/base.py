"""The Attributor protocol: a sample in, one [0, 1] map per view out.

An attributor wraps a :class:`geoquiz.models.predictor.LoadedModel` (``.model`` a GeoClassifier
with ``.target_layer``, ``.spec``, ``.preprocess``). Calling it with one RGB uint8 HWC image
(single-view model) or four images in VIEWS order (4-view model) returns one
:class:`geoquiz.types.Heatmap` per view: float32 ``S x S`` in [0, 1] at the model's input
resolution ``S = spec.input_size`` (the image as resized by ``LoadedModel.input_images``).

4-view models, both integration modes:

* **early**: the network input is the four views side by side (``S x 4S``); the method explains
  that one image and the ``S x 4S`` map is cut into four ``S x S`` maps (left to right = VIEWS).
* **medium**: the shared backbone sees the views as a batch of four; CAM methods get one map per
  view from the target layer's ``(4, C, h, w)`` activations, gradient methods from the
  ``(4, 3, S, S)`` input gradient.

In both modes the four maps are normalised **together** (divided by one common scale), so the
maps also say which view mattered most; a single-view map is normalised on its own. Subclasses
implement :meth:`Attributor._raw_maps` returning non-negative raw maps and the target index.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from geoquiz.progress import Reporter
from geoquiz.types import VIEWS, Heatmap

_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model: Any) -> threading.Lock:
    """One lock per network: hook-based methods must not interleave on the same model."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.Lock()
        return lock


def split_views(raw: np.ndarray, integration: str) -> np.ndarray:
    """Raw input-resolution map(s) -> ``(V, S, S)``: single ``(S, S)`` -> 1 view; early ``(S, 4S)``
    -> 4 views cut left to right; medium ``(4, S, S)`` passes through."""
    raw = np.asarray(raw, dtype=np.float32)
    if integration == "single":
        return raw[None] if raw.ndim == 2 else raw
    if integration == "early":
        if raw.ndim != 2 or raw.shape[1] % 4:
            raise ValueError(f"an early-integration map must be S x 4S, got {raw.shape}")
        return np.stack(np.split(raw, 4, axis=1))
    if raw.shape[0] != 4:
        raise ValueError(f"a medium-integration map must be 4 x S x S, got {raw.shape}")
    return raw


def normalise(maps: np.ndarray, mode: str = "max", percentile: float = 99.0) -> np.ndarray:
    """Scale non-negative maps ``(V, S, S)`` to [0, 1] with one common scale.

    ``max``: divide by the maximum (CAMs: smooth, the peak is meaningful). ``percentile``: divide
    by the ``percentile``-th value and clip (gradient maps: a few extreme pixels would otherwise
    flatten everything else; SmoothGrad's own visualisation caps at the 99th percentile).
    An all-zero map stays zero.
    """
    maps = np.nan_to_num(np.maximum(np.asarray(maps, dtype=np.float32), 0.0))
    if mode == "max":
        scale = float(maps.max()) if maps.size else 0.0
    elif mode == "percentile":
        positive = maps[maps > 0]
        scale = float(np.percentile(positive, percentile)) if positive.size else 0.0
    else:
        raise ValueError(f"unknown normalisation {mode!r}")
    if scale <= 0.0:
        return np.zeros_like(maps)
    return np.clip(maps / scale, 0.0, 1.0).astype(np.float32)


class Attributor:
    """Base class. ``params`` (resolved keyword settings) are part of every cache key."""

    name = ""
    normalisation = "max"

    def __init__(self, loaded_model: Any, **params: Any) -> None:
        self.lm = loaded_model
        self.spec = loaded_model.spec
        self.params: dict[str, Any] = self.resolve_params(params)

    def resolve_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Merge ``params`` over the defaults; unknown names raise ``ValueError``."""
        defaults = dict(self.defaults())
        unknown = set(params) - set(defaults)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(defaults)}"
            )
        return {**defaults, **params}

    def defaults(self) -> dict[str, Any]:
        return {}

    def target_index(self, target: int | str | None) -> int | None:
        if target is None:
            return None
        if isinstance(target, str):
            return int(self.lm.class_index(target))
        t = int(target)
        if not 0 <= t < len(self.spec.classes):
            raise ValueError(f"target class index {t} is out of range for {len(self.spec.classes)} classes")
        return t

    def __call__(
        self, images: Any, target: int | str | None = None, *, reporter: Reporter | None = None
    ) -> list[Heatmap]:
        """Maps for one sample (one image, or 4 images in VIEWS order); ``target``: class index or
        name, default the predicted class. Returns one Heatmap per view (``view=None`` if single)."""
        x = self.lm.preprocess([images])
        idx, raw = self._raw_maps(x, self.target_index(target), reporter)
        maps = normalise(split_views(raw, self.spec.integration), self.normalisation)
        label = self.spec.classes[idx]
        views: list[str | None] = [None] if self.spec.n_views == 1 else list(VIEWS)
        return [
            Heatmap(values=m, method=self.name, target=label, view=v, params=dict(self.params))
            for m, v in zip(maps, views)
        ]

    def predicted_index(self, x: Any) -> int:
        import torch

        with torch.no_grad():
            return int(self.lm.model(x).argmax(dim=1)[0])

    def _raw_maps(self, x: Any, target: int | None, reporter: Reporter | None) -> tuple[int, np.ndarray]:
        """``(target index, raw non-negative map)``: ``(S, S)``, ``(S, 4S)`` (early) or ``(4, S, S)`` (medium)."""
        raise NotImplementedError
