"""Statistics over stored results: summaries with bootstrap CIs, guided-vs-random paired tests,
per-class breakdowns and curve AUCs.

The statistical **unit is the image** (the location for 4-view models): random selections are first
averaged over their repeats per image (as in the paper: "repeated ten times per image, and the
results are averaged"), so each image contributes one guided and one random value per method x
segmenter x test. Confidence intervals are percentile bootstraps over images (``n_boot`` resamples,
default 2000, fixed seed). The paired test is the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``,
two-sided, zero differences dropped) of guided vs random per image; when every difference is zero
the p-value is reported as 1.

Sources: a run may hold people's cue boxes beside the model's elements (``selection_source``
``human``, :mod:`geoquiz.faithfulness.human`). :func:`summarise`, :func:`per_class`, :func:`compare`
and :func:`segmenter_summary` read the model's rows unless ``source`` says otherwise
(``source="human"``: people's boxes, one cell per scope; ``None``: every row); the per item /
participant / tag tables of people's boxes are in :mod:`geoquiz.faithfulness.human_stats`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KEYS = ["method", "segmenter", "test"]


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = 2000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its percentile-bootstrap ``ci`` interval. NaNs for no values;
    a single value gives a zero-width interval."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return (float("nan"), float("nan"), float("nan"))
    mean = float(x.mean())
    if len(x) == 1:
        return (mean, mean, mean)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (mean, float(lo), float(hi))


def wilcoxon_paired(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of paired samples: ``(statistic, p_value)``.

    Zero differences are dropped; with no non-zero difference the result is ``(nan, 1.0)``.
    """
    from scipy.stats import wilcoxon

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[~np.isnan(d)]
    if len(d) == 0 or np.all(d == 0):
        return (float("nan"), 1.0)
    res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return (float(res.statistic), float(res.pvalue))


def of_source(df, source: str | None = "model"):
    """The rows of ``df`` whose ``selection_source`` is ``source`` (every row for None, and for
    frames without the column, which hold only the model's elements)."""
    if source is None or "selection_source" not in df:
        return df
    return df[df["selection_source"].fillna("model") == source]


def per_unit(df):
    """One row per image (or location) x method x segmenter x test x selection, random repeats averaged.

    Adds ``unit`` (location id when set, else image id). Columns: unit, label, method, segmenter, test,
    selection, correct (mean over repeats), true_prob, coverage, n_boxes, base_correct, base_true_prob,
    n_segments and segment_coverage (NaN when the run did not record them).
    """
    df = df.copy()
    df["unit"] = df["location_id"].where(df["location_id"].notna(), df["image_id"])
    cols = ["correct", "true_prob", "coverage", "n_boxes", "base_correct", "base_true_prob"]
    cols += ["n_segments", "segment_coverage"]
    for c in cols:
        df[c] = df[c].astype(float) if c in df else np.nan
    return df.groupby(["unit", "label", *KEYS, "selection"], as_index=False, sort=True, dropna=False)[
        cols
    ].mean()


def _summary_rows(units, group_keys: list[str], n_boot: int):
    import pandas as pd

    rows = []
    for key, g in units.groupby(group_keys, sort=True):
        acc, acc_lo, acc_hi = bootstrap_ci(g["correct"], n_boot=n_boot)
        prob, prob_lo, prob_hi = bootstrap_ci(g["true_prob"], n_boot=n_boot)
        base_acc = float(g["base_correct"].mean())
        rows.append(
            {
                **dict(zip(group_keys, key if isinstance(key, tuple) else (key,))),
                "n": len(g),
                "accuracy": acc,
                "accuracy_lo": acc_lo,
                "accuracy_hi": acc_hi,
                "true_prob": prob,
                "true_prob_lo": prob_lo,
                "true_prob_hi": prob_hi,
                "base_accuracy": base_acc,
                "base_true_prob": float(g["base_true_prob"].mean()),
                "accuracy_drop": base_acc - acc,
                "coverage": float(g["coverage"].mean()),
                "n_boxes": float(g["n_boxes"].mean()),
                "n_segments": _nanmean(g["n_segments"]),
                "segment_coverage": _nanmean(g["segment_coverage"]),
            }
        )
    return pd.DataFrame(rows)


def _nanmean(values) -> float:
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else float("nan")


#: Columns of :func:`segmenter_summary`.
SEGMENTER_COLUMNS = [
    "method",
    "segmenter",
    "n",
    "segments",
    "segments_lo",
    "segments_hi",
    "segment_coverage",
    "segment_coverage_lo",
    "segment_coverage_hi",
    "elements",
    "elements_lo",
    "elements_hi",
    "element_coverage",
    "element_coverage_lo",
    "element_coverage_hi",
]


def segmenter_summary(df, *, n_boot: int = 2000):
    """What each segmenter gave the grid, per method x segmenter, over images (bootstrap 95% CIs):
    ``segments`` per image (over all views of a location) and ``segment_coverage`` (fraction of
    the pixels inside their union) -- the quantities paper 000 links SAM3's stronger deletion and
    insertion results to -- and the guided selection's ``elements`` (boxes) and ``element_coverage``
    (fraction of the image inside the boxes). ``segments`` / ``segment_coverage`` are NaN for runs
    stored before they were recorded. The model's rows only."""
    import pandas as pd

    units = per_unit(of_source(df))
    guided = units[(units["selection"] == "guided") & (units["test"] == units["test"].min())]
    rows = []
    for (method, segmenter), g in guided.groupby(["method", "segmenter"], sort=True):
        row: dict = {"method": method, "segmenter": segmenter, "n": len(g)}
        for name, col in (
            ("segments", "n_segments"),
            ("segment_coverage", "segment_coverage"),
            ("elements", "n_boxes"),
            ("element_coverage", "coverage"),
        ):
            mean, lo, hi = bootstrap_ci(g[col], n_boot=n_boot)
            row.update({name: mean, f"{name}_lo": lo, f"{name}_hi": hi})
        rows.append(row)
    return pd.DataFrame(rows, columns=SEGMENTER_COLUMNS)


