"""The torchvision family: ``torchvision:NAME``, any classifier of ``torchvision.models``.

* **Network**: ``torchvision.models.get_model(NAME, weights=None, num_classes=N, **options)``
  (``image_size = input_size`` for the ViTs). The classifier is the network's *last*
  ``nn.Linear`` (``fc``, ``classifier.1``, ``heads.head`` ...); it becomes the GeoQuiz head and
  ``backbone(x)`` gives the features that enter it (the penultimate features).
* **Target layer**: ``layer4[-1]`` (ResNet, ResNeXt, Wide ResNet), ``encoder.layers[-1].ln_1``
  reshaped by :class:`TokenGrid` (ViT: the class token dropped), ``features`` with
  :class:`ChannelsLast` (Swin), ``blocks[-1]`` (MaxViT), ``trunk_output`` (RegNet), else
  ``features`` (EfficientNet, MobileNet, ConvNeXt, DenseNet, VGG ...); options ``target_layer``
  and ``reshape`` override.
* **Defaults**: the crop size and normalisation of the architecture's DEFAULT weights' transforms
  (metadata shipped with torchvision; nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoquiz.errors import GeoQuizError
from geoquiz.models.families.base import (
    ModelFamily,
    constructor_kwargs,
    detach_linear,
    reshape_from_option,
)
from geoquiz.models.spec import ModelSpec


class TorchvisionFamily(ModelFamily):
    name = "torchvision"

    def _check_name(self, arch: str) -> str:
        import torchvision.models as tvm

        name = self.model_name(arch)
        known = tvm.list_models(module=tvm)
        if name not in known:
            close = [k for k in known if k.split("_")[0] == name.split("_")[0]][:8]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise GeoQuizError(f"torchvision has no classifier {name!r}{hint}")
        return name

    def defaults(self, arch: str, options: dict[str, Any], source: Path | None = None) -> dict[str, Any]:
        import torchvision.models as tvm

        name = self._check_name(arch)
        out = super().defaults(arch, options, source)
        try:
            t = tvm.get_model_weights(name).DEFAULT.transforms()
            out = {"input_size": int(t.crop_size[0]), "mean": tuple(t.mean), "std": tuple(t.std)}
        except (ValueError, AttributeError, TypeError, IndexError):
            pass
        if options.get("image_size"):
            out["input_size"] = int(options["image_size"])
        return out

    def _create(self, spec: ModelSpec) -> Any:
        import torchvision.models as tvm

        name = self._check_name(spec.arch)
        kwargs = constructor_kwargs(spec.options)
        if name.startswith("vit_") and "image_size" not in kwargs:
            kwargs["image_size"] = spec.input_size
        try:
            return tvm.get_model(name, weights=None, num_classes=spec.n_classes, **kwargs)
        except TypeError as exc:
            raise GeoQuizError(f"torchvision:{name}: bad model option(s) {sorted(kwargs)}: {exc}") from exc

    def _target(self, spec: ModelSpec, net: Any) -> tuple[str, Any]:
        import torchvision.models as tvm

        from geoquiz.models.network import ChannelsLast, TokenGrid

        aspect = 4 if spec.integration == "early" else 1
        reshape: Any = None
        if hasattr(net, "layer4"):
            path = "layer4.-1"
        elif isinstance(net, tvm.VisionTransformer):
            path, reshape = "encoder.layers.-1.ln_1", TokenGrid(1, aspect)
        elif isinstance(net, tvm.SwinTransformer):
            path, reshape = "features", ChannelsLast()
        elif isinstance(net, tvm.MaxVit):
            path = "blocks.-1"
        elif hasattr(net, "trunk_output"):
            path = "trunk_output"
        elif hasattr(net, "features"):
            path = "features"
        else:
            raise GeoQuizError(f"{spec.arch}: no known Grad-CAM layer; set the option target_layer")
        path = str(spec.options.get("target_layer") or path)
        if "reshape" in spec.options:
            reshape = reshape_from_option(spec.options["reshape"], 1, aspect)
        return path, reshape

    def network(self, spec: ModelSpec) -> Any:
        import torchvision.models as tvm
        from torch import nn

        from geoquiz.models.network import GeoNetwork

        net = self._create(spec)
        if spec.integration == "early" and isinstance(net, tvm.VisionTransformer):
            raise GeoQuizError(f"{spec.arch} takes square images; it cannot be used with early integration")
        linears = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise GeoQuizError(f"{spec.arch} has no linear classifier; GeoQuiz needs one")
        target, reshape = self._target(spec, net)
        clf = linears[-1]
        linear = detach_linear(net, clf)
        concat = spec.integration == "medium" and spec.pooling == "concat"
        out = GeoNetwork(
            spec,
            net,
            linear.in_features,
            head=None if concat else linear,
            target_layer=target,
            reshape_transform=reshape,
            classifier_path=clf,
        )
        self.resolve_target(out)
        return out
