"""Model families: one adapter per kind of network, in a name -> adapter table (no torch at import).

An architecture name says its family: a ResNet name (``resnet50``) is the ``resnet`` family; any
other is ``FAMILY:NAME``:

``resnet``        GeoQuiz's ResNet trunks (:mod:`geoquiz.models.registry`), behaviour unchanged.
``timm``          ``timm:NAME``, any timm architecture (``timm:vit_base_patch16_224``,
                  ``timm:convnext_tiny``); needs the ``timm`` extra.
``torchvision``   ``torchvision:NAME``, any torchvision classifier (``torchvision:efficientnet_b0``,
                  ``torchvision:vit_b_16``).
``clip``          ``clip:LABEL``, a CLIP-style zero-shot classifier (transformers ``CLIPModel`` or
                  open_clip) whose classes are the dataset's labels in a prompt template; needs the
                  ``clip`` extra.

Each adapter (:class:`geoquiz.models.families.base.ModelFamily`) builds the network from a local
checkpoint, names its input size and normalisation, its class list, its penultimate features and
its Grad-CAM target layer with the reshape token-based networks need. Usage::

    family_for("timm:convnext_tiny").build(spec, "scratch")        # a GeoNetwork
    family_status("clip")                                           # "ready" or why not
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

from geoquiz.errors import GeoQuizError

if TYPE_CHECKING:
    from geoquiz.models.families.base import ModelFamily

#: the ResNet family's names (geoquiz.models.registry.ARCHS keys; listed here to stay torch-free)
RESNETS: tuple[str, ...] = ("resnet10", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


@dataclass(frozen=True)
class FamilyInfo:
    """One family: its adapter class (``module:Class``), the pip extra and modules it needs."""

    name: str
    adapter: str
    label: str
    extra: str | None = None
    modules: tuple[str, ...] = ()
    example: str = ""


FAMILIES: dict[str, FamilyInfo] = {
    info.name: info
    for info in (
        FamilyInfo("resnet", "geoquiz.models.families.resnet:ResNetFamily", "ResNet", example="resnet50"),
        FamilyInfo(
            "timm",
            "geoquiz.models.families.timm_models:TimmFamily",
            "timm",
            extra="timm",
            modules=("timm",),
            example="timm:convnext_tiny",
        ),
        FamilyInfo(
            "torchvision",
            "geoquiz.models.families.torchvision_models:TorchvisionFamily",
            "torchvision",
            example="torchvision:efficientnet_b0",
        ),
        FamilyInfo(
            "clip",
            "geoquiz.models.families.clip:ClipFamily",
            "CLIP zero-shot",
            extra="clip",
            modules=("transformers", "open_clip"),
            example="clip:StreetCLIP",
        ),
    )
}

_adapters: dict[str, ModelFamily] = {}


def family_name(arch: str) -> str:
    """The family of architecture ``arch``; :class:`GeoQuizError` naming the known forms if none."""
    arch = str(arch)
    if ":" in arch:
        prefix, name = arch.split(":", 1)
        if prefix in FAMILIES and prefix != "resnet" and name.strip():
            return prefix
    elif arch in RESNETS:
        return "resnet"
    forms = ", ".join([*RESNETS, *(f"{n}:NAME" for n in FAMILIES if n != "resnet")])
    raise GeoQuizError(f"unknown architecture {arch!r}; known: {forms}")


def family_status(name: str) -> str:
    """``"ready"``, or why the family cannot be used here (its extra is not installed)."""
    info = FAMILIES[name]
    if info.modules and not any(importlib.util.find_spec(m) for m in info.modules):
        return f"needs the '{info.extra}' extra: pip install 'geoquiz[{info.extra}]'"
    return "ready"


def family_for(arch_or_family: str) -> ModelFamily:
    """The adapter of a family name or of an architecture name (one instance per family)."""
    name = arch_or_family if arch_or_family in FAMILIES else family_name(arch_or_family)
    adapter = _adapters.get(name)
    if adapter is None:
        module, cls = FAMILIES[name].adapter.split(":")
        adapter = _adapters[name] = getattr(importlib.import_module(module), cls)()
    return adapter


__all__ = ["FAMILIES", "RESNETS", "FamilyInfo", "family_for", "family_name", "family_status"]
