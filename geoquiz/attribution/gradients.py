"""SmoothGrad and Integrated Gradients through captum.

* **SmoothGrad** (Smilkov et al. 2017): ``captum.attr.NoiseTunnel`` over ``Saliency`` (absolute
  input gradients), ``n_samples`` noisy copies with Gaussian noise of standard deviation
  ``noise`` x (input max - input min) -- the paper's "noise level" of 10-20 %, default 15 % --
  evaluated ``batch_size`` at a time. A pixel's value is the maximum over the colour channels
  (Simonyan et al.'s saliency).
* **Integrated Gradients** (Sundararajan et al. 2017; paper 003 uses it): ``captum.attr.IntegratedGradients``
  with ``n_steps`` Gauss-Legendre steps from a ``baseline`` -- ``black`` (pixel value 0, the
  common choice) or ``mean`` (the normalisation mean, i.e. a zero input) -- in internal batches of
  ``batch_size``. A pixel's value is the sum of absolute attributions over the colour channels.

Gradient maps are pixel-noisy. Each view's map is smoothed with a Gaussian of ``blur_sigma``
pixels (0 = off; default 2, so the top-p region and a segment's centre value are stable) and the
views are normalised together by the 99th percentile of the non-zero values, clipped to [0, 1].
The network input is a 4-D ``(1, 3, S, W)`` tensor (single, early) or ``(1, 4, 3, S, S)`` (medium);
captum handles both, and the per-view maps are cut or read from its input-shaped attribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geoquiz.attribution.base import Attributor, model_lock
from geoquiz.attribution.params import defaults_of
from geoquiz.progress import Reporter, step


def _blur(raw: np.ndarray, sigma: float, integration: str) -> np.ndarray:
    """Gaussian-smooth each view separately (never across the seam between early-integration views)."""
    if sigma <= 0:
        return raw
    from scipy.ndimage import gaussian_filter

    from geoquiz.attribution.base import split_views

    views = [gaussian_filter(v, sigma=sigma, mode="nearest") for v in split_views(raw, integration)]
    if integration == "early":
        return np.concatenate(views, axis=1)
    return np.stack(views) if integration == "medium" else views[0]


class GradientAttributor(Attributor):
    normalisation = "percentile"

    def _reduce(self, attr: Any) -> np.ndarray:
        """Input-shaped attribution ``(1, 3, S, W)`` / ``(1, 4, 3, S, S)`` -> raw map(s)."""
        a = attr.detach().abs()[0]  # (3, S, W) or (4, 3, S, S)
        channel_dim = a.dim() - 3
        a = a.amax(dim=channel_dim) if self.reduce == "max" else a.sum(dim=channel_dim)
        return a.float().cpu().numpy()

    def _raw_maps(self, x: Any, target: int | None, reporter: Reporter | None) -> tuple[int, np.ndarray]:
        with model_lock(self.lm.model):
            if target is None:
                target = self.predicted_index(x)
            step(reporter, 0, 1, self.name)
            attr = self._attribute(x, target)
            step(reporter, 1, 1, self.name)
        raw = self._reduce(attr)
        return target, _blur(raw, float(self.params["blur_sigma"]), self.spec.integration)

    def _attribute(self, x: Any, target: int) -> Any:
        raise NotImplementedError


class SmoothGradAttributor(GradientAttributor):
    name = "smoothgrad"
    reduce = "max"

    def defaults(self) -> dict[str, Any]:
        return defaults_of("smoothgrad")

    def _attribute(self, x: Any, target: int) -> Any:
        import torch
        from captum.attr import NoiseTunnel, Saliency

        p = self.params
        sigma = float(p["noise"]) * float(x.max() - x.min())
        tunnel = NoiseTunnel(Saliency(self.lm.model))
        # the noise comes from torch's global generator: seed it (and restore it) for reproducible maps
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(p["seed"]))
            return tunnel.attribute(
                x,
                nt_type="smoothgrad",
                nt_samples=int(p["n_samples"]),
                nt_samples_batch_size=int(p["batch_size"]),
                stdevs=sigma,
                target=target,
            )


class IntegratedGradientsAttributor(GradientAttributor):
    name = "ig"
    reduce = "sum"

    def defaults(self) -> dict[str, Any]:
        return defaults_of("ig")

    def baseline(self, x: Any) -> Any:
        import torch

        kind = self.params["baseline"]
        if kind == "mean":
            return torch.zeros_like(x)
        if kind != "black":
            raise ValueError(f"ig: baseline must be 'black' or 'mean', got {kind!r}")
        mean = torch.tensor(self.spec.mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
        std = torch.tensor(self.spec.std, dtype=x.dtype, device=x.device).view(3, 1, 1)
        return torch.zeros_like(x) + (-mean / std)

    def _attribute(self, x: Any, target: int) -> Any:
        from captum.attr import IntegratedGradients

        p = self.params
        ig = IntegratedGradients(self.lm.model)
        return ig.attribute(
            x,
            baselines=self.baseline(x),
            target=target,
            n_steps=int(p["n_steps"]),
            internal_batch_size=int(p["batch_size"]),
        )


def build(name: str, loaded_model: Any, **params: Any) -> GradientAttributor:
    """Registry builder (:data:`geoquiz.attribution.REGISTRY`) for ``smoothgrad`` and ``ig``."""
    classes = {"smoothgrad": SmoothGradAttributor, "ig": IntegratedGradientsAttributor}
    if name not in classes:
        raise ValueError(f"{name!r} is not a gradient method; known: {', '.join(classes)}")
    return classes[name](loaded_model, **params)
