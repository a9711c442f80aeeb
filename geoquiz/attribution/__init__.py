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

from typing import Any

from geoquiz.attribution.base import Attributor, normalise, split_views

METHODS: tuple[str, ...] = ("gradcam", "gradcampp", "scorecam", "smoothgrad", "ig")

METHOD_LABELS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcampp": "Grad-CAM++",
    "scorecam": "Score-CAM",
    "smoothgrad": "SmoothGrad",
    "ig": "Integrated Gradients",
}


def get_attributor(name: str, loaded_model: Any, **params: Any) -> Attributor:
    """The attributor ``name`` for ``loaded_model`` with method ``params`` (see each method's module)."""
    if name in ("gradcam", "gradcampp", "scorecam"):
        from geoquiz.attribution.cam import CamAttributor

        return CamAttributor(name, loaded_model, **params)
    if name == "smoothgrad":
        from geoquiz.attribution.gradients import SmoothGradAttributor

        return SmoothGradAttributor(loaded_model, **params)
    if name == "ig":
        from geoquiz.attribution.gradients import IntegratedGradientsAttributor

        return IntegratedGradientsAttributor(loaded_model, **params)
    raise ValueError(f"unknown attribution method {name!r}; known: {', '.join(METHODS)}")


__all__ = ["METHODS", "METHOD_LABELS", "Attributor", "get_attributor", "normalise", "split_views"]
