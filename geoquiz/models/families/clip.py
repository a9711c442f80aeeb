"""The CLIP family: ``clip:LABEL``, a zero-shot classifier from a CLIP-style model on disk.

The classes are the dataset's labels put into a prompt template (option ``prompt``, default
:data:`DEFAULT_PROMPT`, ``{label}`` replaced by each label). When the model is registered the text
tower encodes every prompt once; the L2-normalised text embeddings times CLIP's logit scale become
the weight of a bias-free linear head (``(N, D)``), stored in the GeoQuiz checkpoint: that is the
text-embedding cache, and the text tower and tokenizer are not needed afterwards. The network is
then the image tower:

* ``backbone(x)`` - the L2-normalised image embedding ``(B, D)`` (the PCA's features);
* ``head(f)`` - ``logit_scale * cos(image, prompt)`` per class, so ``softmax`` of the logits is
  CLIP's zero-shot distribution over the labels;
* target layer - the first LayerNorm of the last vision transformer block (its output reaches the
  class token through the last attention), reshaped by :class:`TokenGrid` (class token dropped); the
  last ResNet stage for open_clip's ModifiedResNet towers.

Backends (option ``backend``), local files only:

``transformers``  a folder as ``CLIPModel.save_pretrained`` writes it (``config.json``, the
                  weights, the tokenizer files; e.g. ``geolocal/StreetCLIP``). The image tower is
                  rebuilt from option ``vision_config`` (a ``CLIPVisionConfig`` dict).
``open_clip``     a weights file plus option ``model`` (an open_clip model name whose config ships
                  with open_clip, e.g. ``ViT-B-32``) or ``model_config`` (the config dict); the
                  tokenizer is open_clip's bundled BPE tokenizer.

Integration: single, or medium with ``mean`` pooling (the mean of the four views' embeddings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.models.families.base import ModelFamily, load_strict, read_state_dict, reshape_from_option
from geoquiz.models.spec import ModelSpec

DEFAULT_PROMPT = "a street view photo in {label}"
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TEXT_BATCH = 64


def prompts_for(template: str, classes: tuple[str, ...]) -> list[str]:
    """Each class label put into ``template`` (which must contain ``{label}``)."""
    if "{label}" not in template:
        raise GeoQuizError(f"the prompt template must contain {{label}}, got {template!r}")
    return [template.replace("{label}", c) for c in classes]


class HFClipTower(nn.Module):
    """transformers' CLIP image tower + projection -> normalised image embedding ``(B, D)``."""

    def __init__(self, vision_config: dict[str, Any]) -> None:
        super().__init__()
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        cfg = {k: v for k, v in vision_config.items() if k not in ("transformers_version", "architectures")}
        self.clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg))
        self.embed_dim = int(self.clip.config.projection_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip(pixel_values=x).image_embeds, dim=-1)


