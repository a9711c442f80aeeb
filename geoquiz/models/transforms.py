"""Input preparation shared by training and inference, so both see exactly the same pixels.

The canonical "model view" of an image is the RGB uint8 image resized to ``S x S`` (``S`` =
``ModelSpec.input_size``) with antialiased bilinear interpolation (torch's ``interpolate`` with
``antialias=True``, close to PIL's bilinear resize), rounded back to uint8. Normalisation then maps
``[0, 255]`` to ``(x / 255 - mean) / std`` per channel. 4-view samples are assembled after that:
early integration concatenates the views left to right (``(3, S, 4S)``), medium stacks them
(``(4, 3, S, S)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from geoquiz.types import VIEWS


def check_image(image: object, where: str = "image") -> np.ndarray:
    """Return ``image`` if it is an RGB uint8 HWC array, else raise ``ValueError`` saying what it is."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = (
            f"{type(image).__name__}" if not isinstance(image, np.ndarray) else f"{image.dtype} {image.shape}"
        )
        raise ValueError(f"{where} must be an RGB uint8 HxWx3 array, got {desc}")
    return image


def resize_uint8(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """Resize RGB uint8 HWC images to ``(N, 3, size, size)`` uint8 (same-shape images in one call).

    Images already at ``size x size`` are only transposed to CHW, in numpy (a strided uint8 copy
    there is several times faster than torch's); when they are all such, no further copy is made.
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault(check_image(img, f"image {i}").shape, []).append(i)
    if len(groups) == 1 and next(iter(groups)) == (size, size, 3):
        return torch.from_numpy(np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2)))
    out = torch.empty((len(images), 3, size, size), dtype=torch.uint8)
    for shape, idx in groups.items():
        stacked = np.stack([images[i] for i in idx])
        if shape[0] != size or shape[1] != size:
            batch = torch.from_numpy(stacked).permute(0, 3, 1, 2)
            resized = F.interpolate(
                batch.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
            batch = resized.round_().clamp_(0, 255).to(torch.uint8)
        else:
            batch = torch.from_numpy(np.ascontiguousarray(stacked.transpose(0, 3, 1, 2)))
        out[idx] = batch
    return out


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (or 0-255 float) ``(..., 3, H, W)`` -> float32 ``(x / 255 - mean) / std``."""
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x.float() * (1.0 / 255.0) - m) / s


def assemble(views: torch.Tensor, integration: str) -> torch.Tensor:
    """Per-view tensors ``(B, V, 3, S, S)`` -> the network input for ``integration``.

    single: ``(B, 3, S, S)`` (V = 1); early: ``(B, 3, S, 4S)``; medium: ``(B, 4, 3, S, S)``.
    """
    if integration == "single":
        return views[:, 0]
    if integration == "early":
        return torch.cat(list(views.unbind(dim=1)), dim=-1)
    return views


def as_views(sample: object, n_views: int, where: str = "sample") -> list[np.ndarray]:
    """A sample as a list of its views: one HWC image (n_views 1), or 4 images in VIEWS order given
    as a list/tuple or a dict keyed by view name."""
    if n_views == 1:
        if isinstance(sample, (list, tuple)) and len(sample) == 1:
            sample = sample[0]
        return [check_image(sample, where)]
    if isinstance(sample, dict):
        missing = [v for v in VIEWS if v not in sample]
        if missing:
            raise ValueError(f"{where} is missing view(s) {', '.join(missing)}")
        sample = [sample[v] for v in VIEWS]
    if not isinstance(sample, (list, tuple)) or len(sample) != 4:
        raise ValueError(f"{where} must be 4 images in the order {', '.join(VIEWS)} for a 4-view model")
    return [check_image(img, f"{where} view {VIEWS[i]}") for i, img in enumerate(sample)]
