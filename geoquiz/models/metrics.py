"""Model metrics (paper 003, sections 5-6): top-k accuracy, per-class one-vs-rest ROC and AUC,
confusion matrix, mean confidence when right vs wrong, and a 2-D map of penultimate features
(PCA, or t-SNE as an option). Pure numpy + scikit-learn; every result is JSON-able plain data.

Inputs: ``probs`` float ``(N, C)`` class probabilities (rows sum to 1), ``labels`` int ``(N,)`` true
class indices in ``[0, C)``, ``features`` float ``(N, D)``. Ties in top-k are broken by class order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from geoquiz.errors import GeoQuizError


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"probs must be (N, C) and labels (N,), got {probs.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError(f"labels must be class indices in [0, {probs.shape[1]})")
    return probs, labels


def topk_accuracy(probs: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of rows whose true class is among the ``k`` most probable (0.0 for no rows)."""
    probs, labels = _check(probs, labels)
    if len(labels) == 0:
        return 0.0
    k = min(k, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(order == labels[:, None], axis=1)))


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 ``(C, C)``: row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)), 1)
    return cm


def roc_per_class(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One-vs-rest ROC per class: ``{class: {"fpr": [...], "tpr": [...], "auc": float | None}}``.

    The score of class c is ``probs[:, c]``; a class without positives or without negatives has
    no curve (``auc`` None, empty lists).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    probs, labels = _check(probs, labels)
    out: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(classes):
        truth = labels == c
        if truth.all() or not truth.any():
            out[name] = {"fpr": [], "tpr": [], "auc": None}
            continue
        fpr, tpr, _ = roc_curve(truth, probs[:, c])
        out[name] = {
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            "auc": float(roc_auc_score(truth, probs[:, c])),
        }
    return out


def confidence_summary(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Confidence (top-1 probability) when the top-1 guess is right vs wrong.

    ``mean_right``/``mean_wrong`` are None when there is no such row; ``hist_right``/``hist_wrong``
    count rows per bin of ``bin_edges`` (``bins`` equal bins over [0, 1]).
    """
    probs, labels = _check(probs, labels)
    conf = probs.max(axis=1) if len(labels) else np.zeros(0)
    right = probs.argmax(axis=1) == labels if len(labels) else np.zeros(0, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)

    def hist(values: np.ndarray) -> list[int]:
        # bin i holds [i/bins, (i+1)/bins); the epsilon keeps 0.7 in bin 7 despite float rounding
        idx = np.clip(np.floor(values * bins + 1e-9).astype(int), 0, bins - 1)
        return np.bincount(idx, minlength=bins).astype(int).tolist()

    return {
        "mean_right": float(conf[right].mean()) if right.any() else None,
        "mean_wrong": float(conf[~right].mean()) if (~right).any() else None,
        "n_right": int(right.sum()),
        "n_wrong": int((~right).sum()),
        "bin_edges": edges.tolist(),
        "hist_right": hist(conf[right]),
        "hist_wrong": hist(conf[~right]),
    }


def embed_2d(features: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """2-D coordinates ``(N, 2)`` of ``features`` ``(N, D)`` plus info (PCA: explained variance ratios).

    ``pca``: projection on the first two principal components (centred, not whitened). ``tsne``:
    scikit-learn t-SNE (PCA initialisation, perplexity min(30, (N - 1) / 3), seeded).
    """
    x = np.asarray(features, dtype=np.float64)
    n = x.shape[0]
    if method == "pca":
        if n < 2:
            raise GeoQuizError(f"PCA needs at least 2 samples, got {n}")
        from sklearn.decomposition import PCA

        k = min(2, x.shape[1], n)
        pca = PCA(n_components=k, svd_solver="full", random_state=seed)
        coords = pca.fit_transform(x)
        if k < 2:
            coords = np.pad(coords, ((0, 0), (0, 2 - k)))
        return coords, {"method": "pca", "explained_variance_ratio": pca.explained_variance_ratio_.tolist()}
    if method == "tsne":
        if n < 5:
            raise GeoQuizError(f"t-SNE needs at least 5 samples, got {n}")
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (n - 1) / 3.0))
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
        return coords, {"method": "tsne", "perplexity": perplexity}
    raise GeoQuizError(f"unknown embedding method {method!r}; use 'pca' or 'tsne'")


def compute_metrics(
    probs: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    features: np.ndarray | None = None,
    embedding: str = "pca",
    seed: int = 0,
) -> dict[str, Any]:
    """All metrics of one evaluation as a JSON-able dict.

    Keys: ``n``, ``classes``, ``top1``, ``top5``, ``per_class_accuracy`` (recall per class, None
    without samples), ``confusion`` (C x C lists, rows true), ``roc`` (see :func:`roc_per_class`),
    ``macro_auc`` (mean of the defined AUCs), ``confidence`` (see :func:`confidence_summary`) and,
    with ``features``, ``embedding`` = ``{"method", "coords": N x 2, "labels": N, "info"}``.
    """
    probs, labels = _check(probs, labels)
    classes = list(classes)
    preds = probs.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    cm = confusion_matrix(labels, preds, len(classes))
    support = cm.sum(axis=1)
    roc = roc_per_class(probs, labels, classes)
    aucs = [r["auc"] for r in roc.values() if r["auc"] is not None]
    out: dict[str, Any] = {
        "n": int(len(labels)),
        "classes": classes,
        "top1": topk_accuracy(probs, labels, 1),
        "top5": topk_accuracy(probs, labels, 5),
        "per_class_accuracy": {
            c: (float(cm[i, i] / support[i]) if support[i] else None) for i, c in enumerate(classes)
        },
        "confusion": cm.tolist(),
        "roc": roc,
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "confidence": confidence_summary(probs, labels),
    }
    if features is not None and len(labels) >= 2:
        coords, info = embed_2d(features, embedding, seed)
        out["embedding"] = {
            "method": embedding,
            "coords": coords.tolist(),
            "labels": labels.tolist(),
            "info": info,
        }
    return out
