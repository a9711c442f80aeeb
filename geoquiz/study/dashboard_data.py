"""Everything the researcher dashboards plot, computed from the project database (Qt-free).

:func:`load_dashboard` gathers, for one model and one study (or every study):

* human vs model top-1 / top-5 accuracy on the same items, with Wilson intervals
  (:func:`geoquiz.agreement.compare_accuracy`), and per class;
* the model's ROC curves, confusion matrix, confidence when right vs wrong and 2-D feature map from
  its newest evaluation (``model_evaluations.metrics_json``, written by geoquiz.models.evaluation);
* the participants' confusion matrix (true class x first guess), Fleiss' kappa;
* deletion / insertion accuracy of guided vs random boxes from the newest faithfulness run;
* response times (seconds) and confidence ratings of the main trials.

Values are plain numpy / Python so the plots only draw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.study import accuracy as ag
from geoquiz.study.review_data import _db, load_answers, load_predictions, model_row


@dataclass
class Bar:
    """One bar with its 95 % interval: ``group`` (e.g. a class or top-k), ``series`` (human/model...)."""

    group: str
    series: str
    value: float | None
    low: float | None
    high: float | None
    n: int


@dataclass
class DashboardData:
    model: str | None
    study: str | None
    classes: list[str] = field(default_factory=list)
    accuracy: list[Bar] = field(default_factory=list)
    per_class: list[Bar] = field(default_factory=list)
    n_shared_items: int = 0
    kappa: float | None = None
    roc: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_confusion: np.ndarray | None = None
    human_confusion: np.ndarray | None = None
    human_confusion_guesses: list[str] = field(default_factory=list)
    faithfulness: list[Bar] = field(default_factory=list)
    faithfulness_run: int | None = None
    embedding: dict[str, Any] | None = None
    model_confidence_right: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model_confidence_wrong: np.ndarray = field(default_factory=lambda: np.zeros(0))
    response_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    human_confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    notes: list[str] = field(default_factory=list)


def _bar(group: str, series: str, p: ag.Proportion) -> Bar:
    return Bar(group, series, p.rate, p.low, p.high, p.n)


def latest_metrics(db: Any, model: str) -> dict[str, Any] | None:
    """``metrics_json`` of the model's newest evaluation (test split preferred), or None."""
    rows = (
        _db(db)
        .execute(
            "SELECT e.split, e.metrics_json FROM model_evaluations e JOIN models m ON m.id = e.model_id "
            "WHERE m.name = ? ORDER BY e.id DESC",
            [model],
        )
        .fetchall()
    )
    if not rows:
        return None
    split, text = next((r for r in rows if r[0] == "test"), rows[0])
    try:
        return json.loads(text)
    except ValueError:
        return None


def faithfulness_bars(db: Any, model: str) -> tuple[int | None, list[Bar]]:
    """Accuracy after deletion / insertion of guided vs random boxes (newest grid run of the model):
    one bar per ``method/segmenter`` group and ``test:selection`` series, Wilson CI over results."""
    db = _db(db)
    has_kind = "kind" in {r[1] for r in db.execute("PRAGMA table_info(evaluation_runs)")}
    sql = "SELECT r.id FROM evaluation_runs r JOIN models m ON m.id = r.model_id WHERE m.name = ?"
    sql += " AND r.kind = 'grid'" if has_kind else ""
    row = db.execute(sql + " ORDER BY r.id DESC LIMIT 1", [model]).fetchone()
    if row is None:
        return None, []
    groups: dict[tuple[str, str], list[int]] = {}
    for method, segmenter, test, selection, correct in db.execute(
        "SELECT method, segmenter, test, selection, correct FROM evaluation_results WHERE run_id = ? ORDER BY id",
        [row[0]],
    ):
        groups.setdefault((f"{method}/{segmenter}", f"{test}:{selection}"), []).append(int(correct))
    bars = [_bar(g, s, ag.proportion(v)) for (g, s), v in sorted(groups.items())]
    return int(row[0]), bars


