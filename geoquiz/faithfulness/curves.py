"""Progressive deletion / insertion curves in rank order, and their normalised AUC.

For ``n`` ranked boxes, step ``k`` (``0 <= k <= n``) of the **deletion** curve removes the ``k``
best-ranked boxes; step ``k`` of the **insertion** curve keeps only the ``k`` best-ranked boxes (the
rest of the image is filled). So deletion starts at the unperturbed image and ends at the paper's
deletion test; insertion starts from a fully filled image and ends at the paper's insertion test.

Rank order is by decreasing element score, ties broken by ``rank`` (for 4-view models this merges the
views' elements into one global order). Random baseline curves take the random boxes in the order of
the guided boxes they were matched to, so step ``k`` of a random curve has the same count and sizes
as step ``k`` of the guided curve.

**Normalised AUC**: the area under the curve with the x axis the *fraction of elements* ``k / n``
(trapezoidal rule), so the AUC is in ``[0, 1]`` for scores in ``[0, 1]`` whatever ``n`` is. A
faithful ranking gives a *low* deletion AUC (the score drops after the first elements) and a *high*
insertion AUC. With ``n = 0`` the curve is one point and the AUC is that point's score.
:func:`auc` also accepts any x (e.g. coverage) and then divides by the x range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from geoquiz.types import Element

T = TypeVar("T")


def rank_order(elements: Sequence[Element]) -> list[Element]:
    """Elements best first: decreasing score, then increasing rank."""
    return sorted(elements, key=lambda e: (-float(e.score), int(e.rank)))


def prefix_sets(ranked: Sequence[T], test: str) -> list[list[T]]:
    """The ``n + 1`` box lists of a curve: ``ranked[:k]`` for ``k = 0..n``.

    For deletion these are the boxes *removed* at step k, for insertion the boxes *kept* at step k
    (the same lists; :func:`geoquiz.faithfulness.perturb.removal_mask` does the rest).
    """
    if test not in ("deletion", "insertion"):
        raise ValueError(f"unknown test {test!r}")
    return [list(ranked[:k]) for k in range(len(ranked) + 1)]


def auc(scores: Sequence[float], x: Sequence[float] | None = None) -> float:
    """Normalised area under a curve (trapezoidal rule).

    ``scores``: y values in curve order. ``x``: matching x values, increasing; by default
    ``k / n`` for ``k = 0..n``. The area is divided by ``x[-1] - x[0]`` (the mean height of the
    curve), so the result has the units of the scores. One point: returns that score.
    """
    y = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError("auc needs a non-empty 1-D sequence of scores")
    if len(y) == 1:
        return float(y[0])
    xs = np.linspace(0.0, 1.0, len(y)) if x is None else np.asarray(x, dtype=np.float64)
    if xs.shape != y.shape:
        raise ValueError(f"x has {xs.shape[0]} values but there are {y.shape[0]} scores")
    if np.any(np.diff(xs) < 0):
        raise ValueError("x must be non-decreasing")
    span = xs[-1] - xs[0]
    if span <= 0:
        return float(y.mean())
    area = float(np.sum((xs[1:] - xs[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return area / span


def mean_curve(curves: Sequence[Sequence[float]], n_points: int = 11) -> np.ndarray:
    """Average curves of different lengths on a common grid of ``n_points`` element fractions.

    Each curve (scores for ``k = 0..n``) is linearly interpolated at ``linspace(0, 1, n_points)``;
    one-point curves are constant. Returns float64 ``(n_points,)``; NaN when ``curves`` is empty.
    """
    grid = np.linspace(0.0, 1.0, n_points)
    if not curves:
        return np.full(n_points, np.nan)
    rows = []
    for c in curves:
        c = np.asarray(c, dtype=np.float64)
        rows.append(np.full(n_points, c[0]) if len(c) == 1 else np.interp(grid, np.linspace(0, 1, len(c)), c))
    return np.mean(rows, axis=0)
