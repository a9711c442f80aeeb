"""The timm family: ``timm:NAME``, any architecture ``timm.create_model`` knows, from local weights.

* **Network**: ``timm.create_model(NAME, pretrained=False, num_classes=N, **options)``; the classifier
  named by the model's ``pretrained_cfg["classifier"]`` (``head``, ``head.fc``, ``classifier``) is
  taken out as the GeoQuiz head, so ``backbone(x)`` is timm's pre-logits feature vector (the
  features the PCA shows). A patch-based model of a fixed size (ViT, DeiT, EVA ...) is created at
  ``img_size = input_size`` unless the options say otherwise, and position embeddings of a weights
  file made for another size are resampled (timm's ``resample_abs_pos_embed``).
* **Target layer**: for ViT-like models (``patch_embed`` + ``blocks``) ``blocks[-1].norm1``, the
  input of the last attention block (the last block's output only reaches the logits through the
  class token, so its patch tokens have no gradient), reshaped by :class:`TokenGrid` (the
  ``num_prefix_tokens`` class/register tokens dropped); otherwise the last stage in the model's
  ``feature_info`` (``stages.3`` for ConvNeXt), with :class:`ChannelsLast` for NHWC models (Swin).
  Options ``target_layer`` and ``reshape`` override both.
* **Defaults**: input size, mean and std of the architecture's default pretrained config.
* **Integration**: single and medium; early (an ``S x 4S`` strip) only for convolutional models or
  with ``dynamic_img_size=True``.
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


def _fmt(value: Any) -> str:
    return str(getattr(value, "value", value) or "NCHW")


class TimmFamily(ModelFamily):
    name = "timm"

    def _check_name(self, arch: str) -> str:
        import timm

        name = self.model_name(arch)
        if not timm.is_model(name):
            close = timm.list_models(f"*{name.split('.')[0][:12]}*")[:8]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise GeoQuizError(f"timm has no architecture {name!r}{hint}")
        return name

    def defaults(self, arch: str, options: dict[str, Any], source: Path | None = None) -> dict[str, Any]:
        self.require()
        from timm.models import get_pretrained_cfg

        name = self._check_name(arch)
        cfg = get_pretrained_cfg(name, allow_unregistered=True)
        size = options.get("img_size") or (cfg.input_size[-1] if cfg is not None else 224)
        size = size[-1] if isinstance(size, (list, tuple)) else size
        if cfg is None:
            return {**super().defaults(arch, options, source), "input_size": int(size)}
        return {"input_size": int(size), "mean": tuple(cfg.mean), "std": tuple(cfg.std)}

    def _patch_based(self, net: Any) -> bool:
        return getattr(net, "patch_embed", None) is not None and hasattr(net, "blocks")

    def _create(self, spec: ModelSpec) -> Any:
        import timm

        name = self._check_name(spec.arch)
        kwargs = constructor_kwargs(spec.options)
        try:
            net = timm.create_model(name, pretrained=False, num_classes=spec.n_classes, **kwargs)
            size = getattr(getattr(net, "patch_embed", None), "img_size", None)
            fixed = size is not None and not kwargs.get("dynamic_img_size")
            if fixed and "img_size" not in kwargs and tuple(size) != (spec.input_size, spec.input_size):
                net = timm.create_model(
                    name, pretrained=False, num_classes=spec.n_classes, img_size=spec.input_size, **kwargs
                )
        except TypeError as exc:
            raise GeoQuizError(f"timm:{name}: bad model option(s) {sorted(kwargs)}: {exc}") from exc
        return net

    def _target(self, spec: ModelSpec, net: Any) -> tuple[str, Any]:
        from geoquiz.models.network import ChannelsLast, TokenGrid

        aspect = 4 if spec.integration == "early" else 1
        prefix = int(getattr(net, "num_prefix_tokens", 1))
        if self._patch_based(net):
            last = net.blocks[-1]
            path = "blocks.-1.norm1" if hasattr(last, "norm1") else "blocks.-1"
            reshape: Any = TokenGrid(prefix, aspect)
        else:
            info = getattr(net, "feature_info", None)
            if not info:
                raise GeoQuizError(
                    f"{spec.arch}: cannot tell its last feature stage; set the option target_layer"
                )
            path = info[-1]["module"]
            reshape = ChannelsLast() if _fmt(getattr(net, "output_fmt", None)) == "NHWC" else None
        path = str(spec.options.get("target_layer") or path)
        if "reshape" in spec.options:
            reshape = reshape_from_option(spec.options["reshape"], prefix, aspect)
        return path, reshape

    def network(self, spec: ModelSpec) -> Any:
        from geoquiz.models.network import GeoNetwork

        net = self._create(spec)
        if (
            spec.integration == "early"
            and self._patch_based(net)
            and not spec.options.get("dynamic_img_size")
        ):
            raise GeoQuizError(
                f"{spec.arch} takes {spec.input_size} x {spec.input_size} images; early integration "
                f"(a {spec.input_size} x {4 * spec.input_size} strip) needs the option dynamic_img_size=true"
            )
        clf = net.pretrained_cfg.get("classifier") or "head"
        if isinstance(clf, (list, tuple)):
            if len(clf) != 1:
                raise GeoQuizError(
                    f"{spec.arch} has {len(clf)} classifier heads ({', '.join(clf)}); GeoQuiz needs one"
                )
            clf = clf[0]
        target, reshape = self._target(spec, net)
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

    def adapt_state(self, net: Any, state: dict[str, Any]) -> dict[str, Any]:
        """Resample absolute position embeddings made for another image size."""
        pos = state.get("pos_embed")
        own = net.backbone.state_dict().get("pos_embed")
        if pos is None or own is None or pos.shape == own.shape or not self._patch_based(net.backbone):
            return state
        from timm.layers import resample_abs_pos_embed

        grid = tuple(net.backbone.patch_embed.grid_size)
        prefix = 0 if getattr(net.backbone, "no_embed_class", False) else net.backbone.num_prefix_tokens
        return {**state, "pos_embed": resample_abs_pos_embed(pos, new_size=grid, num_prefix_tokens=prefix)}
