"""Batched scoring of masked variants of one image: *how it is scored*.

:class:`ImageFrame` prepares one image (or one 4-view location) **once** at the model's input
resolution: it runs the model's own ``preprocess`` (resize + normalise, and for early integration the
left-to-right concatenation of the views), splits the tensor back into views, and, for
mask-independent fills (blur, mean, black), computes each view's fill image once. A variant is then
just a bool removal mask per view; :meth:`ImageFrame.score` builds the variants of a chunk with one
``torch.where`` and runs them through ``LoadedModel.predict_tensor`` in batches of ``batch_size``.
ROAD's fill depends on the mask, so it is computed per variant and view (numpy/scipy).

Model layouts (geoquiz.models contract): single ``(B, 3, H, W)``; early ``(B, 3, H, 4W)`` with the
views left to right in :data:`geoquiz.types.VIEWS` order; medium ``(B, 4, 3, H, W)``.

The scores of a variant (:func:`true_class_scores`): ``correct`` (argmax is the true class) and
``true_prob`` (softmax probability of the true class).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geoquiz.boxes import Box, union_mask
from geoquiz.faithfulness.perturb import Fill
from geoquiz.faithfulness.random import PlacedBox
from geoquiz.types import VIEWS


@dataclass(frozen=True)
class Scores:
    """Per-variant scores: ``correct`` bool (n,), ``true_prob`` float32 (n,), ``probs`` float32 (n, N)."""

    correct: np.ndarray
    true_prob: np.ndarray
    probs: np.ndarray


def true_class_scores(probs: np.ndarray, true_index: int) -> Scores:
    """Accuracy and true-class probability from a ``(n, N)`` probability array."""
    probs = np.asarray(probs, dtype=np.float32)
    return Scores(probs.argmax(axis=1) == true_index, probs[:, true_index].copy(), probs)


class ImageFrame:
    """One image or location at the model's input resolution, ready for masked variants.

    ``images``: one HWC uint8 image (single view) or a list of 4 in VIEWS order (4-view models).
    ``box_frame``: ``(height, width)`` of the frame boxes are given in (the attribution maps'
    resolution); ``None`` means the model's input resolution. ``fill`` replaces removed pixels.
    """

    def __init__(
        self, loaded, images, fill: Fill, *, box_frame: tuple[int, int] | None = None, seed: int = 0
    ):
        import torch

        self.loaded = loaded
        self.fill = fill
        spec = loaded.spec
        x = loaded.preprocess([images]).detach().to("cpu")
        self.layout = (
            "medium" if x.dim() == 5 else ("early" if getattr(spec, "n_views", 1) == 4 else "single")
        )
        if self.layout == "medium":
            views = x[0]
        elif self.layout == "early":
            views = torch.stack(torch.chunk(x[0], 4, dim=-1))
        else:
            views = x[0:1]
        self.views: list[str | None] = list(VIEWS) if self.layout != "single" else [None]
        self.xn = views.float().contiguous()  # (V, 3, H, W) normalised
        self.height, self.width = int(self.xn.shape[-2]), int(self.xn.shape[-1])
        self.mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
        self.image01 = (
            (self.xn * self.std + self.mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        )  # (V, H, W, 3)
        self.box_frame = box_frame
        self.rng = np.random.default_rng(seed)
        self.background = None
        if not fill.mask_dependent:
            bg = np.stack([fill.background(v) for v in self.image01])
            self.background = self._normalise(bg)
        self.n_forward = 0
        self.n_batches = 0

    @property
    def shapes(self) -> dict[str | None, tuple[int, int]]:
        """Each view's ``(height, width)`` at input resolution."""
        return {v: (self.height, self.width) for v in self.views}

    def _normalise(self, images01: np.ndarray):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(images01, dtype=np.float32)).permute(0, 3, 1, 2)
        return (t - self.mean) / self.std

    def to_input(
        self, boxes: Sequence[PlacedBox], frames: Mapping[str | None, tuple[int, int]] | None = None
    ) -> list[PlacedBox]:
        """Boxes scaled to the input resolution (rounded outwards, clipped). A box is in the frame
        ``frames[box.view]`` (``(height, width)``, e.g. the pixels of the image a participant drew
        on) when ``frames`` is given, else in ``box_frame`` (the maps' frame). The model sees each
        view resized to ``S x S`` without cropping, so the scale is ``S / width`` and ``S / height``."""
        out = []
        for b in boxes:
            frame = self.box_frame if frames is None else frames[b.view]
            if frame is None or tuple(frame) == (self.height, self.width):
                out.append(PlacedBox(b.box.clip(self.width, self.height), b.view))
                continue
            fh, fw = frame
            box = b.box.clip(fw, fh).scale(self.width / fw, self.height / fh)
            out.append(PlacedBox(box.clip(self.width, self.height), b.view))
        return out

    def removal(self, test: str, boxes: Sequence[PlacedBox]) -> np.ndarray:
        """Bool ``(V, H, W)`` mask of the pixels a test replaces (boxes at input resolution)."""
        out = np.empty((len(self.views), self.height, self.width), dtype=bool)
        for i, view in enumerate(self.views):
            inside = union_mask([b.box for b in boxes if b.view == view], self.height, self.width)
            if test == "deletion":
                out[i] = inside
            elif test == "insertion":
                out[i] = ~inside
            else:
                raise ValueError(f"unknown test {test!r}")
        return out

    def _batch(self, masks: Sequence[np.ndarray]):
        import torch

        if self.background is not None:
            m = torch.from_numpy(np.stack(masks)).unsqueeze(2)  # (B, V, 1, H, W)
            batch = torch.where(m, self.background.unsqueeze(0), self.xn.unsqueeze(0))
        else:
            filled = []
            for mask in masks:
                views = [self.fill.fill01(self.image01[i], mask[i], self.rng) for i in range(len(self.views))]
                filled.append(self._normalise(np.stack(views)))
            batch = torch.stack(filled)  # (B, V, 3, H, W)
        if self.layout == "single":
            return batch[:, 0]
        if self.layout == "early":
            return torch.cat(list(batch.unbind(1)), dim=-1)
        return batch

    def score(self, masks: Sequence[np.ndarray], true_index: int, batch_size: int = 32) -> Scores:
        """Scores of the variants given by removal masks (each bool ``(V, H, W)``), in order."""
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(masks), batch_size):
                chunk = masks[start : start + batch_size]
                probs = self.loaded.predict_tensor(self._batch(chunk))
                out.append(probs.detach().float().cpu().numpy())
                self.n_forward += len(chunk)
                self.n_batches += 1
        n_classes = len(self.loaded.spec.classes)
        probs = np.concatenate(out) if out else np.zeros((0, n_classes), np.float32)
        return true_class_scores(probs, true_index)

    def coverage(self, boxes: Sequence[PlacedBox]) -> float:
        """Union coverage of boxes (input resolution) over all views."""
        total = len(self.views) * self.height * self.width
        covered = sum(
            int(union_mask([b.box for b in boxes if b.view == v], self.height, self.width).sum())
            for v in self.views
        )
        return covered / total


def box_of(b: PlacedBox | Box) -> Box:
    return b.box if isinstance(b, PlacedBox) else b
