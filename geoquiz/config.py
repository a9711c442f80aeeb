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


class SegmenterSettings:
    """Checkpoint paths of the segmenters that need weights, by segmenter name (empty = not set).

    ``project.toml``'s ``[segmenters]`` table maps a name of the segmentation registry
    (:data:`geoquiz.segmentation.SEGMENTERS`, e.g. ``sam_vit_b``, ``mobilesam_vit_t``,
    ``sam2_hiera_t``) to its checkpoint file, so a new segmenter needs no new setting here; a name
    the registry does not know is reported by :func:`geoquiz.segmentation.segmenter_status`.

        SegmenterSettings(sam_vit_b="/weights/sam_vit_b_01ec64.pth").checkpoint("sam_vit_b")

    Immutable and hashable like the other settings; :meth:`replace` returns a changed copy.
    """

    __slots__ = ("_paths",)

    def __init__(self, **checkpoints: str) -> None:
        for name, path in checkpoints.items():
            if not isinstance(path, str):
                raise ConfigError(f"segmenters.{name} must be a path (text), got {path!r}")
        object.__setattr__(self, "_paths", {k: v for k, v in sorted(checkpoints.items())})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SegmenterSettings is immutable; use .replace(name=path)")

    def checkpoint(self, name: str) -> str:
        """The checkpoint path set for segmenter ``name`` ('' when none)."""
        return self._paths.get(name, "") or ""

    def names(self) -> tuple[str, ...]:
        """The segmenter names that have an entry (set or empty)."""
        return tuple(self._paths)

    def replace(self, **checkpoints: str) -> SegmenterSettings:
        return SegmenterSettings(**{**self._paths, **checkpoints})

    def as_dict(self) -> dict[str, str]:
        return dict(self._paths)

    @classmethod
    def from_table(cls, data: Any, where: str) -> SegmenterSettings:
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a table of segmenter name = checkpoint path")
        bad = [k for k, v in data.items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where}.{bad[0]} must be a path (text), got {data[bad[0]]!r}")
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SegmenterSettings) and self._nonempty() == other._nonempty()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._nonempty().items())))

    def _nonempty(self) -> dict[str, str]:
        return {k: v for k, v in self._paths.items() if v}

    def __repr__(self) -> str:
        return f"SegmenterSettings({', '.join(f'{k}={v!r}' for k, v in self._paths.items())})"

    def __reduce__(self) -> tuple:
        return (_segmenter_settings, (self._paths,))


def _segmenter_settings(paths: dict[str, str]) -> SegmenterSettings:
    return SegmenterSettings(**paths)


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


#: Default pixel-count limit for images: Pillow's ``Image.MAX_IMAGE_PIXELS`` default (about 89.5 Mpx).
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
#: The highest pixel limit that can be set: Pillow refuses to open anything over twice its default.
HARD_MAX_IMAGE_PIXELS = 2 * DEFAULT_MAX_IMAGE_PIXELS


def check_pixel_limit(value: Any, where: str = "the pixel limit") -> int:
    """``value`` as a valid pixel-count limit (1 .. :data:`HARD_MAX_IMAGE_PIXELS`), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= HARD_MAX_IMAGE_PIXELS:
        raise ValueError(
            f"{where} must be a whole number of pixels from 1 to {HARD_MAX_IMAGE_PIXELS:,} "
            f"(Pillow's hard limit), got {value!r}"
        )
    return value


_max_image_pixels = DEFAULT_MAX_IMAGE_PIXELS


def max_image_pixels() -> int:
    """The process-wide image pixel limit used when a read gives no explicit limit
    (:mod:`geoquiz.data.imageio`); :meth:`geoquiz.project.Project.open` sets it from the project."""
    return _max_image_pixels


def set_max_image_pixels(value: int) -> None:
    """Set the process-wide image pixel limit (``ValueError`` outside 1 .. :data:`HARD_MAX_IMAGE_PIXELS`)."""
    global _max_image_pixels
    _max_image_pixels = check_pixel_limit(value)


@dataclass(frozen=True)
class LimitSettings:
    """Safety limits (docs/limits.md).

    ``max_image_pixels``: images whose header claims more pixels (width x height) are refused before
    decoding (decompression bombs); default Pillow's 89,478,485, at most 178,956,970.
    ``lock_wait_s``: how long a write waits for another writer's lock on the project database (another
    GeoQuiz process, a quiz session, an export) before it stops with a message and writes nothing.
    """

    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    lock_wait_s: float = 30.0

    def check(self, where: str) -> None:
        try:
            check_pixel_limit(self.max_image_pixels, f"{where}.max_image_pixels")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not 0.0 <= self.lock_wait_s <= 86_400.0:
            raise ConfigError(
                f"{where}.lock_wait_s must be seconds from 0 to 86400, got {self.lock_wait_s!r}"
            )


@dataclass(frozen=True)
class ConceptSettings:
    """The concept vocabulary of concept-prompted segmenters (SAM3; :mod:`geoquiz.segmentation.concepts`).

    ``vocabulary``: a TOML file of concepts, each mapped to a cue tag; empty = GeoQuiz's own
    ``assets/concepts.toml``. A relative path is relative to the project folder.
    """

    vocabulary: str = ""


@dataclass(frozen=True)
class Settings:
    """All project settings. ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""

    device: str = "auto"
    segmenters: SegmenterSettings = field(default_factory=SegmenterSettings)
    elements: ElementSettings = field(default_factory=ElementSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    concepts: ConceptSettings = field(default_factory=ConceptSettings)


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
        if hasattr(hint, "from_table"):
            kwargs[key] = hint.from_table(value, f"{where}.{key}")
        elif dataclasses.is_dataclass(hint):
            kwargs[key] = from_mapping(hint, value, f"{where}.{key}")
        else:
            kwargs[key] = _check_type(value, hint, f"{where}.{key}")
    obj = cls(**kwargs)
    if hasattr(obj, "check"):
        obj.check(where)
    return obj


def to_mapping(obj: Any) -> dict[str, Any]:
    """A dataclass of settings as nested dicts (sections with ``as_dict`` become tables too)."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if hasattr(value, "as_dict"):
            value = value.as_dict()
        elif dataclasses.is_dataclass(value):
            value = to_mapping(value)
        out[f.name] = value
    return out


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


#: Sections written only when they differ from their defaults (added later: a project that keeps the
#: defaults stays readable by GeoQuiz versions that do not know them).
_OPTIONAL_SECTIONS = {"limits": LimitSettings}


def dump_settings(settings: Settings) -> str:
    """Serialise settings as TOML (top-level scalars first, then one table per section)."""
    lines, tables = [], []
    for key, value in to_mapping(settings).items():
        if key in _OPTIONAL_SECTIONS and value == to_mapping(_OPTIONAL_SECTIONS[key]()):
            continue
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
