"""Checkpoints: a model's ``state_dict`` plus the metadata needed to rebuild and trust it.

File format (``torch.save`` of a plain dict, read back with ``torch.load(..., weights_only=True)``)::

    {"format": "geoquiz-checkpoint", "format_version": 1, "geoquiz_version": "0.1.0",
     "spec": ModelSpec.to_dict(),          # arch, integration, classes, input size, normalisation
     "state_dict": {...},                  # GeoClassifier.state_dict()
     "training": {...},                    # training config, history, dataset (plain data)
     "metrics": {...},                     # e.g. validation / test accuracy (plain data)
     "source": {...}}                      # optional: an imported model's origin (family, file, prompts)

Writes are atomic (temp file in the same folder, fsync, rename). Loading never unpickles code, and
a missing, corrupt or foreign file, or one trained for other classes, raises :class:`CheckpointError`
naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from geoquiz import __version__
from geoquiz.device import resolve_device
from geoquiz.errors import CheckpointError, torch_load_refusal
from geoquiz.models.families.base import state_mismatch
from geoquiz.models.predictor import LoadedModel
from geoquiz.models.registry import build_model
from geoquiz.models.spec import ModelSpec

FORMAT = "geoquiz-checkpoint"
FORMAT_VERSION = 1


def plain(obj: Any) -> Any:
    """``obj`` as JSON-able plain data (numpy scalars/arrays -> Python numbers/lists, tuples -> lists)."""
    return json.loads(json.dumps(obj, default=_json_default))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temp file beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    spec: ModelSpec,
    *,
    training: dict | None = None,
    metrics: dict | None = None,
    source: dict | None = None,
) -> Path:
    """Write ``model``'s weights and metadata to ``path`` atomically; returns the path.

    ``source``: where an imported model came from (family, file, prompts), stored as ``"source"``."""
    import torch

    # contiguous (a model trained channels-last stores the same layout as any other)
    state = {
        k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
        for k, v in model.state_dict().items()
    }
    obj = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "geoquiz_version": __version__,
        "spec": spec.to_dict(),
        "state_dict": state,
        "training": plain(training or {}),
        "metrics": plain(metrics or {}),
    }
    if source:
        obj["source"] = plain(source)
    atomic_torch_save(obj, path)
    return Path(path)


def _torch_load(path: Path) -> Any:
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint path {path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path} contains Python objects, not just weights (a pickled model from another program?): "
                f"{torch_load_refusal(exc)}. GeoQuiz only loads weights-only checkpoints, never code."
            ) from exc
        raise CheckpointError(
            f"{path} is corrupt or not a PyTorch checkpoint ({torch_load_refusal(exc)})"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is corrupt or not a PyTorch checkpoint ({first})") from exc


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The validated checkpoint dict (``spec`` parsed into a :class:`ModelSpec`), without building a model."""
    path = Path(path)
    obj = _torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        hint = ""
        if isinstance(obj, dict) and any(isinstance(k, str) and k.endswith(".weight") for k in obj):
            hint = (
                " It looks like a plain state_dict: use it as the initial weights of a training run instead."
            )
        raise CheckpointError(f"{path} is not a GeoQuiz checkpoint (no '{FORMAT}' marker).{hint}")
    if int(obj.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer GeoQuiz (format {obj.get('format_version')}); upgrade GeoQuiz"
        )
    try:
        spec = ModelSpec.from_dict(obj["spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an invalid model description: {exc}") from exc
    if not isinstance(obj.get("state_dict"), dict):
        raise CheckpointError(f"{path} has no state_dict")
    return {**obj, "spec": spec, "training": obj.get("training") or {}, "metrics": obj.get("metrics") or {}}


def check_classes(path: str | os.PathLike, spec: ModelSpec, expected: Sequence[str]) -> None:
    """Raise :class:`CheckpointError` unless the model's classes are exactly ``expected`` (as a set)."""
    have, want = set(spec.classes), {str(c) for c in expected}
    if have != want:
        parts = []
        if want - have:
            parts.append(f"the dataset has {', '.join(sorted(want - have))} which the model does not know")
        if have - want:
            parts.append(f"the model predicts {', '.join(sorted(have - want))} which the dataset lacks")
        raise CheckpointError(
            f"{path} was trained for classes [{', '.join(spec.classes)}] but the dataset has "
            f"[{', '.join(expected)}]: {'; '.join(parts)}"
        )


def _some(keys: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return f"{shown}, ..." if len(keys) > n else shown


def _shape(t: Any) -> str:
    return "x".join(str(d) for d in t.shape) or "scalar"


def build_with_weights(path: str | os.PathLike, spec: ModelSpec, state: Any) -> torch.nn.Module:
    """Build ``spec``'s architecture and load ``state`` into it strictly.

    Raises :class:`CheckpointError` naming ``path`` when ``state`` is empty or not tensors, or does not
    fit: the message gives the counts of missing, unexpected and wrongly shaped keys with a few of each.
    """
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: its state_dict is empty: the checkpoint holds no weights")
    bad = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: its state_dict holds {len(bad)} non-tensor entries ({_some(bad)})")
    try:
        model = build_model(spec, "scratch")
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot build its model: {exc}") from exc
    own = model.state_dict()
    missing, unexpected, misshaped = state_mismatch(own, state)
    if missing or unexpected or misshaped:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({_some(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({_some(unexpected)})")
        if misshaped:
            shapes = [
                f"{k}: {_shape(state[k])} in the file, {_shape(own[k])} in the model" for k in misshaped
            ]
            parts.append(f"{len(misshaped)} with the wrong shape ({_some(shapes)})")
        raise CheckpointError(
            f"{path}: the weights do not fit the model it declares ({spec.arch}, {spec.integration} "
            f"integration, {len(spec.classes)} classes): {'; '.join(parts)} of {len(own)} tensors. "
            "Was it saved for another architecture or class list?"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the weights do not load: {str(exc).splitlines()[0]}") from exc
    return model


def load_checkpoint(
    path: str | os.PathLike, *, expected_classes: Sequence[str] | None = None, device: str = "auto"
) -> LoadedModel:
    """Rebuild the model of a checkpoint, ready for inference on ``device`` (``auto``/``cpu``/``cuda``)."""
    path = Path(path)
    ckpt = read_checkpoint(path)
    spec: ModelSpec = ckpt["spec"]
    if expected_classes is not None:
        check_classes(path, spec, expected_classes)
    model = build_with_weights(path, spec, ckpt["state_dict"])
    meta = {
        "training": ckpt["training"],
        "metrics": ckpt["metrics"],
        "geoquiz_version": ckpt.get("geoquiz_version"),
        **({"source": ckpt["source"]} if ckpt.get("source") else {}),
    }
    return LoadedModel(model, spec, resolve_device(device), path=path, metadata=meta)
