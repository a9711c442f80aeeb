"""Accuracy of people and the model on the same items, and agreement between raters (pure).

* :func:`wilson_interval` and :func:`bootstrap_ci` for proportions and means; :func:`proportion`;
* :func:`topk_correct`, :func:`accuracy`, :func:`per_class_accuracy`;
* :func:`compare_accuracy`: human vs model top-1 / top-k on the same items, with Wilson CIs for each
  and a cluster (item) bootstrap CI for the model-minus-human difference;
* :func:`fleiss_kappa` (Fleiss 1971) on the participants' top-1 guesses, :func:`rating_table`.

Qt-free, torch-free, no database: the dashboards (:mod:`geoquiz.study.dashboard_data`) and the
agreement runs (:mod:`geoquiz.agreement.runs`) both use it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054


# ------------------------------------------------------------------------------------------ answers


@dataclass(frozen=True)
class Proportion:
    """``k`` successes out of ``n`` with a confidence interval ``[low, high]`` (rate None if n = 0)."""

    k: float
    n: int
    low: float | None
    high: float | None

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n else None


def wilson_interval(k: float, n: int, z: float = Z_95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a binomial proportion k/n (default 95 %)."""
    if n <= 0:
        return (None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion(successes: Iterable[bool | int | float], z: float = Z_95) -> Proportion:
    """Count successes (truthy values) and attach a Wilson interval."""
    values = [float(bool(v)) for v in successes]
    k, n = sum(values), len(values)
    low, high = wilson_interval(k, n, z)
    return Proportion(k, n, low, high)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[[np.ndarray], float] = np.mean,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float] | tuple[None, None]:
    """Percentile bootstrap interval of ``stat`` over ``values`` (resampling rows with replacement;
    ``values`` may be 2-D, rows are the resampling unit)."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0:
        return (None, None)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(n_boot, len(arr)))
    stats = np.array([stat(arr[i]) for i in idx], dtype=np.float64)
    stats = stats[np.isfinite(stats)]
    if len(stats) == 0:
        return (None, None)
    return (float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2)))


def topk_correct(ranked: Sequence[str], truth: str, k: int) -> bool:
    """Is ``truth`` among the first ``k`` labels of ``ranked``?"""
    return truth in list(ranked)[:k]


def accuracy(ranked_lists: Sequence[Sequence[str]], truths: Sequence[str], k: int = 1) -> Proportion:
    """Top-k accuracy with a Wilson interval."""
    return proportion(topk_correct(r, t, k) for r, t in zip(ranked_lists, truths, strict=True))


def per_class_accuracy(
    ranked_lists: Sequence[Sequence[str]], truths: Sequence[str], k: int = 1
) -> dict[str, Proportion]:
    """Top-k accuracy per true class (classes sorted by name)."""
    groups: dict[str, list[bool]] = {}
    for r, t in zip(ranked_lists, truths, strict=True):
        groups.setdefault(t, []).append(topk_correct(r, t, k))
    return {c: proportion(groups[c]) for c in sorted(groups)}


@dataclass(frozen=True)
class Comparison:
    """Human vs model top-k accuracy on the same items.

    ``human`` pools every human answer (a trial) on the shared items, ``model`` has one answer per
    item. ``difference`` is model minus human accuracy where human accuracy is first averaged per
    item (so every item weighs the same on both sides); ``difference_ci`` is a cluster bootstrap
    over items.
    """

    k: int
    n_items: int
    human: Proportion
    model: Proportion
    difference: float | None
    difference_ci: tuple[float, float] | tuple[None, None]


def compare_accuracy(
    human: Mapping[object, Sequence[Sequence[str]]],
    model: Mapping[object, Sequence[str]],
    truths: Mapping[object, str],
    k: int = 1,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare top-k accuracy of people and the model on the items both answered.

    ``human[item]`` lists each participant's ranked guesses for the item, ``model[item]`` is the
    model's ranked class list, ``truths[item]`` the true label. Items missing from either side (or
    with no human answer) are left out.
    """
    items = [i for i in human if human[i] and i in model and i in truths]
    human_hits = [[topk_correct(g, truths[i], k) for g in human[i]] for i in items]
    model_hits = [topk_correct(model[i], truths[i], k) for i in items]
    h = proportion(x for hits in human_hits for x in hits)
    m = proportion(model_hits)
    if not items:
        return Comparison(k, 0, h, m, None, (None, None))
    per_item = np.array([[float(mh), float(np.mean(hh))] for mh, hh in zip(model_hits, human_hits)])
    diff = float(per_item[:, 0].mean() - per_item[:, 1].mean())
    ci = bootstrap_ci(per_item, lambda a: float(a[:, 0].mean() - a[:, 1].mean()), n_boot=n_boot, seed=seed)
    return Comparison(k, len(items), h, m, diff, ci)


