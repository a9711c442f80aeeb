"""Attribution methods behind one interface (no torch at import time).

    attributor = get_attributor("gradcampp", loaded_model)          # a LoadedModel
    heatmaps = attributor(image)                  # single-view: [Heatmap(view=None)]
    heatmaps = attributor([n, e, s, w], target="Japan")   # 4-view: one Heatmap per view

Methods (:data:`METHODS`): ``gradcam``, ``gradcampp``, ``scorecam`` (pytorch_grad_cam, see
:mod:`geoquiz.attribution.cam`), ``smoothgrad``, ``ig`` (captum, see
:mod:`geoquiz.attribution.gradients`). Maps are float32 ``S x S`` in [0, 1] at the model's input
resolution; 4-view maps share one scale (:mod:`geoquiz.attribution.base`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from geoquiz.attribution.base import Attributor, normalise, split_views


@dataclass(frozen=True)
class MethodInfo:
    """Registry entry. ``builder``: ``"module:callable"`` called as ``builder(name, loaded_model,
    **params)`` (imported lazily, so the registry stays torch-free); ``label``: the name shown in
    the app, figures and reports (CSV files keep ``name``); ``family``: ``cam`` (a map at the
    target layer, upsampled) or ``gradient`` (a map at the input)."""

    name: str
    label: str
    builder: str
    family: str
    reference: str = ""


#: The attribution methods, by name: the one list the CLI, the app and the reports read. A new
#: method is one entry here plus its ``build`` function (one small module).
REGISTRY: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo("gradcam", "Grad-CAM", "geoquiz.attribution.cam:build", "cam", "Selvaraju et al. 2017"),
        MethodInfo(
            "gradcampp", "Grad-CAM++", "geoquiz.attribution.cam:build", "cam", "Chattopadhay et al. 2018"
        ),
        MethodInfo("scorecam", "Score-CAM", "geoquiz.attribution.cam:build", "cam", "Wang et al. 2020"),
        MethodInfo(
            "smoothgrad",
            "SmoothGrad",
            "geoquiz.attribution.gradients:build",
            "gradient",
            "Smilkov et al. 2017",
        ),
        MethodInfo(
            "ig",
            "Integrated Gradients",
            "geoquiz.attribution.gradients:build",
            "gradient",
            "Sundararajan et al. 2017",
        ),
    )
}

METHODS: tuple[str, ...] = tuple(REGISTRY)
METHOD_LABELS: dict[str, str] = {name: info.label for name, info in REGISTRY.items()}


def method_label(name: str) -> str:
    """The display name of method ``name`` (the name itself when unknown)."""
    info = REGISTRY.get(name)
    return info.label if info else name


def get_attributor(name: str, loaded_model: Any, **params: Any) -> Attributor:
    """The attributor ``name`` for ``loaded_model`` with method ``params`` (see each method's module)."""
    info = REGISTRY.get(name)
    if info is None:
        raise ValueError(f"unknown attribution method {name!r}; known: {', '.join(METHODS)}")
    module, _, attr = info.builder.partition(":")
    return getattr(importlib.import_module(module), attr)(name, loaded_model, **params)


__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "REGISTRY",
    "Attributor",
    "MethodInfo",
    "get_attributor",
    "method_label",
    "normalise",
    "split_views",
]
