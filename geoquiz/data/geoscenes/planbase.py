"""The data structures of a GeoScenes plan (see :mod:`geoquiz.data.geoscenes.plan`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from geoquiz.data.geoscenes.canvas import Camera, Colour
from geoquiz.data.geoscenes.styles import CUE_KEYS

GROUND, BUILDINGS, ROADSIDE = 1, 2, 3
SCRIPT_NAMES = {"latin": "Latin", "kana": "kana/kanji-like", "devanagari": "Devanagari-like"}


@dataclass(frozen=True)
class Instance:
    """One planted cue object: its key (see CUE_KEYS), tag and human-readable detail. ``parent``: the
    instance it is drawn on (the sign under a script; -1 = none): it is not drawn without it."""

    key: str
    detail: str
    parent: int = -1

    @property
    def tag(self) -> str:
        return CUE_KEYS[self.key]


@dataclass(frozen=True)
class Piece:
    """One draw call. ``inst`` indexes :attr:`Plan.instances` (-1 = background / distractor)."""

    order: tuple
    inst: int
    draw: Callable


@dataclass
class Plan:
    country: str
    cam: Camera
    zenith: Colour
    horizon_col: Colour
    ground: Colour
    light: tuple[float, float, float]
    noise_sigma: float
    noise_seed: int
    pieces: list[Piece] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    #: a "neutral" plan (see :mod:`geoquiz.data.geoscenes.select`) records the shared distractors as
    #: ``distractor`` cue instances (tag ``other``) instead of drawing them as anonymous background
    neutral: bool = False
    _seq: int = 0

    def new(self, key: str, detail: str, parent: int = -1) -> int:
        self.instances.append(Instance(key, f"{key.replace('_', ' ')}: {detail}", parent))
        return len(self.instances) - 1

    def add(self, layer: int, dist: float, inst: int, fn: Callable, *args, **kwargs) -> None:
        """Queue ``fn(canvas, camera, *args, **kwargs)``; drawn by layer, then far to near."""
        self._seq += 1
        key = (layer, 0.0 if layer == GROUND else -dist, self._seq)
        self.pieces.append(Piece(key, inst, partial(_call, fn, args, kwargs)))


def _call(fn: Callable, args: tuple, kwargs: dict, cv: object, cam: Camera) -> None:
    fn(cv, cam, *args, **kwargs)


def choose(rng: np.random.Generator, options: list[tuple]) -> object:
    """Pick the first element of one of ``options`` [(value, probability), ...]."""
    p = np.array([o[1] for o in options], float)
    return options[int(rng.choice(len(options), p=p / p.sum()))][0]


@dataclass
class Ctx:
    """What the planners share: the plan, the country style, the random streams and sizes."""

    plan: Plan
    style: dict
    rng: np.random.Generator
    axis: np.random.Generator
    lane: float
    size: int

    @property
    def hw(self) -> float:
        return self.lane

    @property
    def cam(self) -> Camera:
        return self.plan.cam

    def visible(self, height_m: float, Z: float, min_px: float = 4.0) -> bool:
        """Is an object ``height_m`` tall at depth ``Z`` at least ``min_px`` (at 224 px) tall?"""
        return self.cam.scale(Z) * height_m >= min_px * self.size / 224.0

    def seed(self) -> int:
        return int(self.rng.integers(2**31))


def roadside_x(c: Ctx, side: int, lo: float, hi: float) -> float:
    """Lateral position ``lo..hi`` metres beyond the road edge on ``side`` (-1 left, +1 right)."""
    return side * (c.hw + float(c.rng.uniform(lo, hi)))
