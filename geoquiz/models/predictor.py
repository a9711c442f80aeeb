"""A loaded classifier ready for inference: preprocessing, batched prediction, class lookup.

``LoadedModel(model, spec, device)`` wraps a :class:`geoquiz.models.network.GeoNetwork` (a ResNet
``GeoClassifier``, or a timm / torchvision / CLIP network from :mod:`geoquiz.models.families`) in eval
mode. Samples are RGB uint8 HWC arrays (single-view) or 4 such arrays in VIEWS order (a list, tuple
or dict keyed by view) for 4-view models; any size, they are resized to ``spec.input_size`` (see
:mod:`geoquiz.models.transforms`). Shared by several threads it is safe for inference; code that
registers hooks (Grad-CAM) should remove them when done.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from geoquiz.data.dataset import read_sample
from geoquiz.errors import GeoQuizError
from geoquiz.models.network import GeoNetwork
from geoquiz.models.spec import ModelSpec
from geoquiz.models.transforms import as_views, assemble, normalize, resize_uint8
from geoquiz.types import ImageItem, Location, Prediction


def lut_normalise(views: np.ndarray, lut: np.ndarray) -> torch.Tensor:
    """uint8 ``(..., 3, H, W)`` -> float32 tensor of the same shape, ``lut[c][v]`` for each pixel of
    channel c (allocated by torch, so aligned as the network's kernels expect)."""
    out = torch.empty(views.shape, dtype=torch.float32)
    dst = out.numpy()
    for c in range(3):
        np.take(lut[c], views[..., c, :, :], out=dst[..., c, :, :], mode="clip")
    return out


class LoadedModel:
    """A classifier plus its spec and device. ``model`` is put in eval mode on ``device``."""

    def __init__(
        self,
        model: GeoNetwork,
        spec: ModelSpec,
        device: torch.device | str = "cpu",
        *,
        path: Path | None = None,
        metadata: dict | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.spec = spec
        self.path = path
        self.metadata = dict(metadata or {})
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(3, 1, 1)
        self._scale = (1.0 / (255.0 * std)).to(self.device)
        self._shift = (mean / std).to(self.device)
        # the same ``float(v) * scale - shift`` for every uint8 level v, per channel: normalising on
        # the CPU is then one table look-up per pixel, bit-identical to the arithmetic (used in
        # preprocess on CPU devices, where three full-size float passes cost more than the look-up)
        levels = torch.arange(256, dtype=torch.uint8).expand(3, 1, 256)
        self._lut = (levels.float() * self._scale.cpu() - self._shift.cpu()).reshape(3, 256).numpy()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def n_views(self) -> int:
        return self.spec.n_views

    def class_index(self, label: str) -> int:
        """Index of ``label`` in the model's output (raises :class:`GeoQuizError` for unknown labels)."""
        try:
            return self.spec.classes.index(label)
        except ValueError:
            raise GeoQuizError(
                f"class {label!r} is not one of the model's classes: {', '.join(self.spec.classes)}"
            ) from None

    def input_views(self, images: Sequence[object]) -> torch.Tensor:
        """uint8 ``(B, V, 3, S, S)``: each sample's views resized to the input size (what the model sees)."""
        n = self.spec.n_views
        flat = [v for i, s in enumerate(images) for v in as_views(s, n, f"sample {i}")]
        return resize_uint8(flat, self.spec.input_size).reshape(
            len(images), n, 3, self.spec.input_size, self.spec.input_size
        )

    def input_images(self, images: Sequence[object]) -> list[list[np.ndarray]]:
        """Per sample, the list of its views as RGB uint8 ``S x S x 3`` arrays (what the model sees)."""
        views = self.input_views(images).permute(0, 1, 3, 4, 2).numpy()
        return [[np.ascontiguousarray(v) for v in sample] for sample in views]

    def preprocess(self, images: Sequence[object]) -> torch.Tensor:
        """Network input on ``self.device``: single ``(B,3,S,S)``, early ``(B,3,S,4S)``, medium ``(B,4,3,S,S)``."""
        if not isinstance(images, (list, tuple)):
            raise ValueError("preprocess expects a list of samples (images, or 4-view lists)")
        views = self.input_views(images)
        if self.device.type == "cpu":
            x = lut_normalise(views.numpy(), self._lut)
        else:  # send uint8 (4x fewer bytes) and normalise on the device
            views = views.to(self.device)
            x = views.float() * self._scale - self._shift
        return assemble(x, self.spec.integration)

    def predict_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, N)`` (softmax) for a preprocessed batch, without gradients."""
        with torch.inference_mode():
            return torch.softmax(self.model(x.to(self.device)), dim=1)

    def predict_arrays(self, images: Sequence[object], batch_size: int = 32, *, features: bool = False):
        """``probs`` float32 ``(B, N)`` numpy, or ``(probs, features (B, D))`` with ``features=True``."""
        probs, feats = [], []
        for start in range(0, len(images), batch_size):
            x = self.preprocess(list(images[start : start + batch_size]))
            with torch.inference_mode():
                f, logits = self.model.forward_with_features(x)
                probs.append(torch.softmax(logits, dim=1).float().cpu().numpy())
                if features:
                    feats.append(f.float().cpu().numpy())
        n = self.spec.n_classes
        p = np.concatenate(probs) if probs else np.zeros((0, n), np.float32)
        if not features:
            return p
        return p, (np.concatenate(feats) if feats else np.zeros((0, self.model.feature_dim), np.float32))

    def predict(self, images: Sequence[object], batch_size: int = 32) -> list[Prediction]:
        """One :class:`Prediction` per sample (class probabilities in the model's class order)."""
        probs = self.predict_arrays(images, batch_size)
        return [Prediction(self.spec.classes, p.astype(np.float32)) for p in probs]

    def predict_samples(
        self, samples: Sequence[ImageItem | Location], batch_size: int = 32
    ) -> list[Prediction]:
        """Read dataset items (or 4-view locations) from disk and predict them."""
        out: list[Prediction] = []
        for start in range(0, len(samples), batch_size):
            out.extend(
                self.predict([read_sample(s) for s in samples[start : start + batch_size]], batch_size)
            )
        return out

    def __repr__(self) -> str:
        s = self.spec
        return f"LoadedModel({s.arch}, {s.integration}, {len(s.classes)} classes, {s.input_size}px, {self.device})"


# normalize is re-exported for callers that build inputs themselves
__all__ = ["LoadedModel", "normalize"]
