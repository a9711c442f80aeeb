"""Tag agreement: does the model use the same *kinds* of cues people name?

With a concept-prompted segmenter (SAM3) every element carries a cue tag (:attr:`geoquiz.types.Element.tag`),
so the model's evidence on an item is a distribution over :data:`geoquiz.types.CUE_TAGS`, just as the
participants' cue boxes are. This compares the two distributions kind by kind, regardless of where
the boxes are (the box measures in :mod:`geoquiz.agreement.rows` cover where).

Per item (rows of :func:`item_tag_rows`):

* ``model_tag_share`` (reference ``''``, one row per tag present): the share of the item's named
  elements (over all views) with that tag; every element counts once; ``n`` = named elements.
  Elements without a tag (segmenters that do not name segments) are left out, and an item without
  named elements gets no tag rows.
* ``ref_tag_share`` (reference ``human`` or ``planted``): for people, each trial that drew boxes
  gives the shares of its boxes' tags and the item's distribution is the mean over those trials, so
  every participant weighs the same however many boxes they drew (``n`` = trials); for GeoScenes'
  planted cues, the shares of the planted cues' tags (``n`` = cues).
* ``tag_agreement``: the histogram intersection ``sum_t min(model_t, ref_t)`` = 1 - total variation
  distance, in [0, 1]: 1 when the model names the kinds of cues in the proportions people do, 0 when
  it names none of them;
* ``tag_agreement_chance`` (:func:`item_chance_rows`): the item's reference distribution against the
  model's distribution on every *other* item (mean): what to expect if the model's tags kept their
  habits but ignored this image.

CIs per item: Wilson intervals for the model's shares (elements of that tag out of the named ones),
percentile bootstraps over the item's trials for the human shares and agreement; planted cues are
fixed, so their rows have none.

Overall (rows of :func:`overall_tag_rows`, items with both distributions; 95 % percentile bootstrap
over items, ``n_boot`` resamples with a fixed seed):

* ``model_tag_share`` / ``ref_tag_share`` per tag: the mean share over items (a tag absent from an
  item counts 0), with its CI;
* ``tag_agreement``: the mean over items;
* ``tag_agreement_chance``: the chance baseline -- the same measure with each item's reference
  distribution compared with the model's distribution on every *other* item (mean over all ordered
  pairs of different items): the agreement expected if the model's tags kept their overall
  frequencies but had nothing to do with the image. Needs two items;
* ``tag_agreement_excess``: observed minus chance; its CI comes from the same resamples (paired), so
  an interval above 0 says the model's kinds of cues follow the item, not just its habits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from geoquiz.types import CUE_TAGS, CueBox, Element

SHARE_METRICS = ("model_tag_share", "ref_tag_share")
ITEM_METRICS = (*SHARE_METRICS, "tag_agreement", "tag_agreement_chance")
OVERALL_METRICS = (*ITEM_METRICS, "tag_agreement_excess")


def _row(
    metric: str,
    value: float | None,
    *,
    reference: str = "",
    tag: str = "",
    n: int | None = None,
    ci=(None, None),
):
    return {
        "reference": reference,
        "metric": metric,
        "tag": tag,
        "value": None if value is None else float(value),
        "n": n,
        "ci_low": ci[0],
        "ci_high": ci[1],
    }


def distribution(tags: Iterable[str | None]) -> dict[str, float]:
    """Shares of each cue tag among ``tags`` (None and unknown tags left out), in CUE_TAGS order;
    empty when no tag is left."""
    counts = Counter(t for t in tags if t in CUE_TAGS)
    total = sum(counts.values())
    return {t: counts[t] / total for t in CUE_TAGS if counts[t]} if total else {}


def mean_distribution(dists: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean of several distributions (each weighs the same); empty ones are left out."""
    dists = [d for d in dists if d]
    if not dists:
        return {}
    return {t: v for t in CUE_TAGS if (v := sum(d.get(t, 0.0) for d in dists) / len(dists)) > 0}


