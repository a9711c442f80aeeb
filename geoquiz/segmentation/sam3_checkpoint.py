"""SAM3 checkpoints: the Transformers model folder, checked without torch, saved atomically, loaded
strictly.

GeoQuiz loads SAM3 through Hugging Face Transformers (``Sam3Model`` / ``Sam3Processor``; see
docs/segmenters.md for why not Meta's ``sam3`` package). The checkpoint is the *folder* of the
official ``facebook/sam3`` release (after accepting its licence on Hugging Face): ``config.json``,
``model.safetensors`` (or shards with ``model.safetensors.index.json``), the processor's
``processor_config.json`` / ``preprocessor_config.json`` and the CLIP tokenizer files
(``tokenizer.json``, or ``vocab.json`` + ``merges.txt``).

* :func:`check_checkpoint_dir` is the cheap, torch-free look used by
  :func:`geoquiz.segmentation.segmenter_status` (and so by ``geoquiz explain`` / ``evaluate`` before
  any work starts): the folder exists, its ``config.json`` is a SAM3 config, the weights are
  safetensors (pickled ``pytorch_model.bin`` files are refused, as ``torch.load`` without
  ``weights_only`` would be elsewhere) whose header parses and names SAM3's modules, and the
  tokenizer and processor files are there. Meta's ``sam3.pt`` gets a message saying which folder
  to use instead.
* :func:`load_checkpoint_dir` builds the model with ``from_pretrained(local_files_only=True,
  use_safetensors=True)`` and refuses a folder whose weights leave any parameter missing or wrongly
  shaped (Transformers would otherwise initialise them at random and only warn).
* :func:`save_checkpoint_dir` writes a model and processor to a temporary folder and renames it
  into place (tests and conversions).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import uuid
from pathlib import Path
from typing import Any

from geoquiz.errors import CheckpointError
from geoquiz.segmentation.base import SegmenterInfo, how_to_configure

#: ``model_type`` values of a SAM3 image-model config (``sam3_video`` configs hold it as ``detector_config``).
MODEL_TYPES = ("sam3", "sam3_video")
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")
#: A tensor name of each of these SAM3 modules must be in the weights (after an optional prefix).
MODULES = ("vision_encoder.", "text_encoder.", "detr_decoder.", "mask_decoder.")


def _weight_files(folder: Path) -> list[Path]:
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []
        return [folder / n for n in names]
    return []


def _safetensors_keys(path: Path) -> list[str] | None:
    """The tensor names in a safetensors file's header (None: not a readable safetensors file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                return None
            (size,) = struct.unpack("<Q", head)
            if size <= 0 or size > 100_000_000 or size + 8 > path.stat().st_size:
                return None
            header = json.loads(fh.read(size))
    except (OSError, ValueError):
        return None
    return [k for k in header if k != "__metadata__"] if isinstance(header, dict) else None


