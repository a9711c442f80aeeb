"""Curves and AUC on hand-made scores; bootstrap, Wilcoxon and summaries on hand-made results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoquiz.boxes import Box
from geoquiz.faithfulness.curves import auc, mean_curve, prefix_sets, rank_order
from geoquiz.faithfulness.stats import (
    bootstrap_ci,
    compare,
    curve_aucs,
    curve_summary,
    per_class,
    summarise,
    wilcoxon_paired,
)
from geoquiz.types import Element


def _el(rank: int, score: float) -> Element:
    return Element(rank, Box(rank, 0, rank + 1, 1), score, 1.0, 1.0, 1.0, Box(0, 0, 1, 1), 1)


def test_rank_order_and_prefixes():
    els = [_el(2, 0.5), _el(1, 0.9), _el(3, 0.5)]
    assert [e.rank for e in rank_order(els)] == [1, 2, 3]
    assert prefix_sets(["a", "b"], "deletion") == [[], ["a"], ["a", "b"]]
    assert prefix_sets([], "insertion") == [[]]


def test_auc_on_hand_made_scores():
    assert auc([1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert auc([1.0, 1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert auc([1.0, 0.0, 0.0, 0.0]) == pytest.approx(1 / 6)
    assert auc([0.3]) == pytest.approx(0.3)
    # explicit x (coverage): area over [0.1, 0.5] divided by the span 0.4
    assert auc([0.0, 1.0, 1.0], x=[0.1, 0.3, 0.5]) == pytest.approx((0.2 * 0.5 + 0.2 * 1.0) / 0.4)
    with pytest.raises(ValueError):
        auc([])
    with pytest.raises(ValueError):
        auc([1.0, 0.0], x=[0.5, 0.1])


def test_mean_curve_on_a_common_grid():
    m = mean_curve([[1.0, 0.0], [1.0, 1.0, 0.0]], n_points=3)
    np.testing.assert_allclose(m, [1.0, (0.5 + 1.0) / 2, 0.0])
    assert np.isnan(mean_curve([], 4)).all()


def test_bootstrap_ci_and_wilcoxon():
    mean, lo, hi = bootstrap_ci([0.0, 1.0] * 50)
    assert mean == 0.5 and lo < 0.5 < hi and hi - lo < 0.3
    assert bootstrap_ci([0.7, 0.7, 0.7]) == pytest.approx((0.7, 0.7, 0.7))
    assert bootstrap_ci([2.0]) == (2.0, 2.0, 2.0)
    assert all(np.isnan(bootstrap_ci([])))
    stat, p = wilcoxon_paired(np.arange(20) + 1.0, np.zeros(20))
    assert stat == 0.0 and p < 1e-4
    assert wilcoxon_paired([1, 2], [1, 2])[1] == 1.0


def _row(**kw) -> dict:
    keys = ("test", "selection", "repeat", "seed", "coverage", "correct", "true_prob")
    return dict(zip(keys, kw.pop("v"))) | kw


def _results() -> pd.DataFrame:
    """4 images of two classes: guided deletion always wrong, random deletion right 3 times in 4."""
    rows = []
    for image_id, label in ((1, "France"), (2, "France"), (3, "Japan"), (4, "Japan")):
        base = {"run_id": 1, "image_id": image_id, "location_id": None, "label": label, "method": "gradcampp"}
        base |= {
            "segmenter": "default",
            "fill": "blur",
            "base_correct": 1,
            "base_true_prob": 0.9,
            "n_boxes": 2,
        }
        rows.append(_row(v=("deletion", "guided", 0, None, 0.2, 0, 0.1), **base))
        rows.append(_row(v=("insertion", "guided", 0, None, 0.2, 1, 0.8), **base))
        for r in range(4):
            rows.append(_row(v=("deletion", "random", r, r, 0.2 + 0.01 * r, int(r < 3), 0.6), **base))
            rows.append(_row(v=("insertion", "random", r, r, 0.2, 0, 0.2 + 0.1 * (image_id % 2)), **base))
    return pd.DataFrame(rows)


def test_summarise_averages_repeats_per_image():
    s = summarise(_results(), n_boot=200).set_index(["test", "selection"])
    assert list(s["n"]) == [4, 4, 4, 4]
    assert s.loc[("deletion", "guided"), "accuracy"] == 0.0
    assert s.loc[("deletion", "random"), "accuracy"] == pytest.approx(0.75)
    assert s.loc[("deletion", "random"), "accuracy_lo"] == pytest.approx(0.75)  # same value for every image
    assert s.loc[("deletion", "guided"), "accuracy_drop"] == pytest.approx(1.0)
    assert s.loc[("deletion", "random"), "coverage"] == pytest.approx(0.215)
    assert s.loc[("insertion", "random"), "true_prob"] == pytest.approx(0.25)
    ins = s.loc[("insertion", "random")]
    assert ins["true_prob_lo"] <= 0.25 <= ins["true_prob_hi"]


def test_compare_paired_guided_vs_random_and_per_class():
    c = compare(_results(), n_boot=200).set_index("test")
    assert c.loc["deletion", "diff_accuracy"] == pytest.approx(-0.75)
    assert c.loc["insertion", "diff_accuracy"] == pytest.approx(1.0)
    assert c.loc["deletion", "diff_true_prob"] == pytest.approx(-0.5)
    assert bool(c.loc["deletion", "expected"]) and bool(c.loc["insertion", "expected"])
    assert c.loc["deletion", "p_accuracy"] < 0.2
    pc = per_class(_results(), n_boot=200)
    assert set(pc["label"]) == {"France", "Japan"}
    assert list(pc.groupby("label")["n"].sum()) == [8, 8]


def test_curve_aucs_and_summary():
    rows = []
    for image_id in (1, 2):
        for k, p in enumerate([0.9, 0.3, 0.1]):
            ids = {"run_id": 1, "image_id": image_id, "location_id": None, "label": "France", "k": k, "n": 2}
            v = ("deletion", "guided", 0, None, 0.1 * k, int(p > 0.5), p)
            rows.append(_row(v=v, method="m", segmenter="s", **ids))
    curves = pd.DataFrame(rows)
    a = curve_aucs(curves)
    assert list(a["auc_true_prob"]) == pytest.approx([0.4, 0.4])  # (0.9+0.3)/4 + (0.3+0.1)/4
    assert list(a["auc_accuracy"]) == pytest.approx([0.25, 0.25])
    s = curve_summary(curves, n_boot=100)
    assert s.loc[0, "auc"] == pytest.approx(0.4)
    assert s.loc[0, "curve"][0] == pytest.approx(0.9) and s.loc[0, "curve"][-1] == pytest.approx(0.1)