# ---------------------------------------------------------------------------------- Fleiss' kappa


def rating_table(
    ratings: Mapping[object, Sequence[str]], categories: Sequence[str] | None = None
) -> np.ndarray:
    """Counts table for :func:`fleiss_kappa`: int array (items, categories), ``[i, j]`` = how many
    raters put item ``i`` in category ``j``. Categories default to every label used, sorted."""
    cats = list(categories) if categories is not None else sorted({r for rs in ratings.values() for r in rs})
    index = {c: j for j, c in enumerate(cats)}
    table = np.zeros((len(ratings), len(cats)), dtype=np.int64)
    for i, rs in enumerate(ratings.values()):
        for r in rs:
            if r not in index:
                raise ValueError(f"rating {r!r} is not one of the categories {cats}")
            table[i, index[r]] += 1
    return table


@dataclass(frozen=True)
class Kappa:
    """Fleiss' kappa with its ingredients: ``p_bar`` (mean observed agreement), ``p_e`` (chance)."""

    kappa: float | None
    p_bar: float | None
    p_e: float | None
    n_items: int
    n_ratings: int


def fleiss_kappa(table: np.ndarray) -> Kappa:
    """Fleiss' kappa for a counts table (items x categories), Fleiss (1971).

    P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)), P_bar = mean P_i, p_j = sum_i n_ij / sum n_i,
    P_e = sum_j p_j^2, kappa = (P_bar - P_e) / (1 - P_e). Items rated by fewer than two raters are
    dropped; the number of raters may vary between items (the usual generalisation, identical to
    Fleiss when it is constant). kappa is None when fewer than one item remains or P_e = 1.
    """
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"rating table must be 2-D (items x categories), got shape {t.shape}")
    n_i = t.sum(axis=1)
    t, n_i = t[n_i >= 2], n_i[n_i >= 2]
    if len(t) == 0:
        return Kappa(None, None, None, 0, 0)
    p_i = ((t * t).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_bar = float(p_i.mean())
    p_j = t.sum(axis=0) / n_i.sum()
    p_e = float((p_j * p_j).sum())
    kappa = (p_bar - p_e) / (1 - p_e) if p_e < 1 else None
    return Kappa(kappa, p_bar, p_e, len(t), int(n_i.sum()))


def item_agreement(labels: Sequence[str]) -> float | None:
    """Observed agreement P_i of one item's ratings (share of agreeing rater pairs), None if < 2."""
    n = len(labels)
    if n < 2:
        return None
    counts = np.array(list(Counter(labels).values()), dtype=np.float64)
    return float(((counts * counts).sum() - n) / (n * (n - 1)))


def fleiss_kappa_ci(
    ratings: Mapping[object, Sequence[str]], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[Kappa, tuple[float, float] | tuple[None, None]]:
    """Fleiss' kappa of ``ratings`` (item -> labels) and a percentile bootstrap CI over items."""
    table = rating_table(ratings)
    k = fleiss_kappa(table)
    table = table[table.sum(axis=1) >= 2]
    if k.kappa is None or len(table) < 2:
        return k, (None, None)

    def stat(rows: np.ndarray) -> float:
        value = fleiss_kappa(rows).kappa
        return float("nan") if value is None else value

    return k, bootstrap_ci(table, stat, n_boot=n_boot, seed=seed, alpha=alpha)