def check_checkpoint_dir(info: SegmenterInfo, path: str | os.PathLike) -> str | None:
    """Why the folder at ``path`` cannot be SAM3's checkpoint, or None when it looks right
    (cheap: reads ``config.json`` and the safetensors headers, no torch, no weights)."""
    folder = Path(str(path)).expanduser()
    official = f"the official folder {info.official_file}"
    if not folder.exists():
        return f"checkpoint folder not found: {folder} (expected {official})"
    if folder.is_file():
        if folder.suffix in (".pt", ".pth"):
            return (
                f"{folder} is a single PyTorch file (Meta's sam3.pt format?); GeoQuiz loads the "
                f"Transformers format: set {official} (config.json + model.safetensors) instead"
            )
        return f"{folder} is a file; SAM3 needs {official} (config.json, model.safetensors, tokenizer files)"
    config = folder / "config.json"
    if not config.is_file():
        return f"{folder} has no config.json: not a Transformers model folder (expected {official})"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{config} is not readable JSON ({exc})"
    model_type = data.get("model_type") if isinstance(data, dict) else None
    if model_type not in MODEL_TYPES:
        return f"{folder} holds a {model_type or 'unknown'!s} model, not SAM3 (config.json model_type); expected {official}"
    files = _weight_files(folder)
    if not files:
        if any(folder.glob("*.bin")):
            return f"{folder} has pickled .bin weights only; GeoQuiz loads safetensors ({WEIGHTS})"
        return f"{folder} has no {WEIGHTS} (or {WEIGHTS_INDEX}); the download is incomplete?"
    keys: list[str] = []
    for f in files:
        found = _safetensors_keys(f) if f.is_file() else None
        if found is None:
            return f"{f} is missing or not a readable safetensors file (incomplete download?)"
        keys += found
    missing = [m for m in MODULES if not any(m in k for k in keys)]
    if missing:
        return (
            f"{folder}: the weights hold no {', '.join(m.rstrip('.') for m in missing)} tensors; not SAM3's"
        )
    if not any((folder / n).is_file() for n in PROCESSOR_FILES):
        return f"{folder} has no processor_config.json / preprocessor_config.json (the image processor)"
    if not (folder / "tokenizer.json").is_file() and not (
        (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    ):
        return f"{folder} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt)"
    return None


def require_checkpoint_dir(info: SegmenterInfo, path: str | os.PathLike | None) -> Path:
    """The folder, or :class:`CheckpointError` saying what is wrong and how to set it."""
    if not path or not str(path).strip():
        raise CheckpointError(f"{info.name}: no checkpoint configured. {how_to_configure(info)}")
    reason = check_checkpoint_dir(info, path)
    if reason:
        raise CheckpointError(f"{info.name}: {reason}. {how_to_configure(info)}")
    return Path(str(path)).expanduser()


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def load_checkpoint_dir(info: SegmenterInfo, path: str | os.PathLike, dtype: Any = None) -> tuple[Any, Any]:
    """``(Sam3Model, Sam3Processor)`` from the folder, on the CPU, in eval mode.

    Raises :class:`CheckpointError` when the folder fails :func:`check_checkpoint_dir`, cannot be
    loaded, or its weights leave parameters missing or wrongly shaped (``dtype``: a torch dtype,
    default float32). Weights the image model does not use (the video tracker's) are ignored.
    """
    import torch
    from transformers import Sam3Model, Sam3Processor

    folder = require_checkpoint_dir(info, path)
    _quiet_transformers()
    try:
        model, report = Sam3Model.from_pretrained(
            folder,
            local_files_only=True,
            use_safetensors=True,
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported below (and refused) instead of a bare exception
            dtype=dtype or torch.float32,
        )
        processor = Sam3Processor.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # the library raises OSError, ValueError, KeyError, RuntimeError ...
        detail = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else exc.__class__.__name__
        raise CheckpointError(
            f"{info.name}: cannot load the SAM3 checkpoint {folder} ({detail}); expected the official folder {info.official_file}"
        ) from exc
    missing = list(report.get("missing_keys") or [])
    mismatched = [
        str(m[0]) if isinstance(m, (tuple, list)) else str(m) for m in report.get("mismatched_keys") or []
    ]
    if missing or mismatched:
        example = (mismatched or missing)[0]
        raise CheckpointError(
            f"{info.name}: {folder} does not fit the SAM3 architecture of its config.json ({len(missing)} "
            f"missing, {len(mismatched)} wrongly shaped tensors, e.g. {example!r}); expected the official "
            f"folder {info.official_file}"
        )
    return model.eval(), processor


def save_checkpoint_dir(model: Any, processor: Any, path: str | os.PathLike) -> Path:
    """Write ``model`` (a ``Sam3Model``) and ``processor`` (a ``Sam3Processor``) as a Transformers
    folder at ``path``, atomically: into a temporary sibling folder, then renamed (an existing
    folder at ``path`` is replaced)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    _quiet_transformers()
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = [
    "MODEL_TYPES",
    "check_checkpoint_dir",
    "load_checkpoint_dir",
    "require_checkpoint_dir",
    "save_checkpoint_dir",
]
