"""Everything the researcher dashboards plot, computed from the project database (Qt-free).

:func:`load_dashboard` gathers, for one model and one study (or every study):

* human vs model top-1 / top-5 accuracy on the same items, with Wilson intervals and the cluster
  bootstrap interval of their difference (:func:`geoquiz.agreement.compare_accuracy`'s measures),
  and top-1 accuracy per class;
* the model's ROC curves, confusion matrix and 2-D feature map from its newest evaluation
  (``model_evaluations.metrics_json``, written by geoquiz.models.evaluation), and a histogram of its
  confidence when right vs wrong;
* the participants' confusion matrix (true class x first guess), Fleiss' kappa of first guesses;
* deletion / insertion accuracy of guided vs random boxes from the newest faithfulness run;
* histograms of the main trials' response times (seconds) and confidence ratings.

A trial is top-1 correct when its first-ranked guess is its item's true class, top-5 correct when
one of its guesses ranked 1 to 5 is its true class (the quiz stores ranks 1, 2, ...; the export's
``top5_correct`` is the same test).

It reads only what the figures show: SQLite counts the trials per item, true class and first guess
(one grouped query, guesses found through the ``guesses (trial_id, rank, label)`` index), bins the
response times and counts the ratings, the faithfulness results and the model's confidences; no
trial is loaded one by one, so the dashboards open in well under a second on 100,000 trials.
As in :mod:`geoquiz.agreement`, an item's true class is that of its first trial. Values are plain
numpy / Python so the plots only draw.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.errors import GeoQuizError
from geoquiz.study import accuracy as ag
from geoquiz.study.review_data import ItemRef, _db, decode_probs, model_row, study_id

#: Bins of the response-time histogram (from 0 s to the 99th percentile, the rest in the last bin).
RT_BINS = 20
#: Bin edges of the model-confidence histogram.
CONFIDENCE_EDGES = np.linspace(0.0, 1.0, 11)


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
class Histogram:
    """``counts[i]`` values in ``[edges[i], edges[i + 1])`` (the last bin includes its right edge),
    ``n`` values in all (``counts.sum()``), ``top`` the largest value (None when there is none)."""

    edges: np.ndarray
    counts: np.ndarray
    top: float | None = None

    @property
    def n(self) -> int:
        return int(self.counts.sum())


def _empty_histogram() -> Histogram:
    return Histogram(np.zeros(1), np.zeros(0, dtype=np.int64))


@dataclass
class DashboardData:
    model: str | None
    study: str | None
    classes: list[str] = field(default_factory=list)
    accuracy: list[Bar] = field(default_factory=list)
    #: top-k -> (model minus people accuracy, items averaged alike, and its 95 % bootstrap interval)
    difference: dict[int, tuple[float | None, tuple[float | None, float | None]]] = field(
        default_factory=dict
    )
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
    #: the model's top-1 probability when right / wrong, binned by :data:`CONFIDENCE_EDGES`
    model_confidence: dict[str, Histogram] = field(default_factory=dict)
    #: main trials' response times in seconds (values above the 99th percentile in the last bin)
    response_times: Histogram = field(default_factory=_empty_histogram)
    #: how many main trials gave each self-rated confidence level (level -> count)
    human_confidence: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the study's ``responses.top_k`` (with every study: the smallest)
    top_k: int = 5
    #: the k of the accuracy bars: 1, and ``top_k`` when it is below the number of classes (with as
    #: many guesses as classes, top-k is trivially 100 %)
    ks: tuple[int, ...] = (1, 5)


def _bar(group: str, series: str, p: ag.Proportion) -> Bar:
    return Bar(group, series, p.rate, p.low, p.high, p.n)


def _proportion(k: float, n: int) -> ag.Proportion:
    """:func:`geoquiz.agreement.proportion` of ``k`` successes in ``n`` (counted by SQLite)."""
    low, high = ag.wilson_interval(float(k), n)
    return ag.Proportion(float(k), n, low, high)


def latest_metrics(db: Any, model: str) -> dict[str, Any] | None:
    """``metrics_json`` of the model's newest evaluation (test split preferred), or None."""
    rows = (
        _db(db)
        .execute(
            "SELECT e.split, e.metrics_json FROM models m JOIN model_evaluations e ON e.model_id = m.id "
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
    one bar per ``method/segmenter`` group and ``test:selection`` series, Wilson CI over results
    (counted by SQLite)."""
    db = _db(db)
    has_kind = "kind" in {r[1] for r in db.execute("PRAGMA table_info(evaluation_runs)")}
    sql = "SELECT r.id FROM models m JOIN evaluation_runs r ON r.model_id = m.id WHERE m.name = ?"
    sql += " AND r.kind = 'grid'" if has_kind else ""
    row = db.execute(sql + " ORDER BY r.id DESC LIMIT 1", [model]).fetchone()
    if row is None:
        return None, []
    groups = db.execute(
        "SELECT method, segmenter, test, selection, sum(correct != 0), count(*) FROM evaluation_results "
        "WHERE run_id = ? GROUP BY method, segmenter, test, selection",
        [row[0]],
    ).fetchall()
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for method, segmenter, test, selection, k, n in groups:
        key = (f"{method}/{segmenter}", f"{test}:{selection}")
        counts[key][0] += int(k)
        counts[key][1] += int(n)
    bars = {key: _proportion(k, n) for key, (k, n) in counts.items()}
    return int(row[0]), [_bar(g, s, p) for (g, s), p in sorted(bars.items())]


def _trials_sql(study: int | None) -> tuple[str, list[Any]]:
    """FROM/WHERE of the main trials of a study (or of every study)."""
    if study is None:
        return "FROM trials t WHERE t.kind = 'main'", []
    return "FROM trials t JOIN sessions s ON s.id = t.session_id WHERE t.kind = 'main' AND s.study_id = ?", [
        study
    ]


@dataclass
class _Item:
    truth: str
    first_trial: int
    n: int = 0
    hits: dict[int, int] = field(default_factory=dict)  # k -> trials with the truth in the first k guesses
    firsts: dict[str, int] = field(default_factory=dict)


def _answer_groups(
    db: Any, study: int | None, top_k: int = 5
) -> tuple[dict[ItemRef, _Item], dict[tuple[str, str], int]]:
    """Per item: its truth (first trial's), trial count, top-1 / top-``top_k`` hits and first guesses;
    and the (true class, first guess) counts of the participants' confusion matrix."""
    source, params = _trials_sql(study)
    first = "(SELECT g.label FROM guesses g WHERE g.trial_id = t.id ORDER BY g.rank LIMIT 1)"
    top5 = (
        "EXISTS (SELECT 1 FROM guesses g WHERE g.trial_id = t.id AND g.rank <= ? AND g.label = t.true_label)"
    )
    params = [int(top_k), *params]  # the ? above comes before the ones of ``source``
    per_trial = (
        f"SELECT t.id, t.image_id, t.location_id, t.true_label, {first} AS first, {top5} AS top5 "
        f"{source} LIMIT -1"
    )  # LIMIT -1: SQLite runs this as a co-routine, so each subquery runs once per trial
    rows = db.execute(
        "SELECT image_id, location_id, true_label, first, count(*), sum(top5), min(id) "  # noqa: S608 - constant fragments
        f"FROM ({per_trial}) GROUP BY image_id, location_id, true_label, first ORDER BY min(id)",
        params,
    ).fetchall()
    items: dict[ItemRef, _Item] = {}
    confusion: dict[tuple[str, str], int] = defaultdict(int)
    for image_id, location_id, truth, guess, n, top5_hits, first_trial in rows:
        if location_id is not None:
            ref = ItemRef("location", int(location_id))
        elif image_id is not None:
            ref = ItemRef("image", int(image_id))
        else:
            continue
        item = items.setdefault(ref, _Item(truth, int(first_trial), hits={1: 0, top_k: 0}))  # in trial order
        item.n += n
        item.hits[1] += n if guess is not None and guess == item.truth else 0
        if top_k != 1:
            item.hits[top_k] += int(top5_hits or 0)
        if guess:  # a first guess (as in geoquiz.agreement: an empty label is no guess)
            item.firsts[guess] = item.firsts.get(guess, 0) + n
            confusion[(truth, guess)] += n
    return items, dict(confusion)


def _model_ranks(
    db: Any, model: str, items: dict[ItemRef, _Item]
) -> tuple[list[str], dict[ItemRef, list[str]], bool]:
    """The model's classes, its ranked classes for the answered items, and whether it has any
    stored prediction at all."""
    info = model_row(db, model)
    ranked: dict[ItemRef, list[str]] = {}
    any_prediction = False
    for image_id, location_id, probs_json in db.execute(
        "SELECT image_id, location_id, probs_json FROM predictions WHERE model_id = ? ORDER BY id",
        [info["id"]],
    ):
        any_prediction = True
        ref = (
            ItemRef("location", int(location_id))
            if location_id is not None
            else ItemRef("image", int(image_id))
        )
        if ref in items:
            p = decode_probs(probs_json, info["classes"])
            ranked[ref] = [c for c, _ in p.topk(len(p.classes))]
    return list(info["classes"]), ranked, any_prediction


def _model_confidence(db: Any, model: str) -> dict[str, Histogram]:
    """The model's confidence when right vs wrong: SQLite counts each distinct confidence, numpy bins
    them (the bins :func:`numpy.histogram` gives the values themselves)."""
    rows = db.execute(
        "SELECT pr.pred_label = pr.true_label, pr.confidence, count(*) FROM models m "
        "JOIN predictions pr ON pr.model_id = m.id WHERE m.name = ? AND pr.true_label IS NOT NULL "
        "GROUP BY 1, 2",
        [model],
    ).fetchall()
    out = {}
    for name, ok in (("right", 1), ("wrong", 0)):
        values = np.array([c for r, c, _ in rows if bool(r) == bool(ok)], dtype=np.float64)
        weights = np.array([n for r, _, n in rows if bool(r) == bool(ok)], dtype=np.int64)
        counts, _ = np.histogram(values, bins=CONFIDENCE_EDGES, weights=weights)
        out[name] = Histogram(
            CONFIDENCE_EDGES, counts.astype(np.int64), float(values.max()) if values.size else None
        )
    return out


def _response_times(db: Any, study: int | None) -> Histogram:
    """Main trials' response times (s): 20 bins from 0 to the 99th percentile (linear interpolation,
    as :func:`numpy.quantile`; the maximum for 20 trials or fewer), counted by SQLite."""
    source, params = _trials_sql(study)
    n, top_ms = db.execute(f"SELECT count(*), max(t.response_time_ms) {source}", params).fetchone()
    if not n:
        return _empty_histogram()
    top = float(top_ms)
    if n > 20:  # the two values around the 99th percentile, found from the top (a short sort)
        pos = (n - 1) * 0.99
        low = int(pos)
        pair = [
            r[0]
            for r in db.execute(
                f"SELECT t.response_time_ms {source} ORDER BY t.response_time_ms DESC LIMIT 2 OFFSET ?",
                [*params, max(n - 2 - low, 0)],
            )
        ][::-1]
        if low + 1 >= n:  # pragma: no cover - pos < n - 1 whenever n > 20
            pair = pair[-1:]
        top = pair[0] + (pos - low) * ((pair[1] if len(pair) > 1 else pair[0]) - pair[0])
    edges = np.linspace(0.0, max(top / 1000.0, 1.0), RT_BINS + 1)
    width = float(edges[-1]) * 1000.0 / RT_BINS
    counts = np.zeros(RT_BINS, dtype=np.int64)
    for b, k in db.execute(
        f"SELECT min(CAST(max(min(t.response_time_ms, ?), 0) / ? AS INTEGER), ?) AS b, count(*) {source} GROUP BY b",
        [float(edges[-1]) * 1000.0, width, RT_BINS - 1, *params],
    ):
        counts[int(b)] += int(k)
    return Histogram(edges, counts, float(top_ms) / 1000.0)


def _human_confidence(db: Any, study: int | None) -> dict[int, int]:
    source, params = _trials_sql(study)
    rows = db.execute(
        f"SELECT t.confidence, count(*) {source} AND t.confidence IS NOT NULL GROUP BY t.confidence",
        params,
    )
    return {int(level): int(k) for level, k in rows}


def _accuracy(
    data: DashboardData, items: dict[ItemRef, _Item], ranked: dict, has_model: bool, n_boot: int
) -> None:
    """People vs model accuracy bars, the difference per k, and top-1 accuracy per class."""
    shared = [r for r, it in items.items() if it.n and (r in ranked or not has_model)]
    for k in data.ks:
        if has_model:
            both = [r for r in shared if r in ranked]
            human = _proportion(sum(items[r].hits[k] for r in both), sum(items[r].n for r in both))
            model_hits = [items[r].truth in ranked[r][:k] for r in both]
            model = _proportion(sum(model_hits), len(both))
            data.accuracy += [_bar(f"top-{k}", "people", human), _bar(f"top-{k}", "model", model)]
            data.n_shared_items = len(both)
            if both:
                per_item = np.array(
                    [[float(m), items[r].hits[k] / items[r].n] for m, r in zip(model_hits, both)]
                )
                diff = float(per_item[:, 0].mean() - per_item[:, 1].mean())
                ci = ag.bootstrap_ci(
                    per_item, lambda a: float(a[:, 0].mean() - a[:, 1].mean()), n_boot=n_boot
                )
                data.difference[k] = (diff, ci)
            else:
                data.difference[k] = (None, (None, None))
        else:
            people = _proportion(sum(it.hits[k] for it in items.values()), sum(it.n for it in items.values()))
            data.accuracy.append(_bar(f"top-{k}", "people", people))
    by_class: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # people k, n; model k, n
    for r in shared:
        counts = by_class[items[r].truth]
        counts[0] += items[r].hits[1]
        counts[1] += items[r].n
        if r in ranked:
            counts[2] += int(ranked[r][:1] == [items[r].truth])
            counts[3] += 1
    for cls in data.classes:
        if cls in by_class and by_class[cls][1]:
            data.per_class.append(_bar(cls, "people", _proportion(by_class[cls][0], by_class[cls][1])))
        if cls in by_class and by_class[cls][3]:
            data.per_class.append(_bar(cls, "model", _proportion(by_class[cls][2], by_class[cls][3])))


def study_top_k(db: Any, study: int | None) -> int:
    """``responses.top_k`` of the study ``study`` (an id), or with None the smallest over every
    installed study (so every answer can reach it); 5 when no study is installed."""
    from geoquiz.study.definition import loads_study

    if study is None:
        rows = _db(db).execute("SELECT definition_toml FROM studies").fetchall()
    else:
        rows = _db(db).execute("SELECT definition_toml FROM studies WHERE id = ?", [study]).fetchall()
    ks = []
    for (text,) in rows:
        try:
            ks.append(loads_study(text).responses.top_k)
        except GeoQuizError:  # a stored definition of another version: ignore it here
            continue
    return min(ks) if ks else 5


def load_dashboard(
    db: Any, *, model: str | None = None, study: str | None = None, n_boot: int = 500
) -> DashboardData:
    """Collect the dashboard data (see the module docstring). ``model`` None: human side only.
    ``n_boot``: bootstrap resamples of the people-vs-model difference."""
    db = _db(db)
    data = DashboardData(model=model, study=study)
    sid = study_id(db, study)
    data.top_k = study_top_k(db, sid)
    items, confusion = _answer_groups(db, sid, data.top_k)
    data.response_times = _response_times(db, sid)
    data.human_confidence = _human_confidence(db, sid)
    ratings = [it.firsts for it in items.values()]
    if items:
        cats = sorted({g for f in ratings for g in f})
        table = np.array([[f.get(c, 0) for c in cats] for f in ratings], dtype=np.int64).reshape(
            len(ratings), len(cats)
        )
        data.kappa = ag.fleiss_kappa(table).kappa
    classes: list[str] = []
    ranked: dict[ItemRef, list[str]] = {}
    has_model = False
    if model is not None:
        classes, ranked, has_model = _model_ranks(db, model, items)
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
        data.model_confidence = _model_confidence(db, model)
        data.faithfulness_run, data.faithfulness = faithfulness_bars(db, model)
    guesses_seen = sorted({g for _, g in confusion} | {it.truth for it in items.values()})
    data.classes = classes or guesses_seen
    data.ks = (1, data.top_k) if 1 < data.top_k < len(data.classes) else (1,)
    _accuracy(data, items, ranked, has_model, n_boot)
    cols = list(data.classes) + [g for g in guesses_seen if g not in data.classes]
    data.human_confusion_guesses = cols
    cm = np.zeros((len(data.classes), len(cols)), dtype=np.int64)
    for (truth, guess), n in confusion.items():
        if truth in data.classes:
            cm[data.classes.index(truth), cols.index(guess)] += n
    data.human_confusion = cm
    return data
