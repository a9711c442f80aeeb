"""Classifier registry: torchvision ResNet trunks with a new head, for one view or four.

``ARCHS`` maps a name to a torchvision ResNet constructor. Every model is a :class:`GeoClassifier`:

* ``.backbone`` - the torchvision ``ResNet`` with ``fc`` replaced by ``nn.Identity`` (so
  ``backbone(x)`` returns the pooled ``(B, D)`` features; D = 512 for resnet10/18/34, 2048 otherwise);
* ``.head`` - ``nn.Linear(D, N)`` (``nn.Linear(4 * D, N)`` for medium integration with ``concat``);
* ``.target_layer`` - ``backbone.layer4[-1]`` (or the stage named by ``spec.target_layer``), for Grad-CAM;
* ``.features(x) -> (B, D')`` penultimate features and ``forward(x) -> (B, N)`` logits.

Inputs (see :mod:`geoquiz.models.spec`): single and early ``(B, 3, H, W)`` (early: the four views
side by side, ``W = 4 * H``); medium ``(B, 4, 3, H, W)``, the shared backbone runs on
``(B*4, 3, H, W)`` so the target layer's activations are ``(B*4, C, h, w)``, views in VIEWS order.
:meth:`GeoClassifier.split_views` turns an input- or activation-shaped tensor into per-view pieces
for either 4-view mode, so an attribution method can produce one map per view.

``resnet10`` (``BasicBlock`` x ``[1, 1, 1, 1]``) is an extra, small trunk built from the same
torchvision class; it has no ImageNet weights and exists so that the demo model trains in minutes
on a laptop CPU.

Initialisation (``build_model(spec, init)``): ``scratch`` (torchvision's default init),
``imagenet`` (torchvision's DEFAULT ImageNet weights for the arch, read from the torch hub cache;
when the file is absent GeoQuiz tries to download it once with a timeout (not at all when
``$GEOQUIZ_OFFLINE`` is set) and otherwise raises
:class:`CheckpointError` naming the file to place and where), or a path to a local file: a GeoQuiz
checkpoint (its backbone, and its head when the classes are the same) or a plain torchvision ResNet
``state_dict`` (the backbone).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.resnet import BasicBlock, ResNet

from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.models.network import GeoNetwork
from geoquiz.models.spec import ModelSpec


def _resnet10(**kwargs) -> ResNet:
    return ResNet(BasicBlock, [1, 1, 1, 1], **kwargs)


#: name -> (constructor, torchvision weights enum or None)
ARCHS: dict[str, tuple[Callable[..., ResNet], object | None]] = {
    "resnet10": (_resnet10, None),
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.DEFAULT),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.DEFAULT),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.DEFAULT),
    "resnet101": (tvm.resnet101, tvm.ResNet101_Weights.DEFAULT),
    "resnet152": (tvm.resnet152, tvm.ResNet152_Weights.DEFAULT),
}

DOWNLOAD_TIMEOUT_S = 20.0


class GeoClassifier(GeoNetwork):
    """A ResNet trunk plus a linear head, for single-view or 4-view (early/medium) inputs."""

    def __init__(self, spec: ModelSpec, backbone: ResNet) -> None:
        feature_dim = int(backbone.fc.in_features)
        backbone.fc = nn.Identity()
        super().__init__(spec, backbone, feature_dim, target_layer="layer4.-1", classifier_path="fc")

    @property
    def target_layer(self) -> nn.Module:
        """The last block of stage ``spec.target_layer`` (default ``backbone.layer4[-1]``), the CAM layer."""
        return getattr(self.backbone, self.spec.target_layer)[-1]


def imagenet_weights_file(arch: str) -> tuple[str, Path]:
    """``(url, path)`` of torchvision's ImageNet weights for ``arch`` in the torch hub cache."""
    if arch not in ARCHS:
        raise GeoQuizError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    weights = ARCHS[arch][1]
    if weights is None:
        raise CheckpointError(
            f"{arch} has no ImageNet weights in torchvision; use init='scratch' or a checkpoint"
        )
    url = weights.url
    return url, Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _download(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` atomically, checking torchvision's sha256 prefix in the name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    match = re.search(r"-([a-f0-9]{6,})\.", dest.name)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if match and not digest.hexdigest().startswith(match.group(1)):
            raise OSError(f"downloaded file has the wrong sha256 (expected prefix {match.group(1)})")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet ``state_dict`` for ``arch`` (never a silent fallback: raises
    :class:`CheckpointError` naming the file and the folder when it cannot be found or fetched)."""
    url, path = imagenet_weights_file(arch)
    if not path.exists():
        try:
            if os.environ.get("GEOQUIZ_OFFLINE"):
                raise OSError("downloads are disabled by $GEOQUIZ_OFFLINE")
            _download(url, path)
        except Exception as exc:
            raise CheckpointError(
                f"ImageNet weights for {arch} could not be downloaded ({exc}). Download {url} on a machine "
                f"with internet access and place the file {path.name} at {path} (the torch hub cache, "
                f"set by $TORCH_HOME), or train with init 'scratch' or from a local checkpoint."
            ) from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"the ImageNet weights file {path} is corrupt ({exc}); delete it and place a fresh copy of {url}"
        ) from exc


def _backbone_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def _init_from_file(model: GeoClassifier, path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"initial weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch weights file ({exc})") from exc
    if isinstance(obj, dict) and obj.get("format") == "geoquiz-checkpoint":
        state = obj["state_dict"]
        backbone = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
        head = {k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")}
        same_head = tuple(obj["spec"]["classes"]) == model.spec.classes and all(
            head.get(k) is not None and head[k].shape == v.shape for k, v in model.head.state_dict().items()
        )
    elif isinstance(obj, dict) and "conv1.weight" in obj and "layer4.0.conv1.weight" in obj:
        backbone, head, same_head = _backbone_keys(obj), {}, False
    else:
        raise CheckpointError(f"{path} is neither a GeoQuiz checkpoint nor a torchvision ResNet state_dict")
    try:
        model.backbone.load_state_dict(backbone, strict=True)
        if same_head:
            model.head.load_state_dict(head, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path} does not fit a {model.spec.arch} backbone: {str(exc).splitlines()[0]}"
        ) from exc


def build_model(spec: ModelSpec, init: str | os.PathLike = "scratch") -> GeoNetwork:
    """A :class:`GeoNetwork` for ``spec``, initialised from ``scratch``, ``imagenet`` or a file path.

    ResNets (:data:`ARCHS`) are built here; ``timm:NAME``, ``torchvision:NAME`` and ``clip:NAME``
    by their family adapter (:mod:`geoquiz.models.families`). Call ``torch.manual_seed`` first for a
    reproducible scratch initialisation.
    """
    if spec.arch not in ARCHS:
        from geoquiz.models.families import family_for

        return family_for(spec.arch).build(spec, init)
    ctor = ARCHS[spec.arch][0]
    model = GeoClassifier(spec, ctor())
    if isinstance(init, str) and init == "scratch":
        return model
    if isinstance(init, str) and init == "imagenet":
        model.backbone.load_state_dict(_backbone_keys(imagenet_state_dict(spec.arch)), strict=True)
        return model
    _init_from_file(model, Path(init))
    return model
