"""What a GeoQuiz classifier is: architecture, view integration, classes, input size, normalisation.

A :class:`ModelSpec` is stored in every checkpoint and in the ``models`` table, so a model can be
rebuilt and its inputs prepared exactly as in training. Qt-free and torch-free.

Integration modes (paper 003, "ResNetBolt", sections 4.3-4.4):

``single``
    One image per sample; input ``(B, 3, S, S)`` with ``S = input_size``.
``early``
    A 4-view location; the views (in :data:`geoquiz.types.VIEWS` order, north, east, south, west)
    are concatenated left to right into one ``S x 4S`` image; input ``(B, 3, S, 4S)``.
``medium``
    A 4-view location; one shared backbone runs on each view and the four feature vectors are
    pooled (``mean``, the default, or ``concat``) before the classifier; input ``(B, 4, 3, S, S)``.

Normalisation: ``mean``/``std`` per RGB channel, applied to pixel values scaled to ``[0, 1]``;
ImageNet statistics by default (paper 000), or statistics computed from a dataset (paper 003).

Model families (:mod:`geoquiz.models.families`): ``arch`` is a ResNet name (``resnet50``) or
``FAMILY:NAME`` (``timm:convnext_tiny``, ``torchvision:efficientnet_b0``, ``clip:StreetCLIP``);
``options`` holds the family's plain-data settings (constructor keywords, a CLIP model's config and
prompt template, a target-layer override), empty for ResNets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
INTEGRATIONS: tuple[str, ...] = ("single", "early", "medium")
POOLINGS: tuple[str, ...] = ("mean", "concat")
#: Backbone stages a CAM method may read (the last block of the stage). Output stride: layer4 32,
#: layer3 16, layer2 8, so at 128 px input Grad-CAM is 4x4 at layer4 and 8x8 at layer3.
TARGET_LAYERS: tuple[str, ...] = ("layer4", "layer3", "layer2")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a classifier and prepare its inputs.

    ``arch``: a key of :data:`geoquiz.models.registry.ARCHS` (e.g. ``resnet50``) or ``FAMILY:NAME``.
    ``integration``: ``single`` | ``early`` | ``medium`` (see the module docstring).
    ``classes``: class names in output order. ``input_size``: side ``S`` in pixels of one view.
    ``pooling``: how medium integration pools the four views' features (``mean`` | ``concat``).
    ``mean``/``std``: per-channel normalisation of ``[0, 1]`` RGB pixels.
    ``target_layer``: for ResNets (``resnet*``), the backbone stage whose last block CAM methods
    (Grad-CAM, Grad-CAM++, Score-CAM) read: ``layer4`` (default, the usual choice: coarsest, most
    class-specific) or an earlier one (``layer3``, ``layer2``) for a finer map, e.g. on a small
    input. It does not change the network or its predictions, only the attribution maps. Other
    families name their CAM module by a dotted path in ``options["target_layer"]``.
    ``options``: the model family's settings, JSON-able plain data (empty for ResNets).
    """

    arch: str
    integration: str
    classes: tuple[str, ...]
    input_size: int = 224
    pooling: str = "mean"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = field(default=IMAGENET_STD)
    target_layer: str = "layer4"
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        try:
            options = json.loads(json.dumps(dict(self.options or {}), sort_keys=True))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ModelSpec.options must be JSON-able plain data: {exc}") from None
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        object.__setattr__(self, "input_size", int(self.input_size))
        if self.integration not in INTEGRATIONS:
            raise ValueError(
                f"ModelSpec.integration must be one of {', '.join(INTEGRATIONS)}, got {self.integration!r}"
            )
        if self.pooling not in POOLINGS:
            raise ValueError(f"ModelSpec.pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.target_layer not in TARGET_LAYERS:
            raise ValueError(
                f"ModelSpec.target_layer must be one of {', '.join(TARGET_LAYERS)}, got {self.target_layer!r}"
            )
        if len(self.classes) < 2:
            raise ValueError(f"ModelSpec.classes needs at least two classes, got {list(self.classes)}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"ModelSpec.classes has duplicates: {list(self.classes)}")
        if self.input_size < 32:
            raise ValueError(f"ModelSpec.input_size must be at least 32 pixels, got {self.input_size}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(
                f"ModelSpec.mean/std must be 3 values each with std > 0, got {self.mean} / {self.std}"
            )

    @property
    def family(self) -> str:
        """The model family: the part of ``arch`` before ``:``, or ``resnet``."""
        return self.arch.split(":", 1)[0] if ":" in self.arch else "resnet"

    @property
    def n_views(self) -> int:
        """1 for single-view models, 4 for early and medium integration."""
        return 1 if self.integration == "single" else 4

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def cam_stride(self) -> int:
        """Input pixels per cell of a CAM map at ``target_layer`` (torchvision ResNets)."""
        return {"layer4": 32, "layer3": 16, "layer2": 8}[self.target_layer]

    @property
    def cam_grid(self) -> int:
        """Side of the CAM methods' native grid: ``ceil(input_size / cam_stride)`` cells."""
        return -(-self.input_size // self.cam_stride)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample as the network sees it (without the batch dimension)."""
        s = self.input_size
        if self.integration == "single":
            return (3, s, s)
        if self.integration == "early":
            return (3, s, 4 * s)
        return (4, 3, s, s)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists, not tuples), as stored in checkpoints and the database
        (``options`` only when there are any, so a ResNet's dict is as before)."""
        out = {
            "arch": self.arch,
            "integration": self.integration,
            "classes": list(self.classes),
            "input_size": self.input_size,
            "pooling": self.pooling,
            "mean": list(self.mean),
            "std": list(self.std),
        }
        if self.target_layer != "layer4":  # written when set, so a default spec's dict is as before
            out["target_layer"] = self.target_layer
        if self.options:
            out["options"] = json.loads(json.dumps(self.options))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`; raises ``ValueError``/``KeyError`` on bad input."""
        return cls(
            arch=str(data["arch"]),
            integration=str(data["integration"]),
            classes=tuple(data["classes"]),
            input_size=int(data.get("input_size", 224)),
            pooling=str(data.get("pooling", "mean")),
            mean=tuple(data.get("mean", IMAGENET_MEAN)),
            std=tuple(data.get("std", IMAGENET_STD)),
            target_layer=str(data.get("target_layer", "layer4")),
            options=dict(data.get("options") or {}),
        )
