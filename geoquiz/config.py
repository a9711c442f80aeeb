"""Typed settings, loaded from a project's ``project.toml`` (never from QSettings).

Each section is a frozen dataclass with documented defaults; unknown keys and wrong types raise
:class:`geoquiz.errors.ConfigError` naming the file and the field. Modules that own a setting
define its default here so the CLI, the app and the library agree.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from geoquiz.errors import ConfigError


@dataclass(frozen=True)
class SegmenterSettings:
    """Checkpoint paths for the SAM family (empty = not configured).

    Official files: ``sam_vit_b_01ec64.pth``, ``sam_vit_l_0b3195.pth``, ``sam_vit_h_4b8939.pth``
    (segment-anything), ``mobile_sam.pt`` (MobileSAM), ``sam2.1_hiera_tiny.pt`` /
    ``sam2.1_hiera_small.pt`` / ``sam2.1_hiera_base_plus.pt`` / ``sam2.1_hiera_large.pt`` (SAM2).
    """

    sam_vit_b: str = ""
    sam_vit_l: str = ""
    sam_vit_h: str = ""
    mobilesam_vit_t: str = ""
    sam2_hiera_t: str = ""
    sam2_hiera_s: str = ""
    sam2_hiera_b: str = ""
    sam2_hiera_l: str = ""


@dataclass(frozen=True)
class ElementSettings:
    """Element extraction parameters (paper 000, section 3.3; the rule is spelled out in geoquiz.elements).

    ``top_p``: percentage of the map's pixels kept as the salient region (the top-p percentile;
    20 = the 20 % most attributed pixels). ``s_min``: segments whose score (geometric mean of
    overlap, mean attribution and centre attribution, all in [0, 1]) is below it are dropped.
    ``iou_threshold``: containment IoU (intersection over the smaller mask) at or above which two
    segments may be near-duplicates. ``detail_ratio``: they are duplicates only if the smaller is at
    least this fraction of the larger's area, so a small detail inside a big segment is kept
    (0 = plain containment rule). ``padding``: box padding as a fraction of the box's larger side,
    at least ``min_padding_px`` pixels. ``max_elements``: cap on the number kept (0 = no cap).
    ``min_segment_area``: segments smaller than this many pixels are ignored (speckle).

    Distinct boxes (GeoQuiz's addition, applied after the containment de-duplication):
    ``box_rule`` is ``plain`` (the paper's rule only: padded boxes may pile up on one spot),
    ``merge`` (default: an element whose padded box overlaps a better-ranked one strongly is merged
    into it when it is no larger, else dropped) or ``drop`` (it is dropped). Two padded boxes overlap
    strongly when their IoU is above ``box_iou`` or the smaller lies inside the larger by more than
    ``box_containment`` (intersection over the smaller box's area). See :mod:`geoquiz.elements`, step 5.
    """

    top_p: float = 20.0
    s_min: float = 0.3
    iou_threshold: float = 0.8
    detail_ratio: float = 0.5
    padding: float = 0.1
    min_padding_px: int = 2
    max_elements: int = 10
    min_segment_area: int = 16
    box_rule: str = "merge"
    box_iou: float = 0.3
    box_containment: float = 0.6

    def __post_init__(self) -> None:
        if self.box_rule not in BOX_RULES:
            raise ConfigError(
                f"elements.box_rule must be one of {', '.join(BOX_RULES)}, got {self.box_rule!r}"
            )
        for name in ("box_iou", "box_containment"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"elements.{name} must be in [0, 1], got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ElementSettings:
        """Settings stored with an element set or a faithfulness run (``dataclasses.asdict``).

        Records written before ``box_rule`` existed were made with the paper's rule, so a missing
        ``box_rule`` reads as ``plain`` (not as today's default)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("box_rule", "plain")
        return cls(**values)


#: Values of :attr:`ElementSettings.box_rule` (see geoquiz.elements).
BOX_RULES: tuple[str, ...] = ("plain", "merge", "drop")


@dataclass(frozen=True)
class Settings:
    """All project settings. ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""

    device: str = "auto"
    segmenters: SegmenterSettings = field(default_factory=SegmenterSettings)
    elements: ElementSettings = field(default_factory=ElementSettings)


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool):
        if isinstance(value, annotation) and not (annotation is int and isinstance(value, bool)):
            return value
        raise ConfigError(f"{where} must be {annotation.__name__}, got {value!r}")
    if origin in (list, tuple) and isinstance(value, list):
        return value if origin is list else tuple(value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is type(None) and value is None:
                return None
            try:
                return _check_type(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} has the wrong type: {value!r}")
    return value


def from_mapping(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, checking names and types; nested dataclasses recurse."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_mapping(hint, value, f"{where}.{key}")
        else:
            kwargs[key] = _check_type(value, hint, f"{where}.{key}")
    return cls(**kwargs)


def to_mapping(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def load_settings(path: str | Path) -> Settings:
    """Read settings from a TOML file; a missing file gives the defaults."""
    path = Path(path)
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return from_mapping(Settings, data, str(path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    s = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def dump_settings(settings: Settings) -> str:
    """Serialise settings as TOML (top-level scalars first, then one table per section)."""
    lines, tables = [], []
    for key, value in to_mapping(settings).items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def save_settings(settings: Settings, path: str | Path) -> None:
    """Write settings atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dump_settings(settings), encoding="utf-8")
    tmp.replace(path)
