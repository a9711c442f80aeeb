"""Model metrics against values worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geoquiz.errors import GeoQuizError
from geoquiz.models.metrics import (
    compute_metrics,
    confidence_summary,
    confusion_matrix,
    embed_2d,
    roc_per_class,
    topk_accuracy,
)

# 4 samples, 3 classes. Predictions (argmax, ties -> lower index): 0, 2, 1, 0; truth 0, 1, 1, 2.
PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.4, 0.2]])
LABELS = np.array([0, 1, 1, 2])
CLASSES = ("France", "India", "Japan")


def test_topk_accuracy_by_hand():
    assert topk_accuracy(PROBS, LABELS, 1) == 0.5
    # top-2 sets: {0,1} {2,1} {1,2} {0,1}: the last misses class 2
    assert topk_accuracy(PROBS, LABELS, 2) == 0.75
    assert topk_accuracy(PROBS, LABELS, 5) == 1.0  # k larger than the number of classes
    assert topk_accuracy(np.zeros((0, 3)), np.zeros(0, int), 1) == 0.0


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix(LABELS, PROBS.argmax(1), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 0]]


def test_roc_auc_by_hand():
    roc = roc_per_class(PROBS, LABELS, CLASSES)
    # France: the one positive (0.7) outranks all negatives (0.1, 0.2, 0.4)
    assert roc["France"]["auc"] == pytest.approx(1.0)
    # India: positives 0.3, 0.5 vs negatives 0.2, 0.4 -> 3 of 4 pairs ordered correctly
    assert roc["India"]["auc"] == pytest.approx(0.75)
    # Japan: positive 0.2 vs negatives 0.1, 0.6, 0.3 -> 1 of 3
    assert roc["Japan"]["auc"] == pytest.approx(1 / 3)
    curve = roc["India"]
    assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
    assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(curve["fpr"]) >= 0) and np.all(np.diff(curve["tpr"]) >= 0)


def test_roc_undefined_without_positives():
    roc = roc_per_class(PROBS[:3], LABELS[:3], CLASSES)  # no Japan sample
    assert roc["Japan"] == {"fpr": [], "tpr": [], "auc": None}


def test_confidence_right_vs_wrong_by_hand():
    c = confidence_summary(PROBS, LABELS, bins=10)
    assert c["mean_right"] == pytest.approx((0.7 + 0.5) / 2)
    assert c["mean_wrong"] == pytest.approx((0.6 + 0.4) / 2)
    assert (c["n_right"], c["n_wrong"]) == (2, 2)
    assert sum(c["hist_right"]) == 2 and c["hist_right"][7] == 1 and c["hist_right"][5] == 1
    assert c["hist_wrong"][6] == 1 and c["hist_wrong"][4] == 1


def test_pca_of_points_on_a_line():
    feats = np.array([[0, 0, 1], [1, 1, 1], [2, 2, 1], [3, 3, 1]], dtype=float)
    coords, info = embed_2d(feats, "pca")
    assert np.abs(coords[:, 0]).tolist() == pytest.approx(np.array([1.5, 0.5, 0.5, 1.5]) * np.sqrt(2))
    assert np.abs(coords[:, 1]).max() < 1e-9
    assert info["explained_variance_ratio"][0] == pytest.approx(1.0)


def test_tsne_option_and_errors():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 0.1, (6, 8)), rng.normal(5, 0.1, (6, 8))])
    coords, info = embed_2d(feats, "tsne", seed=0)
    assert coords.shape == (12, 2) and np.isfinite(coords).all()
    assert info["perplexity"] == pytest.approx(11 / 3)
    # two well-separated clusters stay separated
    a, b = coords[:6].mean(0), coords[6:].mean(0)
    spread = max(np.linalg.norm(coords[:6] - a, axis=1).max(), np.linalg.norm(coords[6:] - b, axis=1).max())
    assert np.linalg.norm(a - b) > spread
    with pytest.raises(GeoQuizError, match="t-SNE needs at least 5"):
        embed_2d(feats[:3], "tsne")
    with pytest.raises(GeoQuizError, match="unknown embedding"):
        embed_2d(feats, "umap")


def test_compute_metrics_is_json_and_complete():
    feats = np.arange(12, dtype=float).reshape(4, 3)
    m = compute_metrics(PROBS, LABELS, CLASSES, features=feats)
    assert json.loads(json.dumps(m)) == m
    assert m["n"] == 4 and m["top1"] == 0.5 and m["top5"] == 1.0
    assert m["per_class_accuracy"] == {"France": 1.0, "India": 0.5, "Japan": 0.0}
    assert m["macro_auc"] == pytest.approx((1 + 0.75 + 1 / 3) / 3)
    assert m["confusion"] == [[1, 0, 0], [0, 1, 1], [1, 0, 0]]
    assert len(m["embedding"]["coords"]) == 4 and m["embedding"]["labels"] == [0, 1, 1, 2]


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="labels must be class indices"):
        topk_accuracy(PROBS, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="probs must be"):
        topk_accuracy(PROBS[0], LABELS)
