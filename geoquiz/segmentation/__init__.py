"""Segmenters behind one interface and a registry (no torch at import time).

Names (:data:`SEGMENTERS`): ``default`` (weight-free, scikit-image), ``sam_vit_b`` / ``sam_vit_l`` /
``sam_vit_h`` (segment-anything), ``mobilesam_vit_t`` (mobilesam-mirror), ``sam2_hiera_t`` /
``_s`` / ``_b`` / ``_l`` (sam2), ``sam3`` (Transformers; prompted with a concept vocabulary, its
segments carry a concept and a cue tag). Checkpoint paths come from
:class:`geoquiz.config.SegmenterSettings` (the entry of the same name). A point-prompted SAM name
followed by ``:guided`` (for example ``mobilesam_vit_t:guided``) means the attribution-guided mode:
:mod:`geoquiz.explain` then prompts the segmenter only inside the salient region of the attribution
map being explained.

    seg = get_segmenter("sam_vit_b", project.settings.segmenters)
    segments = seg.segment(image)                                   # list[Segment]
    segmenter_status(project.settings.segmenters)                   # {"sam_vit_b": "ready", ...}
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geoquiz.config import SegmenterSettings
from geoquiz.errors import GeoQuizError
from geoquiz.segmentation.base import Segmenter, SegmenterInfo, SegmenterUnavailable

_SAM_SRC = "segment-anything, github.com/facebookresearch/segment-anything"
_MOBILE_SRC = "MobileSAM, github.com/ChaoningZhang/MobileSAM, weights/mobile_sam.pt"
_SAM2_SRC = "SAM 2.1, github.com/facebookresearch/sam2, checkpoints/download_ckpts.sh"

_SAM3_SRC = "SAM 3, huggingface.co/facebook/sam3 (gated: accept Meta's licence), Transformers format"

_SAM = "geoquiz.segmentation.sam:SamSegmenter"
_SAM2 = "geoquiz.segmentation.sam2:Sam2Segmenter"

#: The segmenters, by name: the one list the CLI, the app and the settings read. A new segmenter is
#: one entry here plus its module (a ``builder``); its checkpoint goes in ``[segmenters]``.
SEGMENTERS: dict[str, SegmenterInfo] = {
    info.name: info
    for info in (
        SegmenterInfo(
            name="default",
            family="default",
            arch="felzenszwalb+slic",
            official_file="",
            package="skimage",
            extra="",
            source="scikit-image",
            description="weight-free multi-scale regions",
            builder="geoquiz.segmentation.default:build_default",
            label="Default (superpixels)",
        ),
        SegmenterInfo(
            name="sam_vit_b",
            family="sam",
            arch="vit_b",
            official_file="sam_vit_b_01ec64.pth",
            package="segment_anything",
            extra="sam",
            source=_SAM_SRC,
            description="SAM ViT-B (375 MB)",
            builder=_SAM,
            label="SAM ViT-B",
        ),
        SegmenterInfo(
            name="sam_vit_l",
            family="sam",
            arch="vit_l",
            official_file="sam_vit_l_0b3195.pth",
            package="segment_anything",
            extra="sam",
            source=_SAM_SRC,
            description="SAM ViT-L (1.2 GB)",
            builder=_SAM,
            label="SAM ViT-L",
        ),
        SegmenterInfo(
            name="sam_vit_h",
            family="sam",
            arch="vit_h",
            official_file="sam_vit_h_4b8939.pth",
            package="segment_anything",
            extra="sam",
            source=_SAM_SRC,
            description="SAM ViT-H (2.6 GB)",
            builder=_SAM,
            label="SAM ViT-H",
        ),
        SegmenterInfo(
            name="mobilesam_vit_t",
            family="mobilesam",
            arch="vit_t",
            official_file="mobile_sam.pt",
            package="mobile_sam",
            extra="mobilesam",
            source=_MOBILE_SRC,
            description="MobileSAM TinyViT (40 MB)",
            builder=_SAM,
            label="MobileSAM",
        ),
        SegmenterInfo(
            name="sam2_hiera_t",
            family="sam2",
            arch="configs/sam2.1/sam2.1_hiera_t.yaml",
            official_file="sam2.1_hiera_tiny.pt",
            package="sam2",
            extra="sam2",
            source=_SAM2_SRC,
            description="SAM2.1 Hiera-T",
            builder=_SAM2,
            label="SAM2.1 Hiera-T",
        ),
        SegmenterInfo(
            name="sam2_hiera_s",
            family="sam2",
            arch="configs/sam2.1/sam2.1_hiera_s.yaml",
            official_file="sam2.1_hiera_small.pt",
            package="sam2",
            extra="sam2",
            source=_SAM2_SRC,
            description="SAM2.1 Hiera-S",
            builder=_SAM2,
            label="SAM2.1 Hiera-S",
        ),
        SegmenterInfo(
            name="sam2_hiera_b",
            family="sam2",
            arch="configs/sam2.1/sam2.1_hiera_b+.yaml",
            official_file="sam2.1_hiera_base_plus.pt",
            package="sam2",
            extra="sam2",
            source=_SAM2_SRC,
            description="SAM2.1 Hiera-B+",
            builder=_SAM2,
            label="SAM2.1 Hiera-B+",
        ),
        SegmenterInfo(
            name="sam2_hiera_l",
            family="sam2",
            arch="configs/sam2.1/sam2.1_hiera_l.yaml",
            official_file="sam2.1_hiera_large.pt",
            package="sam2",
            extra="sam2",
            source=_SAM2_SRC,
            description="SAM2.1 Hiera-L",
            builder=_SAM2,
            label="SAM2.1 Hiera-L",
        ),
        SegmenterInfo(
            name="sam3",
            family="sam3",
            arch="sam3",
            official_file="facebook/sam3",
            package="transformers",
            extra="sam3",
            source=_SAM3_SRC,
            description="SAM3 with a concept vocabulary (848 M parameters, 3.4 GB)",
            builder="geoquiz.segmentation.sam3:build_sam3",
            label="SAM3 (concepts)",
            checkpoint_kind="directory",
            check="geoquiz.segmentation.sam3_checkpoint:check_checkpoint_dir",
            concepts=True,
        ),
    )
}

GUIDED_SUFFIX = ":guided"

_cache: dict[tuple, Segmenter] = {}
_cache_lock = threading.Lock()


def parse_segmenter(spec: str) -> tuple[str, bool]:
    """``"mobilesam_vit_t:guided"`` -> ``("mobilesam_vit_t", True)``; checks the name."""
    name, guided = (spec[: -len(GUIDED_SUFFIX)], True) if spec.endswith(GUIDED_SUFFIX) else (spec, False)
    if name not in SEGMENTERS:
        raise GeoQuizError(f"unknown segmenter {name!r}; known: {', '.join(SEGMENTERS)}")
    if guided and SEGMENTERS[name].family == "default":
        raise GeoQuizError("the guided mode needs a SAM-family segmenter, not 'default'")
    if guided and SEGMENTERS[name].concepts:
        raise GeoQuizError(
            f"{name} is prompted with concepts, not points: it has no guided mode (use {name!r})"
        )
    return name, guided


def checkpoint_path(name: str, settings: SegmenterSettings) -> str:
    """The checkpoint set for ``name`` in ``settings`` ('' for a weight-free segmenter or none set)."""
    return settings.checkpoint(name) if SEGMENTERS[name].needs_checkpoint else ""


def segmenter_label(spec: str) -> str:
    """The display name of a segmenter spec (``"mobilesam_vit_t:guided"`` -> ``"MobileSAM (guided)"``)."""
    name, guided = (spec[: -len(GUIDED_SUFFIX)], True) if spec.endswith(GUIDED_SUFFIX) else (spec, False)
    info = SEGMENTERS.get(name)
    label = info.display_name if info else name
    return f"{label} (guided)" if guided else label


def _load(path: str) -> Callable[..., Any]:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_builder(info: SegmenterInfo) -> Callable[..., Segmenter]:
    """The callable behind ``info.builder`` (``"module:attr"``), imported now."""
    return _load(info.builder)


def checkpoint_id(path: str) -> list | None:
    """What identifies a checkpoint in cache keys: ``[name, size]`` of a file, or for a model folder
    its name with the size of its weights (None when nothing is there)."""
    if not path:
        return None
    p = Path(path).expanduser()
    if p.is_file():
        return [p.name, p.stat().st_size]
    if p.is_dir():
        weights = sorted(p.glob("*.safetensors"))
        return [p.name, sum(w.stat().st_size for w in weights)]
    return None


def get_segmenter(
    name: str, settings: SegmenterSettings | None = None, device: str = "auto", **params
) -> Segmenter:
    """The segmenter ``name`` (a ``:guided`` suffix is ignored here), cached per process by
    name, checkpoint file (path, size, mtime), device and params. SAM-family models load on first
    use; call ``.load()`` to fail early on a bad checkpoint."""
    name, _ = parse_segmenter(name)
    info = SEGMENTERS[name]
    settings = settings or SegmenterSettings()
    path = checkpoint_path(name, settings)
    stat = Path(path).stat() if path and Path(path).exists() else None
    key = (
        name,
        path,
        stat.st_size if stat else None,
        stat.st_mtime_ns if stat else None,
        device,
        tuple(sorted(params.items())),
    )
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        seg = load_builder(info)(info, path, device, **params)
        _cache[key] = seg
        return seg


def _looks_like_torch_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _check(info: SegmenterInfo, path: str) -> str | None:
    """Why the set checkpoint cannot be used (None: it looks right); see ``SegmenterInfo.check``."""
    if info.check:
        return _load(info.check)(info, path)
    p = Path(path).expanduser()
    if not p.is_file():
        return f"checkpoint not found: {path} (official file {info.official_file})"
    if not _looks_like_torch_file(p):
        return f"not a PyTorch checkpoint: {path} (official file {info.official_file})"
    return None


def segmenter_status(settings: SegmenterSettings) -> dict[str, str]:
    """``{name: "ready" | reason}`` for every segmenter, cheaply (no torch, no model load): the
    package is importable, a checkpoint is set, exists and looks right (a PyTorch file; for SAM3 a
    Transformers SAM3 folder, see :func:`geoquiz.segmentation.sam3_checkpoint.check_checkpoint_dir`).
    A file of the wrong SAM variant is only caught when it is loaded (``get_segmenter(...).load()``)."""
    out = {}
    for name, info in SEGMENTERS.items():
        if not info.needs_checkpoint:
            out[name] = "ready"
            continue
        if importlib.util.find_spec(info.package) is None:
            out[name] = f"package '{info.package}' not installed: pip install geoquiz[{info.extra}]"
            continue
        path = checkpoint_path(name, settings)
        kind = "folder" if info.checkpoint_kind == "directory" else "file"
        if not path:
            out[name] = f"no checkpoint set (official {kind} {info.official_file})"
        else:
            out[name] = _check(info, path) or "ready"
    for name in settings.names():
        if name not in SEGMENTERS:
            out[name] = f"unknown segmenter name in [segmenters]; known: {', '.join(SEGMENTERS)}"
    return out


def require_ready(specs: Sequence[str], settings: SegmenterSettings, *, skip: Sequence[str] = ()) -> None:
    """Raise one :class:`GeoQuizError` naming every segmenter of ``specs`` (``:guided`` allowed) that
    cannot run (package missing, checkpoint not set, missing or wrong: :func:`segmenter_status`);
    names in ``skip`` (ready-made segmenter objects) are not checked. Cheap: no model is loaded."""
    names = []
    for spec in specs:
        name, _ = parse_segmenter(spec)
        if name not in skip and name not in names:
            names.append(name)
    status = segmenter_status(settings) if names else {}
    bad = [n for n in names if status.get(n, "ready") != "ready"]
    if bad:
        from geoquiz.segmentation.base import how_to_configure

        lines = [f"segmenter {n} is not ready: {status[n]}" for n in bad]
        info = SEGMENTERS[bad[0]]
        if len(bad) == 1 and info.needs_checkpoint:
            lines[0] += f". {how_to_configure(info)}"
        raise GeoQuizError("; ".join(lines))


__all__ = [
    "GUIDED_SUFFIX",
    "SEGMENTERS",
    "Segmenter",
    "SegmenterInfo",
    "SegmenterUnavailable",
    "checkpoint_id",
    "checkpoint_path",
    "get_segmenter",
    "load_builder",
    "parse_segmenter",
    "require_ready",
    "segmenter_label",
    "segmenter_status",
]
