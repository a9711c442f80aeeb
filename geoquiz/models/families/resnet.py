"""The ResNet family: GeoQuiz's own trunks (:mod:`geoquiz.models.registry`), behaviour unchanged.

Architectures ``resnet10`` ... ``resnet152``; target layer ``backbone.layer4[-1]`` (no reshape);
ImageNet normalisation at 224 px by default. :meth:`ResNetFamily.from_native` also reads a plain
torchvision ResNet ``state_dict`` whose ``fc`` has one output per class.
"""

from __future__ import annotations

import os
from typing import Any

from geoquiz.models.families.base import ModelFamily
from geoquiz.models.spec import ModelSpec


class ResNetFamily(ModelFamily):
    name = "resnet"

    def network(self, spec: ModelSpec) -> Any:
        from geoquiz.models.registry import ARCHS, GeoClassifier

        return GeoClassifier(spec, ARCHS[spec.arch][0]())

    def build(self, spec: ModelSpec, init: str | os.PathLike = "scratch") -> Any:
        from geoquiz.models.registry import build_model

        return build_model(spec, init)
