"""A torch ``Dataset`` over GeoQuiz items (single view) or locations (4 views), with augmentation.

Each sample is read with :func:`geoquiz.data.imageio.read_image`, resized to the model view
(:func:`geoquiz.models.transforms.resize_uint8`), optionally augmented, normalised and assembled
for the integration mode, exactly as :class:`geoquiz.models.predictor.LoadedModel` prepares inputs.

Augmentation (training only; paper 000: "random horizontal flipping and color jitter"):

* horizontal flip with probability 0.5. For a 4-view location every view is flipped and the east
  and west views are swapped, which is the mirror image of the whole place. Note that a flip also
  mirrors the driving side and any script, both of which are country cues; it is a setting.
* random resized crop (off by default; ``crop`` = the smallest kept fraction of the area, e.g.
  0.6): a zoom-and-shift that teaches position and scale invariance. All views of a location get
  the same crop.
* colour jitter (torchvision ``ColorJitter``) with the same random factors for all views of a
  location. Hue jitter defaults to 0: it is slow on CPU and changes colour cues (yellow vs white road
  lines, painted kerbs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from geoquiz.models.transforms import assemble, normalize, resize_uint8
from geoquiz.types import VIEWS, ImageItem, Location

_MIRROR = [VIEWS.index(v) for v in ("north", "west", "south", "east")]


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation. ``jitter`` = (brightness, contrast, saturation, hue); all 0 = off.
    ``crop``: smallest area fraction of a random resized crop (0 = off)."""

    hflip: bool = True
    jitter: tuple[float, float, float, float] = (0.2, 0.2, 0.2, 0.0)
    crop: float = 0.0

    def __call__(self, views: torch.Tensor) -> torch.Tensor:
        """``views``: uint8 ``(V, 3, S, S)`` -> augmented uint8 ``(V, 3, S, S)`` (global torch RNG)."""
        if self.hflip and torch.rand(()) < 0.5:
            views = views.flip(-1)
            if views.shape[0] == 4:
                views = views[_MIRROR]
        if self.crop > 0:
            from torchvision.transforms import v2

            size = views.shape[-1]
            crop = v2.RandomResizedCrop(size, scale=(self.crop, 1.0), ratio=(0.9, 1.1), antialias=True)
            views = crop(views)
        if any(self.jitter):
            from torchvision.transforms import v2

            b, c, s, h = self.jitter
            views = v2.ColorJitter(brightness=b, contrast=c, saturation=s, hue=h)(views)
        return views


def sample_label(sample: ImageItem | Location) -> str:
    return sample.label


def sample_paths(sample: ImageItem | Location) -> list[str]:
    """Image paths of a sample in VIEWS order (one path for an item)."""
    if isinstance(sample, Location):
        missing = [v for v in VIEWS if v not in sample.views]
        if missing:
            raise ValueError(f"location {sample.key!r} lacks view(s) {', '.join(missing)}")
        return [sample.views[v].path for v in VIEWS]
    return [sample.path]


class SampleDataset(Dataset):
    """``(x, y)`` pairs: ``x`` float32 network input for ``integration``, ``y`` the class index.

    ``samples``: ImageItems (single) or Locations (early/medium). ``cache=True`` keeps each resized
    uint8 model view in memory after the first read (``len * V * 3 * S * S`` bytes).
    """

    def __init__(
        self,
        samples: Sequence[ImageItem | Location],
        classes: Sequence[str],
        *,
        integration: str,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        augment: Augment | None = None,
        cache: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.classes = tuple(classes)
        index = {c: i for i, c in enumerate(self.classes)}
        unknown = sorted({s.label for s in self.samples} - set(index))
        if unknown:
            raise ValueError(
                f"labels {', '.join(unknown)} are not among the classes {', '.join(self.classes)}"
            )
        self.targets = [index[s.label] for s in self.samples]
        self.paths = [sample_paths(s) for s in self.samples]
        self.integration, self.input_size = integration, int(input_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.augment = augment
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.samples)

    def views(self, i: int) -> torch.Tensor:
        """uint8 ``(V, 3, S, S)`` model views of sample ``i`` (no augmentation)."""
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        t = self._read_views(i)
        if self._cache is not None:
            self._cache[i] = t
        return t

    def warm(self, threads: int = 2, reporter=None) -> None:
        """Fill the cache (``cache=True``) with ``threads`` threads: image decoding and resizing release
        the GIL, so the first epoch does not read the images one by one. A no-op without a cache;
        cancelling ``reporter`` stops it (what is read stays cached)."""
        if self._cache is None or threads < 2 or len(self) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        missing = [i for i in range(len(self)) if i not in self._cache]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for i, views in zip(missing, pool.map(self._read_views, missing)):
                self._cache[i] = views
                if reporter is not None:
                    reporter.check()

    def _read_views(self, i: int) -> torch.Tensor:
        from geoquiz.data.imageio import read_image

        return resize_uint8([read_image(p) for p in self.paths[i]], self.input_size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        v = self.views(i)
        if self.augment is not None:
            v = self.augment(v)
        x = assemble(normalize(v, self.mean, self.std).unsqueeze(0), self.integration)[0]
        return x, self.targets[i]


def channel_stats(dataset: SampleDataset, max_samples: int = 2000, reporter=None) -> tuple[tuple, tuple]:
    """Per-channel mean and std of ``[0, 1]`` pixels over (up to ``max_samples``) model views."""
    from geoquiz.progress import step

    n = min(len(dataset), max_samples)
    idx = torch.linspace(0, len(dataset) - 1, n).round().long().unique().tolist() if n else []
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    count = 0
    for k, i in enumerate(idx):
        v = dataset.views(i).double() / 255.0
        total += v.sum(dim=(0, 2, 3))
        total_sq += (v * v).sum(dim=(0, 2, 3))
        count += v.shape[0] * v.shape[2] * v.shape[3]
        step(reporter, k + 1, len(idx), "computing dataset colour statistics")
    if count == 0:
        raise ValueError("cannot compute colour statistics of an empty dataset")
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-8).sqrt()
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
