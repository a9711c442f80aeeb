"""Segmenters behind one interface and a registry (no torch at import time).

Names (:data:`SEGMENTERS`): ``default`` (weight-free, scikit-image), ``sam_vit_b`` / ``sam_vit_l`` /
``sam_vit_h`` (segment-anything), ``mobilesam_vit_t`` (mobilesam-mirror), ``sam2_hiera_t`` /
``_s`` / ``_b`` / ``_l`` (sam2). Checkpoint paths come from :class:`geoquiz.config.SegmenterSettings`
(the field of the same name). A SAM-family name followed by ``:guided`` (for example
``mobilesam_vit_t:guided``) means the attribution-guided mode: :mod:`geoquiz.explain` then
prompts the segmenter only inside the salient region of the attribution map being explained.

    seg = get_segmenter("sam_vit_b", project.settings.segmenters)
    segments = seg.segment(image)                                   # list[Segment]
    segmenter_status(project.settings.segmenters)                   # {"sam_vit_b": "ready", ...}
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import fields
from pathlib import Path

from geoquiz.config import SegmenterSettings
from geoquiz.errors import GeoQuizError
from geoquiz.segmentation.base import Segmenter, SegmenterInfo, SegmenterUnavailable

_SAM_SRC = "segment-anything, github.com/facebookresearch/segment-anything"
_MOBILE_SRC = "MobileSAM, github.com/ChaoningZhang/MobileSAM, weights/mobile_sam.pt"
_SAM2_SRC = "SAM 2.1, github.com/facebookresearch/sam2, checkpoints/download_ckpts.sh"

SEGMENTERS: dict[str, SegmenterInfo] = {
    info.name: info
    for info in (
        SegmenterInfo(
            "default",
            "default",
            "felzenszwalb+slic",
            "",
            "skimage",
            "",
            "scikit-image",
            "weight-free multi-scale regions",
        ),
        SegmenterInfo(
            "sam_vit_b",
            "sam",
            "vit_b",
            "sam_vit_b_01ec64.pth",
            "segment_anything",
            "sam",
            _SAM_SRC,
            "SAM ViT-B (375 MB)",
        ),
        SegmenterInfo(
            "sam_vit_l",
            "sam",
            "vit_l",
            "sam_vit_l_0b3195.pth",
            "segment_anything",
            "sam",
            _SAM_SRC,
            "SAM ViT-L (1.2 GB)",
        ),
        SegmenterInfo(
            "sam_vit_h",
            "sam",
            "vit_h",
            "sam_vit_h_4b8939.pth",
            "segment_anything",
            "sam",
            _SAM_SRC,
            "SAM ViT-H (2.6 GB)",
        ),
        SegmenterInfo(
            "mobilesam_vit_t",
            "mobilesam",
            "vit_t",
            "mobile_sam.pt",
            "mobile_sam",
            "mobilesam",
            _MOBILE_SRC,
            "MobileSAM TinyViT (40 MB)",
        ),
        SegmenterInfo(
            "sam2_hiera_t",
            "sam2",
            "configs/sam2.1/sam2.1_hiera_t.yaml",
            "sam2.1_hiera_tiny.pt",
            "sam2",
            "sam2",
            _SAM2_SRC,
            "SAM2.1 Hiera-T",
        ),
        SegmenterInfo(
            "sam2_hiera_s",
            "sam2",
            "configs/sam2.1/sam2.1_hiera_s.yaml",
            "sam2.1_hiera_small.pt",
            "sam2",
            "sam2",
            _SAM2_SRC,
            "SAM2.1 Hiera-S",
        ),
        SegmenterInfo(
            "sam2_hiera_b",
            "sam2",
            "configs/sam2.1/sam2.1_hiera_b+.yaml",
            "sam2.1_hiera_base_plus.pt",
            "sam2",
            "sam2",
            _SAM2_SRC,
            "SAM2.1 Hiera-B+",
        ),
        SegmenterInfo(
            "sam2_hiera_l",
            "sam2",
            "configs/sam2.1/sam2.1_hiera_l.yaml",
            "sam2.1_hiera_large.pt",
            "sam2",
            "sam2",
            _SAM2_SRC,
            "SAM2.1 Hiera-L",
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
    return name, guided


def checkpoint_path(name: str, settings: SegmenterSettings) -> str:
    return (
        str(getattr(settings, name, "") or "") if name in {f.name for f in fields(SegmenterSettings)} else ""
    )


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
    stat = Path(path).stat() if path and Path(path).is_file() else None
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
        if info.family == "default":
            from geoquiz.segmentation.default import DefaultSegmenter

            seg = DefaultSegmenter(**params)
        elif info.family == "sam2":
            from geoquiz.segmentation.sam2 import Sam2Segmenter

            seg = Sam2Segmenter(info, path, device, **params)
        else:
            from geoquiz.segmentation.sam import SamSegmenter

            seg = SamSegmenter(info, path, device, **params)
        _cache[key] = seg
        return seg


def _looks_like_torch_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def segmenter_status(settings: SegmenterSettings) -> dict[str, str]:
    """``{name: "ready" | reason}`` for every segmenter, cheaply (no torch, no model load): the
    package is importable, a checkpoint is set, exists and looks like a PyTorch file. A file of the
    wrong model is only caught when it is loaded (``get_segmenter(...).load()``)."""
    out = {}
    for name, info in SEGMENTERS.items():
        if info.family == "default":
            out[name] = "ready"
            continue
        if importlib.util.find_spec(info.package) is None:
            out[name] = f"package '{info.package}' not installed: pip install geoquiz[{info.extra}]"
            continue
        path = checkpoint_path(name, settings)
        if not path:
            out[name] = f"no checkpoint set (official file {info.official_file})"
        elif not Path(path).expanduser().is_file():
            out[name] = f"checkpoint not found: {path} (official file {info.official_file})"
        elif not _looks_like_torch_file(Path(path).expanduser()):
            out[name] = f"not a PyTorch checkpoint: {path} (official file {info.official_file})"
        else:
            out[name] = "ready"
    return out


__all__ = [
    "GUIDED_SUFFIX",
    "SEGMENTERS",
    "Segmenter",
    "SegmenterInfo",
    "SegmenterUnavailable",
    "checkpoint_path",
    "get_segmenter",
    "parse_segmenter",
    "segmenter_status",
]
