"""Grad-CAM, Grad-CAM++ and Score-CAM through the ``pytorch_grad_cam`` package (grad-cam).

The package's ``BaseCAM`` does the hooks, targets and per-channel weighting; GeoQuiz changes three
things, each in a small subclass:

* **No per-image min-max.** ``BaseCAM`` rescales every CAM of a batch to [0, 1] on its own
  (``scale_cam_image``), which would hide which of a location's four views mattered. Here the
  ReLU'd CAM is only resized (bilinear, like the package) and GeoQuiz normalises the views jointly.
* **Medium integration.** Given a ``(B, 4, 3, S, S)`` input the package fails (it takes the 5-D
  input for a 3-D volume: three target sizes for a 2-D CAM). The network is therefore wrapped so
  that the package sees ``(B*4, 3, S, S)`` and the wrapper reshapes back; the target layer's
  activations are then ``(B*4, C, h, w)`` = one CAM per view, while the targets still apply to the
  ``(B, N)`` logits.
* **Score-CAM, batched and with a channel subset.** The package's Score-CAM runs every channel's
  masked image (2048 for ResNet50), shows a tqdm bar and keeps every masked batch's activations
  in its hook. :class:`BatchedScoreCAM` runs the masked images in batches of ``batch_size``,
  reports progress (and so can be cancelled), and with ``channels = k`` scores only the ``k``
  channels with the highest mean activation (the others get weight 0; the softmax runs over the
  ``k`` scores). ``channels="auto"`` (default) = all channels on a GPU, 256 on a CPU, where all
  2048 of a ResNet50 take minutes per image; ``"all"`` = every channel (the exact method). The
  setting is resolved to a number when the attributor is made (:func:`resolve_channels`), and that
  number is what maps record and are keyed on. For
  medium integration a view's masked image is scored with the other three views at the zero
  (dataset-mean) input.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from geoquiz.attribution.base import Attributor, model_lock
from geoquiz.attribution.params import defaults_of
from geoquiz.progress import Reporter, step

CPU_SCORECAM_CHANNELS = 256


def target_channels(model: Any) -> int:
    """The number of channels of ``model.target_layer``'s output: its last BatchNorm / GroupNorm /
    Conv2d, or for token networks (ViT blocks) its last LayerNorm / Linear (the embedding width,
    which the reshape turns into channels)."""
    import torch

    nn = torch.nn
    for module in reversed(list(model.target_layer.modules())):
        if isinstance(module, nn.BatchNorm2d):
            return int(module.num_features)
        if isinstance(module, nn.GroupNorm):
            return int(module.num_channels)
        if isinstance(module, nn.Conv2d):
            return int(module.out_channels)
        if isinstance(module, nn.LayerNorm):
            return int(module.normalized_shape[-1])
        if isinstance(module, nn.Linear):
            return int(module.out_features)
    raise ValueError(
        f"cannot tell how many channels the target layer has ({type(model.target_layer).__name__})"
    )


def resolve_channels(channels: Any, total: int, device_type: str) -> int:
    """Score-CAM's ``channels`` setting as the number of channels scored, deterministically:
    ``"auto"`` -> all ``total`` on a GPU (``device_type == "cuda"``), ``min(256, total)`` elsewhere;
    ``"all"`` -> ``total``; a number -> itself, at most ``total``. Runs record this number, so a run
    resumed on another device goes on with the same channels."""
    if isinstance(channels, str) and channels.strip().isdigit():
        channels = int(channels)
    if channels == "auto":
        return total if device_type == "cuda" else min(CPU_SCORECAM_CHANNELS, total)
    if channels == "all":
        return total
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"scorecam: channels must be 'auto', 'all' or a positive int, got {channels!r}")
    return min(channels, total)


class ViewsAsBatch:
    """Factory for a wrapper module: ``(B*4, 3, S, S)`` -> the medium model's ``(B, 4, 3, S, S)``."""

    @staticmethod
    def wrap(model: Any) -> Any:
        import torch

        class _ViewsAsBatch(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.inner(x.reshape(x.shape[0] // 4, 4, *x.shape[1:]))

        return _ViewsAsBatch(model)


@functools.cache
def cam_classes() -> dict[str, type]:
    """The package's CAM classes with GeoQuiz's raw (un-normalised) output; built on first use."""
    import cv2
    import torch
    import torch.nn.functional as F
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, ScoreCAM

    class RawCAMMixin:
        def compute_cam_per_layer(self, input_tensor, targets, eigen_smooth):
            acts = [a.cpu().data.numpy() for a in self.activations_and_grads.activations]
            grads = [g.cpu().data.numpy() for g in self.activations_and_grads.gradients]
            h, w = input_tensor.shape[-2:]
            per_layer = []
            for i, layer in enumerate(self.target_layers):
                a = acts[i] if i < len(acts) else None
                g = grads[i] if i < len(grads) else None
                cam = np.maximum(self.get_cam_image(input_tensor, layer, targets, a, g, eigen_smooth), 0)
                resized = np.stack(
                    [cv2.resize(np.float32(c), (w, h), interpolation=cv2.INTER_LINEAR) for c in cam]
                )
                per_layer.append(resized[:, None])
            return per_layer

        def aggregate_multi_layers(self, cam_per_target_layer):
            return np.maximum(np.concatenate(cam_per_target_layer, axis=1), 0).mean(axis=1)

    class RawGradCAM(RawCAMMixin, GradCAM):
        pass

    class RawGradCAMPlusPlus(RawCAMMixin, GradCAMPlusPlus):
        pass

    class BatchedScoreCAM(RawCAMMixin, ScoreCAM):
        """Score-CAM with batching, a channel subset, progress and 4-view (medium) support."""

        channels: int | None = None  # None = all
        batch_size: int = 32
        views_per_sample: int = 1
        reporter: Reporter | None = None

        def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
            acts = torch.from_numpy(activations)
            m_total, c_total = acts.shape[:2]
            k = c_total if self.channels is None else min(int(self.channels), c_total)
            h, w = input_tensor.shape[-2:]
            weights = np.zeros((m_total, c_total), dtype=np.float32)
            n_views = self.views_per_sample
            done, total = 0, m_total * k
            for m in range(m_total):
                b, v = divmod(m, n_views)
                order = torch.argsort(acts[m].mean(dim=(1, 2)), descending=True, stable=True)[:k]
                scores = []
                for start in range(0, k, self.batch_size):
                    idx = order[start : start + self.batch_size]
                    chans = acts[m, idx][None].to(
                        self.device
                    )  # align_corners as the package's UpsamplingBilinear2d
                    up = F.interpolate(chans, size=(h, w), mode="bilinear", align_corners=True)[0]
                    flat = up.reshape(len(idx), -1)
                    lo, hi = flat.min(dim=1)[0], flat.max(dim=1)[0]
                    masks = (up - lo[:, None, None]) / (hi - lo + 1e-8)[:, None, None]
                    masked = input_tensor[m][None] * masks[:, None]  # (n, 3, H, W)
                    if n_views > 1:  # the other views at the zero (dataset-mean) input
                        batch = torch.zeros((len(idx), n_views, *input_tensor.shape[1:]), device=self.device)
                        batch[:, v] = masked
                        masked = batch.reshape(-1, *input_tensor.shape[1:])
                    with torch.no_grad():
                        scores.append(targets[b](self.model(masked)).float().cpu())
                    self.activations_and_grads.activations.clear()  # the hook kept this batch's maps
                    done += len(idx)
                    step(self.reporter, done, total, "Score-CAM")
                weights[m, order.numpy()] = torch.softmax(torch.cat(scores), dim=0).numpy()
            return weights

    return {"gradcam": RawGradCAM, "gradcampp": RawGradCAMPlusPlus, "scorecam": BatchedScoreCAM}


class CamAttributor(Attributor):
    """Grad-CAM / Grad-CAM++ / Score-CAM at ``model.target_layer`` (through ``model.reshape_transform``
    when it is set); maps normalised by their max."""

    normalisation = "max"

    def __init__(self, name: str, loaded_model: Any, **params: Any) -> None:
        self.name = name
        super().__init__(loaded_model, **params)

    def defaults(self) -> dict[str, Any]:
        return defaults_of(self.name)

    def resolve_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Merge over the defaults; Score-CAM's ``channels`` becomes a number (see :func:`resolve_channels`)."""
        out = super().resolve_params(params)
        if self.name == "scorecam":
            out["channels"] = resolve_channels(
                out["channels"], target_channels(self.lm.model), self.lm.device.type
            )
        return out

    def make_cam(self) -> tuple[Any, Any]:
        """``(cam, network)``: the configured pytorch_grad_cam object and the module it runs."""
        model = self.lm.model
        medium = self.spec.integration == "medium"
        net = ViewsAsBatch.wrap(model) if medium else model
        # token-based networks (ViT, CLIP) name how their target layer's output becomes (B, C, h, w)
        reshape = getattr(model, "reshape_transform", None)
        cam = cam_classes()[self.name](net, [model.target_layer], reshape_transform=reshape)
        if self.name == "scorecam":
            cam.channels = int(self.params["channels"])
            cam.batch_size = int(self.params["batch_size"])
            cam.views_per_sample = 4 if medium else 1
        return cam, net

    def _raw_maps(self, x: Any, target: int | None, reporter: Reporter | None) -> tuple[int, np.ndarray]:
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        medium = self.spec.integration == "medium"
        inp = x.reshape(-1, *x.shape[2:]) if medium else x
        with model_lock(self.lm.model):
            cam, _ = self.make_cam()
            cam.reporter = reporter
            try:
                targets = None if target is None else [ClassifierOutputTarget(target)]
                grayscale = cam(inp, targets)
                if target is None:
                    target = int(cam.outputs.argmax(dim=1)[0])
            finally:
                cam.activations_and_grads.release()
        return target, (grayscale if medium else grayscale[0])


def build(name: str, loaded_model: Any, **params: Any) -> CamAttributor:
    """Registry builder (:data:`geoquiz.attribution.REGISTRY`) for ``gradcam``, ``gradcampp`` and ``scorecam``."""
    return CamAttributor(name, loaded_model, **params)
