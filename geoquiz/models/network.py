"""The network every GeoQuiz classifier is: a trunk giving penultimate features, a linear head.

:class:`GeoNetwork` is what :class:`geoquiz.models.predictor.LoadedModel`, the attributors and
training see, whatever the model family (:mod:`geoquiz.models.families`):

* ``.backbone`` - ``(B, 3, H, W) -> (B, D)`` penultimate features (a ResNet with ``fc`` replaced
  by ``nn.Identity``, a timm or torchvision network with its classifier replaced likewise, or a
  CLIP image tower whose output is the L2-normalised image embedding);
* ``.head`` - ``nn.Linear(D, N)`` (``nn.Linear(4 * D, N)`` for medium integration with ``concat``;
  for CLIP the text embeddings of the class prompts times the logit scale, no bias);
* ``.target_layer`` - the module whose activations Grad-CAM weighs, named by a dotted path under
  ``backbone`` (``"layer4.-1"``: negative indices count from the end of a Sequential/ModuleList);
* ``.reshape_transform`` - ``None`` when that layer's output is ``(B, C, h, w)``; for token-based
  networks a callable turning its output into ``(B, C, h, w)`` (pytorch-grad-cam's
  ``reshape_transform``): :class:`TokenGrid` (ViT, CLIP: ``(B, P + h*w, C)``, prefix tokens dropped)
  or :class:`ChannelsLast` (Swin: ``(B, h, w, C)``);
* ``.features(x) -> (B, D')`` and ``forward(x) -> (B, N)`` logits, for single, early and medium
  integration (:mod:`geoquiz.models.spec`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geoquiz.models.spec import ModelSpec


def resolve_module(root: nn.Module, path: str) -> nn.Module:
    """The submodule of ``root`` at dotted ``path``; integer parts index (negative from the end).

    Raises ``ValueError`` naming the part that does not exist and what is there instead.
    """
    module = root
    if not path:
        return module
    for part in path.split("."):
        if part.lstrip("-").isdigit() and isinstance(module, (nn.Sequential, nn.ModuleList)):
            index = int(part)
            if not -len(module) <= index < len(module):
                raise ValueError(
                    f"layer path {path!r}: index {index} is out of range ({len(module)} entries)"
                )
            module = module[index]
            continue
        child = module._modules.get(part)
        if child is None:
            known = ", ".join(module._modules) or "(none)"
            raise ValueError(f"layer path {path!r}: no submodule {part!r} here; its children: {known}")
        module = child
    return module


class TokenGrid:
    """Reshape transform for token sequences ``(B, P + h*w, C)`` -> ``(B, C, h, w)``.

    ``prefix``: leading non-spatial tokens to drop (class token, registers). ``aspect``: the input's
    width / height (1 for square views, 4 for an early-integration strip), so ``h*w`` tokens give
    ``h = sqrt(h*w / aspect)`` rows. Picklable (plain attributes).
    """

    def __init__(self, prefix: int = 1, aspect: int = 1) -> None:
        self.prefix = int(prefix)
        self.aspect = int(aspect)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 3:
            raise ValueError(f"TokenGrid expects (B, tokens, C) activations, got {tuple(tokens.shape)}")
        grid = tokens[:, self.prefix :, :]
        n = grid.shape[1]
        h = round(math.sqrt(n / self.aspect))
        w = n // max(h, 1)
        if h * w != n:
            raise ValueError(
                f"{n} patch tokens (after dropping {self.prefix}) do not form an h x {self.aspect}h grid"
            )
        return grid.reshape(grid.shape[0], h, w, grid.shape[2]).permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return f"TokenGrid(prefix={self.prefix}, aspect={self.aspect})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenGrid) and (self.prefix, self.aspect) == (other.prefix, other.aspect)

    def __hash__(self) -> int:
        return hash((self.prefix, self.aspect))


class ChannelsLast:
    """Reshape transform for ``(B, h, w, C)`` feature maps (Swin) -> ``(B, C, h, w)``."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"ChannelsLast expects (B, h, w, C) activations, got {tuple(x.shape)}")
        return x.permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return "ChannelsLast()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelsLast)

    def __hash__(self) -> int:
        return hash("ChannelsLast")


class GeoNetwork(nn.Module):
    """A feature trunk plus a linear head, for single-view or 4-view (early/medium) inputs.

    ``backbone`` maps ``(B, 3, H, W)`` to ``(B, feature_dim)``. ``head``: the classifier (default a
    fresh ``nn.Linear`` of the right size). ``target_layer``: dotted path under ``backbone``.
    """

    def __init__(
        self,
        spec: ModelSpec,
        backbone: nn.Module,
        feature_dim: int,
        *,
        head: nn.Module | None = None,
        target_layer: str = "",
        reshape_transform=None,
        classifier_path: str = "",
    ) -> None:
        super().__init__()
        self.spec = spec
        self.feature_dim = int(feature_dim)
        self.backbone = backbone
        concat = spec.integration == "medium" and spec.pooling == "concat"
        self.head = (
            head if head is not None else nn.Linear(self.feature_dim * (4 if concat else 1), spec.n_classes)
        )
        self.target_layer_name = target_layer
        self.reshape_transform = reshape_transform
        self.classifier_path = classifier_path

    @property
    def target_layer(self) -> nn.Module:
        """The module Grad-CAM hooks (``backbone`` + :attr:`target_layer_name`)."""
        return resolve_module(self.backbone, self.target_layer_name)

    def _check_input(self, x: torch.Tensor) -> None:
        want = 5 if self.spec.integration == "medium" else 4
        if x.dim() != want or x.shape[-3] != 3 or (want == 5 and x.shape[1] != 4):
            shape = "(B, 4, 3, H, W)" if want == 5 else "(B, 3, H, W)"
            raise ValueError(f"{self.spec.integration} model expects input {shape}, got {tuple(x.shape)}")

    def view_features(self, x: torch.Tensor) -> torch.Tensor:
        """Medium integration only: per-view features ``(B, 4, D)`` before pooling."""
        if self.spec.integration != "medium":
            raise ValueError("view_features is only defined for medium integration")
        self._check_input(x)
        b = x.shape[0]
        return self.backbone(x.reshape(b * 4, *x.shape[2:])).reshape(b, 4, self.feature_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(B, D)`` (``(B, 4D)`` for medium + concat), float32."""
        self._check_input(x)
        if self.spec.integration != "medium":
            return self.backbone(x)
        per_view = self.view_features(x)
        return per_view.mean(dim=1) if self.spec.pooling == "mean" else per_view.flatten(1)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features (B, D'), logits (B, N))`` from one forward pass."""
        f = self.features(x)
        return f, self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, N)``."""
        return self.head(self.features(x))

    def split_views(self, t: torch.Tensor) -> torch.Tensor:
        """Per-view pieces of an input- or activation-shaped tensor, ``(B, 4, C, h, w)``.

        early: ``t`` is ``(B, C, h, 4w)`` (the input or target-layer activations) and is cut into
        four equal widths, left to right = VIEWS order. medium: ``t`` is ``(B*4, C, h, w)`` (target
        layer activations) or ``(B, 4, C, h, w)`` (the input) and is reshaped. single: ``(B, 1, C, h, w)``.
        """
        if self.spec.integration == "single":
            return t.unsqueeze(1)
        if self.spec.integration == "early":
            if t.shape[-1] % 4:
                raise ValueError(f"early-integration width {t.shape[-1]} is not divisible by 4")
            return torch.stack(torch.chunk(t, 4, dim=-1), dim=1)
        if t.dim() == 5:
            return t
        return t.reshape(t.shape[0] // 4, 4, *t.shape[1:])