def load_dashboard(
    db: Any, *, model: str | None = None, study: str | None = None, n_boot: int = 500
) -> DashboardData:
    """Collect the dashboard data (see the module docstring). ``model`` None: human side only."""
    db = _db(db)
    data = DashboardData(model=model, study=study)
    answers = load_answers(db, study=study)
    trials = [a for ans in answers.values() for a in ans]
    data.response_times_s = np.array([a.response_time_ms / 1000.0 for a in trials], dtype=np.float64)
    data.human_confidence = np.array([a.confidence for a in trials if a.confidence is not None], dtype=int)
    truths = {ref: ans[0].true_label for ref, ans in answers.items() if ans}
    ratings = {ref: [a.top1 for a in ans if a.top1] for ref, ans in answers.items()}
    data.kappa = ag.fleiss_kappa(ag.rating_table(ratings)).kappa if ratings else None
    classes: list[str] = []
    predictions = {}
    if model is not None:
        info = model_row(db, model)
        classes = list(info["classes"])
        predictions = load_predictions(db, model)
        conf = db.execute(
            "SELECT confidence, pred_label = true_label FROM predictions WHERE model_id = ? AND true_label IS NOT NULL",
            [info["id"]],
        ).fetchall()
        metrics = latest_metrics(db, model)
        if metrics:
            data.roc = metrics.get("roc") or {}
            if metrics.get("confusion") is not None:
                data.model_confusion = np.asarray(metrics["confusion"], dtype=np.int64)
            emb = metrics.get("embedding")
            if emb and emb.get("coords"):
                names = metrics.get("classes") or classes
                labels = [
                    names[i] if isinstance(i, int) and 0 <= i < len(names) else str(i) for i in emb["labels"]
                ]
                data.embedding = {
                    "coords": np.asarray(emb["coords"], dtype=np.float64),
                    "labels": labels,
                    "method": emb.get("method", "pca"),
                    "info": emb.get("info", {}),
                }
        else:
            data.notes.append(f"model {model!r} has no stored evaluation (ROC, confusion, PCA need one)")
        data.model_confidence_right = np.array([c for c, ok in conf if ok], dtype=np.float64)
        data.model_confidence_wrong = np.array([c for c, ok in conf if not ok], dtype=np.float64)
        data.faithfulness_run, data.faithfulness = faithfulness_bars(db, model)
    guesses_seen = sorted({a.top1 for a in trials if a.top1} | set(truths.values()))
    data.classes = classes or guesses_seen
    human = {ref: [a.guesses for a in ans] for ref, ans in answers.items()}
    ranked = {ref: [c for c, _ in p.topk(len(p.classes))] for ref, p in predictions.items()}
    for k in (1, 5):
        if ranked:
            c = ag.compare_accuracy(human, ranked, truths, k, n_boot=n_boot)
            data.accuracy += [_bar(f"top-{k}", "people", c.human), _bar(f"top-{k}", "model", c.model)]
            data.n_shared_items = c.n_items
        else:
            p = ag.proportion(ag.topk_correct(g, truths[r], k) for r, gs in human.items() for g in gs)
            data.accuracy.append(_bar(f"top-{k}", "people", p))
    shared = [r for r in human if human[r] and (r in ranked or not ranked)]
    hum = ag.per_class_accuracy(
        [g for r in shared for g in human[r]], [truths[r] for r in shared for _ in human[r]]
    )
    mod = ag.per_class_accuracy(
        [ranked[r] for r in shared if r in ranked], [truths[r] for r in shared if r in ranked]
    )
    for cls in data.classes:
        if cls in hum:
            data.per_class.append(_bar(cls, "people", hum[cls]))
        if cls in mod:
            data.per_class.append(_bar(cls, "model", mod[cls]))
    cols = list(data.classes) + [g for g in guesses_seen if g not in data.classes]
    data.human_confusion_guesses = cols
    cm = np.zeros((len(data.classes), len(cols)), dtype=np.int64)
    for a in trials:
        if a.top1 and a.true_label in data.classes:
            cm[data.classes.index(a.true_label), cols.index(a.top1)] += 1
    data.human_confusion = cm
    return data