def intersection(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Histogram intersection of two tag distributions: ``sum_t min(a_t, b_t)`` in [0, 1]."""
    return float(sum(min(a.get(t, 0.0), b.get(t, 0.0)) for t in CUE_TAGS))


def item_tag_rows(
    elements: Sequence[Element],
    human_trials: Sequence[Sequence[CueBox]],
    planted: Sequence[CueBox],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per-item tag rows (see the module docstring). ``human_trials``: each trial's cue boxes.

    CIs: ``model_tag_share`` gets a Wilson interval (tagged elements of that tag out of all tagged
    elements); the human ``ref_tag_share`` and ``tag_agreement`` a percentile bootstrap over the
    item's trials; planted cues are fixed, so their rows have no interval."""
    from geoquiz.study.accuracy import wilson_interval

    named = [e.tag for e in elements if e.tag in CUE_TAGS]
    model = distribution(named)
    if not model:
        return []
    n = len(named)
    rows = [
        _row("model_tag_share", v, tag=t, n=n, ci=wilson_interval(round(v * n), n)) for t, v in model.items()
    ]
    drew = [distribution(c.tag for c in cues) for cues in human_trials]
    drew = [d for d in drew if d]
    if drew:
        human = mean_distribution(drew)
        draws = np.random.default_rng(seed).integers(0, len(drew), size=(n_boot, len(drew)))
        boot = [mean_distribution([drew[i] for i in d]) for d in draws]
        rows += [
            _row(
                "ref_tag_share",
                v,
                reference="human",
                tag=t,
                n=len(drew),
                ci=_ci(np.array([b.get(t, 0.0) for b in boot])),
            )
            for t, v in human.items()
        ]
        agree = np.array([intersection(model, b) for b in boot])
        rows.append(
            _row("tag_agreement", intersection(model, human), reference="human", n=len(drew), ci=_ci(agree))
        )
    truth = distribution(c.tag for c in planted)
    if truth:
        rows += [
            _row("ref_tag_share", v, reference="planted", tag=t, n=len(planted)) for t, v in truth.items()
        ]
        rows.append(_row("tag_agreement", intersection(model, truth), reference="planted", n=len(planted)))
    return rows


def _distributions(per_item: Mapping[Any, Sequence[Mapping[str, Any]]]):
    """``(model, refs)``: each item's model distribution and, per reference, its reference ones."""
    model: dict[Any, dict[str, float]] = {}
    refs: dict[str, dict[Any, dict[str, float]]] = {}
    for key, rows in per_item.items():
        for r in rows:
            if r["metric"] == "model_tag_share":
                model.setdefault(key, {})[r["tag"]] = r["value"]
            elif r["metric"] == "ref_tag_share":
                refs.setdefault(r["reference"], {}).setdefault(key, {})[r["tag"]] = r["value"]
    return model, refs


def item_chance_rows(per_item: Mapping[Any, Sequence[Mapping[str, Any]]]) -> dict[Any, list[dict[str, Any]]]:
    """Per item and reference, the chance baseline ``tag_agreement_chance``: the item's reference
    distribution against the model's distribution on each *other* item with named elements (mean;
    ``n`` = those items). Items need the per-item rows of every other item, so this runs after them."""
    model, refs = _distributions(per_item)
    out: dict[Any, list[dict[str, Any]]] = {}
    for reference in sorted(refs):
        for key, ref in refs[reference].items():
            others = [m for k, m in model.items() if k != key]
            if key in model and others:
                value = float(np.mean([intersection(m, ref) for m in others]))
                out.setdefault(key, []).append(
                    _row("tag_agreement_chance", value, reference=reference, n=len(others))
                )
    return out


def _pairs_mean(matrix: np.ndarray, idx: np.ndarray) -> float:
    """Mean of ``matrix[a, b]`` over ordered pairs of positions of ``idx`` holding different items."""
    sub = matrix[np.ix_(idx, idx)]
    mask = idx[:, None] != idx[None, :]
    return float(sub[mask].mean()) if mask.any() else float("nan")


def overall_tag_rows(
    per_item: Mapping[Any, Sequence[Mapping[str, Any]]], *, n_boot: int = 1000, seed: int = 0
) -> list[dict[str, Any]]:
    """Overall tag rows from the per-item rows of every item (see the module docstring)."""
    model, refs = _distributions(per_item)
    out: list[dict[str, Any]] = []
    if model:
        out += _share_rows("model_tag_share", "", list(model.values()), n_boot, seed)
    for reference in sorted(refs):
        keys = [k for k in refs[reference] if k in model]
        if not keys:
            continue
        ref_dists = [refs[reference][k] for k in keys]
        out += _share_rows("ref_tag_share", reference, ref_dists, n_boot, seed)
        # matrix[i, j]: item i's reference against item j's model distribution
        matrix = np.array([[intersection(model[kj], refs[reference][ki]) for kj in keys] for ki in keys])
        n = len(keys)
        observed = np.diag(matrix)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, n, size=(n_boot, n))
        obs_boot = observed[draws].mean(axis=1)
        out.append(_row("tag_agreement", observed.mean(), reference=reference, n=n, ci=_ci(obs_boot)))
        if n < 2:
            continue
        chance = _pairs_mean(matrix, np.arange(n))
        chance_boot = np.array([_pairs_mean(matrix, d) for d in draws])
        out.append(_row("tag_agreement_chance", chance, reference=reference, n=n, ci=_ci(chance_boot)))
        out.append(
            _row(
                "tag_agreement_excess",
                observed.mean() - chance,
                reference=reference,
                n=n,
                ci=_ci(obs_boot - chance_boot),
            )
        )
    return out


def _share_rows(metric: str, reference: str, dists: list[dict[str, float]], n_boot: int, seed: int):
    tags = [t for t in CUE_TAGS if any(t in d for d in dists)]
    table = np.array([[d.get(t, 0.0) for t in tags] for d in dists])
    draws = np.random.default_rng(seed).integers(0, len(dists), size=(n_boot, len(dists)))
    boot = table[draws].mean(axis=1)  # (n_boot, tags)
    return [
        _row(metric, table[:, j].mean(), reference=reference, tag=t, n=len(dists), ci=_ci(boot[:, j]))
        for j, t in enumerate(tags)
    ]


def _ci(values: np.ndarray) -> tuple[float | None, float | None]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return (None, None)
    return (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975)))


__all__ = [
    "ITEM_METRICS",
    "OVERALL_METRICS",
    "distribution",
    "intersection",
    "item_chance_rows",
    "item_tag_rows",
    "mean_distribution",
    "overall_tag_rows",
]