def summarise(df, *, n_boot: int = 2000, source: str | None = "model"):
    """Per method x segmenter x test x selection: n images, mean accuracy and mean true-class
    probability with bootstrap 95% CIs, the unperturbed accuracy, the accuracy drop, mean coverage and
    mean box count. ``df`` is :func:`geoquiz.faithfulness.store.load_run`'s frame; ``source``: see
    the module doc."""
    return _summary_rows(per_unit(of_source(df, source)), [*KEYS, "selection"], n_boot)


def per_class(df, *, n_boot: int = 2000, source: str | None = "model"):
    """:func:`summarise` broken down by true class (column ``label``)."""
    return _summary_rows(per_unit(of_source(df, source)), ["label", *KEYS, "selection"], n_boot)


def compare(df, *, n_boot: int = 2000, source: str | None = "model"):
    """Guided vs random, paired per image, per method x segmenter x test.

    Columns: n, guided/random mean accuracy and true prob, ``diff_accuracy`` and ``diff_true_prob``
    (guided minus random) with bootstrap CIs of the paired differences, Wilcoxon statistic and p-value
    for each, and ``expected`` — whether the direction is the faithful one (deletion: guided lower;
    insertion: guided higher, judged on accuracy, ties broken by the true-class probability).
    ``source``: see the module doc (for people's boxes, the trials or tags of an image are averaged
    first, so the image stays the unit).
    """
    import pandas as pd

    units = per_unit(of_source(df, source))
    rows = []
    for key, g in units.groupby(KEYS, sort=True):
        wide = g.pivot_table(index="unit", columns="selection", values=["correct", "true_prob"])
        if ("correct", "guided") not in wide or ("correct", "random") not in wide:
            continue
        wide = wide.dropna()
        out = dict(zip(KEYS, key))
        out["n"] = len(wide)
        for metric, name in (("correct", "accuracy"), ("true_prob", "true_prob")):
            gd, rd = wide[(metric, "guided")].to_numpy(), wide[(metric, "random")].to_numpy()
            diff, lo, hi = bootstrap_ci(gd - rd, n_boot=n_boot)
            stat, p = wilcoxon_paired(gd, rd)
            out.update(
                {
                    f"guided_{name}": float(gd.mean()) if len(gd) else float("nan"),
                    f"random_{name}": float(rd.mean()) if len(rd) else float("nan"),
                    f"diff_{name}": diff,
                    f"diff_{name}_lo": lo,
                    f"diff_{name}_hi": hi,
                    f"wilcoxon_{name}": stat,
                    f"p_{name}": p,
                }
            )
        sign = -1.0 if out["test"] == "deletion" else 1.0
        d_acc, d_prob = out["diff_accuracy"], out["diff_true_prob"]
        primary = d_acc if d_acc != 0 else d_prob
        out["expected"] = bool(sign * primary > 0)
        rows.append(out)
    return pd.DataFrame(rows)


def curve_aucs(curves):
    """Normalised AUC per image x method x segmenter x test x selection (random repeats averaged).

    ``curves`` is :func:`geoquiz.faithfulness.store.load_curves`'s frame. Columns: unit, label, method,
    segmenter, test, selection, auc_true_prob, auc_accuracy.
    """
    import pandas as pd

    from geoquiz.faithfulness.curves import auc

    c = curves.copy()
    c["unit"] = c["location_id"].where(c["location_id"].notna(), c["image_id"])
    rows = []
    for key, g in c.groupby(["unit", "label", *KEYS, "selection", "repeat"], sort=True):
        g = g.sort_values("k")
        rows.append(
            {
                **dict(zip(["unit", "label", *KEYS, "selection", "repeat"], key)),
                "auc_true_prob": auc(g["true_prob"].to_numpy()),
                "auc_accuracy": auc(g["correct"].astype(float).to_numpy()),
            }
        )
    if not rows:
        return pd.DataFrame(columns=["unit", "label", *KEYS, "selection", "auc_true_prob", "auc_accuracy"])
    per = pd.DataFrame(rows)
    return per.groupby(["unit", "label", *KEYS, "selection"], as_index=False, sort=True)[
        ["auc_true_prob", "auc_accuracy"]
    ].mean()


def curve_summary(curves, *, n_boot: int = 2000, n_points: int = 11):
    """Per method x segmenter x test x selection: mean normalised AUC (true-class probability) with a
    bootstrap CI over images, and the mean curve on ``n_points`` element fractions (``curve`` column,
    a list; x = ``linspace(0, 1, n_points)``)."""
    import pandas as pd

    from geoquiz.faithfulness.curves import mean_curve

    aucs = curve_aucs(curves)
    rows = []
    for key, g in aucs.groupby([*KEYS, "selection"], sort=True):
        mean, lo, hi = bootstrap_ci(g["auc_true_prob"], n_boot=n_boot)
        sub = curves
        for k, v in zip([*KEYS, "selection"], key):
            sub = sub[sub[k] == v]
        per_curve = [
            grp.sort_values("k")["true_prob"].to_numpy()
            for _, grp in sub.groupby(["image_id", "location_id", "repeat"], dropna=False)
        ]
        rows.append(
            {
                **dict(zip([*KEYS, "selection"], key)),
                "n": len(g),
                "auc": mean,
                "auc_lo": lo,
                "auc_hi": hi,
                "curve": mean_curve(per_curve, n_points).tolist(),
            }
        )
    return pd.DataFrame(rows)
