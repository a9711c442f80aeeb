"""Script-like glyph strings for signs: Latin, kana/kanji-like blocks and Devanagari-like words.

None of this is real text; it is stroke shapes with the tell-tale structure of each script: Latin
letters of varying width with round bowls and ascenders, square kana/kanji-like cells of a few
strokes, and Devanagari-like words hanging from a continuous top bar (shirorekha).
"""

from __future__ import annotations

import numpy as np

from geoquiz.data.geoscenes.canvas import Canvas, Colour

SCRIPTS = ("latin", "kana", "devanagari")

# Letter shapes as polylines in a unit cell (u right 0..1, v down 0..1; v=0.35 is the x-height top).
_LATIN = [
    [[(0.2, 0.0), (0.2, 1.0)]],  # l
    [[(0.2, 0.35), (0.2, 1.0)], [(0.2, 0.55), (0.5, 0.35), (0.8, 0.5), (0.8, 1.0)]],  # n
    [[(0.8, 0.45), (0.5, 0.35), (0.2, 0.5), (0.2, 0.85), (0.5, 1.0), (0.8, 0.9)]],  # c
    [[(0.5, 0.35), (0.2, 0.5), (0.2, 0.85), (0.5, 1.0), (0.8, 0.85), (0.8, 0.5), (0.5, 0.35)]],  # o
    [
        [(0.8, 0.0), (0.8, 1.0)],
        [(0.8, 0.45), (0.5, 0.35), (0.2, 0.55), (0.2, 0.85), (0.5, 1.0), (0.8, 0.9)],
    ],  # d
    [[(0.1, 0.35), (0.5, 1.0), (0.9, 0.35)]],  # v
    [[(0.15, 0.0), (0.15, 1.0)], [(0.15, 0.0), (0.75, 0.0)], [(0.15, 0.5), (0.6, 0.5)]],  # F
    [[(0.2, 0.65), (0.8, 0.65), (0.7, 0.4), (0.4, 0.35), (0.2, 0.6), (0.3, 0.95), (0.8, 0.95)]],  # e
    [[(0.3, 0.0), (0.3, 0.9), (0.6, 1.0)], [(0.1, 0.35), (0.6, 0.35)]],  # t
    [[(0.1, 0.0), (0.1, 1.0), (0.9, 1.0)]],  # L
    [[(0.8, 0.1), (0.2, 0.1), (0.2, 0.5), (0.8, 0.5), (0.8, 0.9), (0.2, 0.9)]],  # S
]

_KANA_STROKES = [
    [(0.1, 0.3), (0.9, 0.3)],
    [(0.1, 0.7), (0.9, 0.7)],
    [(0.5, 0.05), (0.5, 0.95)],
    [(0.3, 0.1), (0.15, 0.9)],
    [(0.2, 0.4), (0.85, 0.95)],
    [(0.75, 0.1), (0.8, 0.6), (0.55, 0.9)],
    [(0.1, 0.5), (0.9, 0.5)],
    [(0.25, 0.15), (0.25, 0.85), (0.8, 0.85), (0.8, 0.15), (0.25, 0.15)],  # a box (kanji-like)
]

_DEVA = [
    [[(0.75, 0.0), (0.75, 1.0)], [(0.75, 0.45), (0.35, 0.4), (0.2, 0.65), (0.45, 0.85)]],
    [[(0.75, 0.0), (0.75, 1.0)], [(0.2, 0.0), (0.2, 0.5), (0.75, 0.55)]],
    [[(0.5, 0.0), (0.3, 0.3), (0.6, 0.55), (0.3, 0.9)]],
    [[(0.75, 0.0), (0.75, 1.0)], [(0.25, 0.2), (0.45, 0.5), (0.2, 0.75), (0.6, 0.7)]],
    [[(0.3, 0.0), (0.55, 0.35), (0.25, 0.6), (0.55, 0.95)], [(0.8, 0.0), (0.8, 0.8)]],
]


def _stroke(cv: Canvas, x: float, y: float, w: float, h: float, poly, colour: Colour, width: float) -> None:
    cv.line([(x + u * w, y + v * h) for u, v in poly], colour, width)


def draw_text(
    cv: Canvas,
    script: str,
    box: tuple[float, float, float, float],
    colour: Colour,
    seed: int,
    lines: int = 1,
) -> None:
    """Fill the output-pixel ``box`` (x0, y0, x1, y1) with ``lines`` lines of glyphs of ``script``."""
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}")
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box
    line_h = (y1 - y0) / lines
    for i in range(lines):
        gh = line_h * 0.72
        gy = y0 + i * line_h + (line_h - gh) / 2.0
        width = max(0.45 * cv.px, gh * 0.16)
        if script == "latin":
            _latin_line(cv, rng, x0, x1, gy, gh, colour, width)
        elif script == "kana":
            _kana_line(cv, rng, x0, x1, gy, gh, colour, width)
        else:
            _deva_line(cv, rng, x0, x1, gy, gh, colour, width)


def _latin_line(cv, rng, x0, x1, y, h, colour, width) -> None:
    x = x0
    while True:
        n = int(rng.integers(2, 7))
        for _ in range(n):
            lw = h * float(rng.uniform(0.45, 0.7))
            if x + lw > x1:
                return
            for poly in _LATIN[int(rng.integers(len(_LATIN)))]:
                _stroke(cv, x, y, lw, h, poly, colour, width)
            x += lw * 1.12
        x += h * 0.5


def _kana_line(cv, rng, x0, x1, y, h, colour, width) -> None:
    x = x0
    while x + h <= x1 + 1e-6:
        n = int(rng.integers(2, 5))
        for j in rng.choice(len(_KANA_STROKES), size=n, replace=False):
            _stroke(cv, x, y, h * 0.9, h, _KANA_STROKES[int(j)], colour, width)
        x += h * 1.15


def _deva_line(cv, rng, x0, x1, y, h, colour, width) -> None:
    x = x0
    while True:
        n = int(rng.integers(2, 5))
        lw = h * 0.62
        if x + lw > x1:
            return
        n = min(n, int((x1 - x) // lw))
        cv.line([(x, y), (x + n * lw, y)], colour, width * 1.2)  # the top bar
        for k in range(n):
            for poly in _DEVA[int(rng.integers(len(_DEVA)))]:
                _stroke(cv, x + k * lw, y, lw, h, poly, colour, width)
        x += n * lw + h * 0.45
