"""The model adapter interface (:class:`ModelFamily`) and the weight-file helpers every family shares.

An adapter turns a :class:`geoquiz.models.spec.ModelSpec` into a
:class:`geoquiz.models.network.GeoNetwork` (trunk + head + Grad-CAM target layer + reshape), and
reads a *native* weights file (what timm, torchvision, transformers or open_clip save) into it:

* :meth:`ModelFamily.defaults` - input size and normalisation the architecture was trained with;
* :meth:`ModelFamily.network` - the network with freshly initialised weights (its structure);
* :meth:`ModelFamily.build` - ``scratch``, ``imagenet`` (ResNets only: nothing is downloaded for
  the other families) or a file: a GeoQuiz checkpoint or a native state dict (its backbone; the
  classifier when ``head=True`` and it fits the classes), for training;
* :meth:`ModelFamily.from_native` - the whole classifier from a native file, for registering a
  model trained elsewhere (the classifier must have one output per class).

Weight files are read with ``safetensors`` (``.safetensors``) or ``torch.load(weights_only=True)``;
a missing file, a file that is not a state dict, or one whose keys or shapes do not fit raise
:class:`CheckpointError` naming the file and the keys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec

#: option keys every family reads itself; the others are keyword arguments of the constructor
RESERVED_OPTIONS = ("target_layer", "reshape")
_SHOWN = 6


def _listed(keys: list[str]) -> str:
    more = f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def read_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """A native weights file as a flat ``{name: tensor}`` dict.

    ``.safetensors`` files are read with safetensors, others with ``torch.load(weights_only=True)``;
    a wrapper dict (``{"state_dict": ...}``, ``{"model": ...}``) is unwrapped and a DataParallel
    ``module.`` prefix dropped.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"weights file {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give the weights file (.safetensors, .pth, .pt, .bin)")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        except Exception as exc:
            raise CheckpointError(f"{path} is not a readable safetensors file ({exc})") from exc
    else:
        from geoquiz.models.checkpoint import _torch_load

        obj = _torch_load(path)
    if isinstance(obj, dict) and obj.get("format") == "geoquiz-checkpoint":
        return obj
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    import torch

    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} is not a state_dict (a dict of parameter names to tensors)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def state_mismatch(own: dict[str, Any], state: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """``(missing, unexpected, misshaped)`` keys of ``state`` against a module's own ``state_dict()``
    ``own``: what keeps a strict ``load_state_dict`` from working (all empty when it fits)."""
    missing = [k for k in own if k not in state]
    unexpected = [str(k) for k in state if k not in own]
    misshaped = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return missing, unexpected, misshaped


def state_problems(module: Any, state: dict[str, Any], prefix: str = "") -> list[str]:
    """What keeps ``state`` from loading into ``module`` strictly: the missing, unexpected and wrongly
    shaped keys (``prefix`` put before the names, as the file writes them); empty when it fits."""
    own = module.state_dict()
    missing, unexpected, misshaped = state_mismatch(own, state)
    missing = [prefix + k for k in missing]
    unexpected = [prefix + k for k in unexpected]
    shapes = [f"{prefix}{k} {list(state[k].shape)} (expected {list(own[k].shape)})" for k in misshaped]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    if shapes:
        problems.append(f"wrong shapes: {_listed(shapes)}")
    return problems


def load_strict(
    module: Any, state: dict[str, Any], path: str | os.PathLike, what: str, prefix: str = ""
) -> None:
    """``module.load_state_dict(state, strict=True)``, but a mismatch raises :class:`CheckpointError`
    naming the file, the part (``what``) and the missing, unexpected and wrongly shaped keys."""
    problems = state_problems(module, state, prefix)
    if problems:
        raise CheckpointError(f"{path} does not fit {what}: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def constructor_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """The options that are keyword arguments of the family's constructor."""
    return {k: v for k, v in options.items() if k not in RESERVED_OPTIONS}


def detach_linear(net: Any, path: str) -> Any:
    """Replace the ``nn.Linear`` at dotted ``path`` in ``net`` by ``nn.Identity``; return the Linear."""
    from torch import nn

    parent_path, _, leaf = path.rpartition(".")
    parent = net.get_submodule(parent_path) if parent_path else net
    layer = getattr(parent, leaf, None)
    if not isinstance(layer, nn.Linear):
        raise GeoQuizError(
            f"the classifier {path!r} of this network is a {type(layer).__name__}, not one linear layer; "
            f"GeoQuiz needs a network whose last layer is nn.Linear"
        )
    setattr(parent, leaf, nn.Identity())
    return layer


def reshape_from_option(value: Any, prefix: int, aspect: int) -> Any:
    """The reshape transform named by option ``reshape``: ``none``, ``tokens`` (``prefix`` leading
    tokens dropped), ``tokens:N`` (N dropped) or ``nhwc``."""
    from geoquiz.models.network import ChannelsLast, TokenGrid

    text = str(value).strip().lower()
    if text in ("", "none"):
        return None
    if text == "nhwc":
        return ChannelsLast()
    if text == "tokens":
        return TokenGrid(prefix, aspect)
    if text.startswith("tokens:") and text[7:].isdigit():
        return TokenGrid(int(text[7:]), aspect)
    raise GeoQuizError(f"option reshape must be none, tokens, tokens:N or nhwc, got {value!r}")


class ModelFamily:
    """Base adapter. Subclasses set ``name`` and implement :meth:`network` and :meth:`defaults`."""

    name = ""
    #: integrations the family supports (token networks of a fixed size cannot take an S x 4S strip)
    integrations: tuple[str, ...] = ("single", "early", "medium")

    # -- what the architecture is ----------------------------------------------------------------
    def require(self) -> None:
        """Raise :class:`GeoQuizError` if the family's packages are not installed."""
        from geoquiz.models.families import family_status

        status = family_status(self.name)
        if status != "ready":
            raise GeoQuizError(f"{self.name} models {status}")

    def model_name(self, arch: str) -> str:
        """``NAME`` of ``FAMILY:NAME``."""
        return arch.split(":", 1)[1] if ":" in arch else arch

    def defaults(self, arch: str, options: dict[str, Any], source: Path | None = None) -> dict[str, Any]:
        """``{"input_size", "mean", "std"}`` the architecture expects (``source``: its weights)."""
        return {"input_size": 224, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}

    def check_spec(self, spec: ModelSpec) -> None:
        if spec.integration not in self.integrations:
            raise GeoQuizError(
                f"{spec.arch} cannot be used with {spec.integration} integration; "
                f"{self.name} models support {', '.join(self.integrations)}"
            )

    def make_spec(
        self,
        arch: str,
        classes: tuple[str, ...],
        *,
        integration: str = "single",
        pooling: str = "mean",
        input_size: int | None = None,
        mean: tuple[float, float, float] | None = None,
        std: tuple[float, float, float] | None = None,
        options: dict[str, Any] | None = None,
        source: Path | None = None,
    ) -> ModelSpec:
        """A spec for ``arch``, the architecture's defaults filling what is not given."""
        options = dict(options or {})
        d = self.defaults(arch, options, source)
        spec = ModelSpec(
            arch,
            integration,
            tuple(classes),
            int(input_size or d["input_size"]),
            pooling,
            tuple(mean or d["mean"]),
            tuple(std or d["std"]),
            options=options,
        )
        self.check_spec(spec)
        return spec

    # -- building ----------------------------------------------------------------------------------
    def network(self, spec: ModelSpec) -> Any:
        """The :class:`GeoNetwork` for ``spec`` with freshly initialised weights."""
        raise NotImplementedError

    def build(self, spec: ModelSpec, init: str | os.PathLike = "scratch") -> Any:
        """The network initialised from ``scratch`` or a weights file (backbone; head if it fits)."""
        self.require()
        self.check_spec(spec)
        if isinstance(init, str) and init == "imagenet":
            raise CheckpointError(
                f"{spec.arch}: GeoQuiz downloads no weights for {self.name} models; download them "
                f"elsewhere and give the file as the initial weights (geoquiz train --weights FILE)"
            )
        net = self.network(spec)
        if isinstance(init, str) and init == "scratch":
            return net
        self.init_from_file(net, Path(init))
        return net

    def init_from_file(self, net: Any, path: Path) -> None:
        """Initialise ``net`` from a GeoQuiz checkpoint (backbone, head when the classes are the
        same) or a native state dict (backbone; its classifier too when it has the right shape)."""
        obj = read_state_dict(path)
        if obj.get("format") == "geoquiz-checkpoint":
            spec = obj.get("spec") or {}
            if spec.get("arch") != net.spec.arch:
                raise CheckpointError(f"{path} is a {spec.get('arch')} checkpoint, not {net.spec.arch}")
            state = obj["state_dict"]
            backbone = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
            load_strict(net.backbone, backbone, path, f"a {net.spec.arch} backbone", "backbone.")
            head = {k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")}
            own = net.head.state_dict()
            if tuple(spec.get("classes", ())) == net.spec.classes and all(
                k in head and head[k].shape == v.shape for k, v in own.items()
            ):
                net.head.load_state_dict(head, strict=True)
            return
        self.load_native(net, obj, path, head=False)

    def load_native(self, net: Any, state: dict[str, Any], path: Path, *, head: bool) -> None:
        """Load a native state dict: the trunk strictly, the classifier (``net.classifier_path``)
        strictly when ``head``, else only if its shapes fit the classes."""
        clf = net.classifier_path
        body = {k: v for k, v in state.items() if not k.startswith(clf + ".")}
        head_sd = {k[len(clf) + 1 :]: v for k, v in state.items() if k.startswith(clf + ".")}
        body = self.adapt_state(net, body)
        load_strict(net.backbone, body, path, f"a {net.spec.arch} network")
        fits = all(k in head_sd and head_sd[k].shape == v.shape for k, v in net.head.state_dict().items())
        if head and not fits:
            have = head_sd.get("weight")
            outputs = f"{have.shape[0]} outputs" if have is not None else "no weights"
            raise CheckpointError(
                f"{path}: its classifier {clf} has {outputs} ({clf}.weight "
                f"{list(have.shape) if have is not None else '-'}) but {net.spec.n_classes} classes were given "
                f"({', '.join(net.spec.classes)}); register a classifier trained for these classes, or "
                f"fine-tune it first: geoquiz train --arch {net.spec.arch} --weights {path}"
            )
        if fits:
            net.head.load_state_dict(head_sd, strict=True)

    def adapt_state(self, net: Any, state: dict[str, Any]) -> dict[str, Any]:
        """Hook: adjust a native state dict to the network (e.g. resample position embeddings)."""
        return state

    def from_native(self, source: Path, spec: ModelSpec) -> tuple[Any, dict[str, Any]]:
        """``(network, source description)``: the whole classifier read from a native weights file."""
        self.require()
        self.check_spec(spec)
        net = self.network(spec)
        self.load_native(net, read_state_dict(source), Path(source), head=True)
        return net, {"family": self.name, "file": str(source)}

    def resolve_target(self, net: Any) -> None:
        """Check that the target layer exists (a clear error naming the path and what is there)."""
        try:
            net.target_layer  # noqa: B018 - resolving it is the check
        except ValueError as exc:
            raise GeoQuizError(f"{net.spec.arch}: bad Grad-CAM target layer: {exc}") from None