class OpenClipTower(nn.Module):
    """open_clip's image tower (``visual``) -> normalised image embedding ``(B, D)``."""

    def __init__(self, model_config: dict[str, Any]) -> None:
        super().__init__()
        from open_clip.model import _build_vision_tower

        self.visual = _build_vision_tower(
            int(model_config["embed_dim"]),
            model_config["vision_cfg"],
            quick_gelu=bool(model_config.get("quick_gelu", False)),
        )
        self.embed_dim = int(model_config["embed_dim"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.visual(x), dim=-1)


def _open_clip_config(options: dict[str, Any]) -> dict[str, Any]:
    if options.get("model_config"):
        return dict(options["model_config"])
    name = options.get("model")
    if not name:
        raise GeoQuizError("an open_clip model needs the option model (e.g. ViT-B-32) or model_config")
    import open_clip

    cfg = open_clip.get_model_config(str(name))
    if cfg is None:
        raise GeoQuizError(
            f"open_clip has no model config {name!r}; known: {', '.join(open_clip.list_models()[:12])} ..."
        )
    return dict(cfg)


def _hf_folder(source: Path) -> Path:
    folder = source if source.is_dir() else source.parent
    if not (folder / "config.json").is_file():
        raise CheckpointError(
            f"{source} is not a transformers CLIP folder: {folder / 'config.json'} is missing "
            f"(give the folder CLIPModel.save_pretrained wrote, e.g. a download of geolocal/StreetCLIP)"
        )
    return folder


class ClipFamily(ModelFamily):
    name = "clip"
    integrations = ("single", "medium")

    def backend(self, options: dict[str, Any]) -> str:
        backend = str(options.get("backend", "transformers"))
        if backend not in ("transformers", "open_clip"):
            raise GeoQuizError(f"option backend must be transformers or open_clip, got {backend!r}")
        return backend

    def require(self, backend: str | None = None) -> None:
        import importlib.util

        for b in [backend] if backend else ["transformers", "open_clip"]:
            if importlib.util.find_spec(b) is not None:
                return
        raise GeoQuizError(
            f"CLIP models need the '{backend or 'transformers or open_clip'}' package: pip install 'geoquiz[clip]'"
        )

    def check_spec(self, spec: ModelSpec) -> None:
        super().check_spec(spec)
        if spec.integration == "medium" and spec.pooling != "mean":
            raise GeoQuizError(
                "a CLIP zero-shot classifier pools the four views by their mean (pooling mean)"
            )
        prompts_for(str(spec.options.get("prompt", DEFAULT_PROMPT)), spec.classes)

    def defaults(self, arch: str, options: dict[str, Any], source: Path | None = None) -> dict[str, Any]:
        backend = self.backend(options)
        if backend == "open_clip":
            cfg = _open_clip_config(options)
            pre = cfg.get("preprocess_cfg") or {}
            size = cfg["vision_cfg"].get("image_size", 224)
            return {
                "input_size": int(size[-1] if isinstance(size, (list, tuple)) else size),
                "mean": tuple(pre.get("mean", OPENAI_CLIP_MEAN)),
                "std": tuple(pre.get("std", OPENAI_CLIP_STD)),
            }
        out = {"input_size": 224, "mean": OPENAI_CLIP_MEAN, "std": OPENAI_CLIP_STD}
        if options.get("vision_config"):
            out["input_size"] = int(options["vision_config"].get("image_size", 224))
        if source is not None:
            folder = _hf_folder(Path(source))
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            out["input_size"] = int((config.get("vision_config") or {}).get("image_size", out["input_size"]))
            pre_file = folder / "preprocessor_config.json"
            if pre_file.is_file():
                pre = json.loads(pre_file.read_text(encoding="utf-8"))
                out["mean"] = tuple(pre.get("image_mean", out["mean"]))
                out["std"] = tuple(pre.get("image_std", out["std"]))
        return out

    def network(self, spec: ModelSpec) -> Any:
        from geoquiz.models.network import GeoNetwork, TokenGrid

        backend = self.backend(spec.options)
        self.require(backend)
        reshape: Any = TokenGrid(1, 1)
        if backend == "transformers":
            if not spec.options.get("vision_config"):
                raise GeoQuizError(f"{spec.arch}: option vision_config is missing (register the model again)")
            tower: nn.Module = HFClipTower(spec.options["vision_config"])
            target = "clip.vision_model.encoder.layers.-1.layer_norm1"
        else:
            tower = OpenClipTower(_open_clip_config(spec.options))
            if hasattr(tower.visual, "transformer"):
                target = "visual.transformer.resblocks.-1.ln_1"
                if not getattr(tower.visual.transformer, "batch_first", True):
                    raise GeoQuizError(
                        "this open_clip version runs sequence-first transformers; upgrade open_clip"
                    )
            else:
                target, reshape = "visual.layer4.-1", None
        target = str(spec.options.get("target_layer") or target)
        if "reshape" in spec.options:
            reshape = reshape_from_option(spec.options["reshape"], 1, 1)
        head = nn.Linear(tower.embed_dim, spec.n_classes, bias=False)
        net = GeoNetwork(
            spec, tower, tower.embed_dim, head=head, target_layer=target, reshape_transform=reshape
        )
        self.resolve_target(net)
        return net

    def build(self, spec: ModelSpec, init: Any = "scratch") -> Any:
        if not (isinstance(init, str) and init == "scratch"):
            raise GeoQuizError(
                f"{spec.arch} is a zero-shot classifier: it is registered (geoquiz models register), not trained"
            )
        self.check_spec(spec)
        return self.network(spec)

    # -- registering a model from its files ------------------------------------------------------
    def complete_options(self, options: dict[str, Any], source: Path) -> dict[str, Any]:
        """The options with the image tower's config filled in from ``source``."""
        options = {"backend": self.backend(options), "prompt": DEFAULT_PROMPT, **options}
        if options["backend"] == "transformers" and "vision_config" not in options:
            config = json.loads((_hf_folder(source) / "config.json").read_text(encoding="utf-8"))
            from transformers import CLIPConfig

            full = CLIPConfig(**{k: v for k, v in config.items() if k != "transformers_version"})
            vision = full.vision_config.to_dict()
            vision["projection_dim"] = int(full.projection_dim)
            options["vision_config"] = {k: v for k, v in vision.items() if k not in ("id2label", "label2id")}
        if options["backend"] == "open_clip" and "model_config" not in options:
            cfg = _open_clip_config(options)
            options["model_config"] = {
                k: cfg[k] for k in ("embed_dim", "vision_cfg", "quick_gelu") if k in cfg
            }
        return options

    def make_spec(self, arch: str, classes: tuple[str, ...], **kwargs: Any) -> ModelSpec:
        source = kwargs.get("source")
        options = dict(kwargs.pop("options", None) or {})
        if source is not None:
            self.require(self.backend(options))
            options = self.complete_options(options, Path(source))
        return super().make_spec(arch, classes, options=options, **kwargs)

    def from_native(self, source: Path, spec: ModelSpec) -> tuple[Any, dict[str, Any]]:
        backend = self.backend(spec.options)
        self.require(backend)
        self.check_spec(spec)
        net = self.network(spec)
        prompts = prompts_for(str(spec.options.get("prompt", DEFAULT_PROMPT)), spec.classes)
        with torch.no_grad():
            if backend == "transformers":
                text, scale = self._load_hf(net, Path(source))(prompts)
            else:
                text, scale = self._load_open_clip(net, Path(source), spec)(prompts)
            net.head.weight.copy_(scale * F.normalize(text.float(), dim=-1))
        info = {"family": "clip", "backend": backend, "file": str(source), "prompts": prompts}
        return net, {**info, "logit_scale": float(scale)}

    def _load_hf(self, net: Any, source: Path):
        from transformers import AutoTokenizer, CLIPModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        folder = _hf_folder(source)
        try:
            model, info = CLIPModel.from_pretrained(folder, local_files_only=True, output_loading_info=True)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{folder}: cannot read the CLIP model ({first})") from exc
        missing = [k for k in info.get("missing_keys", []) if "position_ids" not in k]
        bad = [*missing, *(str(m) for m in info.get("mismatched_keys", []))]
        if bad:
            raise CheckpointError(
                f"{folder}: the weights do not fit its config.json: missing or mismatched keys: {', '.join(bad[:6])}"
                + (f" (+{len(bad) - 6} more)" if len(bad) > 6 else "")
            )
        state = {
            k: v
            for k, v in model.state_dict().items()
            if k.startswith(("vision_model.", "visual_projection."))
        }
        load_strict(net.backbone.clip, state, folder, "a CLIP image tower")
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except Exception as exc:
            raise CheckpointError(
                f"{folder}: the tokenizer files (tokenizer.json, or vocab.json + merges.txt) are missing or bad ({exc})"
            ) from exc
        model.eval()

        def encode(prompts: list[str]) -> tuple[torch.Tensor, float]:
            out = []
            for i in range(0, len(prompts), TEXT_BATCH):
                tok = tokenizer(
                    prompts[i : i + TEXT_BATCH], padding=True, truncation=True, return_tensors="pt"
                )
                pooled = model.text_model(
                    input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]
                ).pooler_output
                out.append(model.text_projection(pooled))
            return torch.cat(out), float(model.logit_scale.exp())

        return encode

    def _load_open_clip(self, net: Any, source: Path, spec: ModelSpec):
        import open_clip

        cfg = dict(_open_clip_config(spec.options))
        full = {**cfg, **(spec.options.get("model_config") or {})}
        text_cfg = full.get("text_cfg") or _open_clip_config({"model": spec.options.get("model")}).get(
            "text_cfg"
        )
        model = open_clip.CLIP(
            embed_dim=int(full["embed_dim"]),
            vision_cfg=full["vision_cfg"],
            text_cfg=text_cfg,
            quick_gelu=bool(full.get("quick_gelu", False)),
        )
        state = read_state_dict(source)
        load_strict(model, state, source, f"an open_clip {spec.options.get('model') or 'CLIP'} model")
        visual = {k[len("visual.") :]: v for k, v in model.state_dict().items() if k.startswith("visual.")}
        load_strict(net.backbone.visual, visual, source, "a CLIP image tower", "visual.")
        tokenizer = open_clip.SimpleTokenizer(context_length=int(text_cfg.get("context_length", 77)))
        model.eval()

        def encode(prompts: list[str]) -> tuple[torch.Tensor, float]:
            out = [
                model.encode_text(tokenizer(prompts[i : i + TEXT_BATCH]))
                for i in range(0, len(prompts), TEXT_BATCH)
            ]
            return torch.cat(out), float(model.logit_scale.exp())

        return encode
