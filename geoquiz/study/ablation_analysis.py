"""Analysis of ablated trials (:mod:`geoquiz.study.ablation`): do people need the model's evidence?

* :func:`load_ablation_trials` -- one row per main trial of an ablation study with its condition,
  participant, item, and whether the true answer was the first guess (``top1``) or among the first
  ``k`` (``topk``, ``k`` = the study's ``responses.top_k``), and the confidence given;
* :func:`load_model_answers` -- the model's own answer on the same prepared pictures
  (``ablation_items``: ``correct``, ``topk_correct``, ``true_prob`` per item x condition);
* :func:`conditions_table` -- per condition: people's top-1 and top-k accuracy (Wilson 95 % CIs over
  trials), mean confidence (bootstrap CI over trials), and the model on the same pictures (top-1 and
  top-k as shares of items with Wilson CIs, mean true-class probability with a bootstrap CI);
* :func:`differences_table` -- paired differences between conditions, ``model - random`` first (the
  headline: the drop when the model's evidence is removed beyond removing the same amount of
  random picture), then ``model - intact`` and ``random - intact``. The pairing unit is the **item**:
  counterbalancing shows every item in every condition to different participants, so each item's
  mean in one condition is compared with its mean in the other (items seen in both), with a
  bootstrap CI over items and a two-sided Wilcoxon signed-rank test; the model's rows pair its
  answers on the same items' pictures.

Timed-out trials count as answers given (their guesses so far), as in the rest of GeoQuiz.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from geoquiz.errors import GeoQuizError
from geoquiz.study.accuracy import bootstrap_ci, proportion

#: The contrasts of :func:`differences_table` (minuend, subtrahend), headline first.
CONTRASTS: tuple[tuple[str, str], ...] = (("model", "random"), ("model", "intact"), ("random", "intact"))
#: People's measures per trial and the model's per item.
PEOPLE_MEASURES = ("top1", "topk", "confidence")
MODEL_MEASURES = ("top1", "topk", "true_prob")

_TRIALS_SQL = """
SELECT t.id, p.code, s.participant_index, t.condition, t.true_label, t.confidence, t.timed_out,
       t.image_id, t.location_id, COALESCE(i.key, l.key),
       (SELECT min(g.rank) FROM guesses g WHERE g.trial_id = t.id AND g.label = t.true_label)
FROM trials t
JOIN sessions s ON s.id = t.session_id
JOIN participants p ON p.id = s.participant_id
LEFT JOIN images i ON i.id = t.image_id
LEFT JOIN locations l ON l.id = t.location_id
WHERE s.study_id = ? AND t.kind = 'main' AND t.condition IS NOT NULL
ORDER BY t.id
"""

TRIAL_COLUMNS = [
    "trial_id",
    "participant",
    "participant_index",
    "condition",
    "label",
    "confidence",
    "timed_out",
    "image_id",
    "location_id",
    "item_key",
    "correct_rank",
    "top1",
    "topk",
]


def _study(db: Any, study: int | str) -> tuple[int, Any]:
    from geoquiz.study.store import get_study

    study_id, definition = get_study(db, study)
    if definition.ablation is None:
        raise GeoQuizError(f"study {definition.slug!r} has no [trials] ablation option: no ablated trials")
    return study_id, definition


def load_ablation_trials(db: Any, study: int | str):
    """The study's main trials with a condition, as a DataFrame (:data:`TRIAL_COLUMNS`)."""
    import pandas as pd

    study_id, definition = _study(db, study)
    k = definition.responses.top_k
    rows = []
    for r in db.execute(_TRIALS_SQL, [study_id]).fetchall():
        rank = r[10]
        rows.append([*r, int(rank == 1), int(rank is not None and rank <= k)])
    df = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    df["confidence"] = df["confidence"].astype(float)
    return df


def session_sets(db: Any, study_id: int) -> list[int]:
    """The prepared sets the study's sessions showed, newest first."""
    ids = set()
    for (text,) in db.execute("SELECT order_json FROM sessions WHERE study_id = ?", [study_id]).fetchall():
        try:
            plan = json.loads(text or "{}").get("ablation")
        except (ValueError, AttributeError):
            plan = None
        if isinstance(plan, dict) and plan.get("set_id") is not None:
            ids.add(int(plan["set_id"]))
    return sorted(ids, reverse=True)


def load_model_answers(db: Any, study: int | str, set_id: int | None = None):
    """The model's answers on the prepared pictures of ``set_id`` (default: the newest set the
    study's sessions showed, else its newest finished set): one row per item x condition with
    ``item_key``, ``image_id``, ``location_id``, ``condition``, ``n_boxes``, ``coverage``,
    ``pred_label``, ``true_prob``, ``top1`` (= ``correct``) and ``topk``."""
    import pandas as pd

    study_id, _ = _study(db, study)
    if set_id is None:
        used = session_sets(db, study_id)
        if used:
            set_id = used[0]
        else:
            row = db.execute(
                "SELECT max(id) FROM ablation_sets WHERE study_id = ? AND status = 'done'", [study_id]
            ).fetchone()
            set_id = row[0]
    columns = ["item_key", "image_id", "location_id", "condition", "n_boxes", "coverage"]
    columns += ["pred_label", "true_prob", "top1", "topk"]
    if set_id is None:
        return pd.DataFrame(columns=["set_id", *columns])
    rows = db.execute(
        "SELECT item_key, image_id, location_id, condition, n_boxes, coverage, pred_label, true_prob, "
        "correct, topk_correct FROM ablation_items WHERE set_id = ? ORDER BY id",
        [int(set_id)],
    ).fetchall()
    df = pd.DataFrame(rows, columns=columns)
    df.insert(0, "set_id", int(set_id))
    return df


def _mean_ci(values, n_boot: int) -> tuple[float, float | None, float | None]:
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if not len(x):
        return (float("nan"), None, None)
    lo, hi = bootstrap_ci(x, n_boot=n_boot)
    return (float(x.mean()), lo, hi)


def conditions_table(trials, model=None, *, n_boot: int = 2000):
    """Per condition (intact, model, random order): people's and the model's accuracy on the same
    pictures (see the module doc). Columns: condition, n_trials, n_items, n_participants, top1,
    top1_lo, top1_hi, topk, topk_lo, topk_hi, confidence, confidence_lo, confidence_hi, model_n_items,
    model_top1 (+ _lo/_hi), model_topk (+ _lo/_hi), model_true_prob (+ _lo/_hi), coverage."""
    import pandas as pd

    from geoquiz.study.ablation_spec import CONDITIONS

    rows = []
    for condition in CONDITIONS:
        g = trials[trials["condition"] == condition]
        m = model[model["condition"] == condition] if model is not None else None
        if not len(g) and (m is None or not len(m)):
            continue
        row: dict = {"condition": condition, "n_trials": len(g)}
        row["n_items"] = int(g["item_key"].nunique())
        row["n_participants"] = int(g["participant"].nunique())
        for name in ("top1", "topk"):
            p = proportion(g[name])
            row.update({name: p.rate, f"{name}_lo": p.low, f"{name}_hi": p.high})
        row["confidence"], row["confidence_lo"], row["confidence_hi"] = _mean_ci(g["confidence"], n_boot)
        if m is not None and len(m):
            row["model_n_items"] = len(m)
            for name in ("top1", "topk"):
                p = proportion(m[name].dropna())
                row.update({f"model_{name}": p.rate, f"model_{name}_lo": p.low, f"model_{name}_hi": p.high})
            mean, lo, hi = _mean_ci(m["true_prob"].astype(float), n_boot)
            row.update({"model_true_prob": mean, "model_true_prob_lo": lo, "model_true_prob_hi": hi})
            row["coverage"] = float(m["coverage"].astype(float).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _wilcoxon(d: np.ndarray) -> float:
    from geoquiz.faithfulness.stats import wilcoxon_paired

    return wilcoxon_paired(d, np.zeros(len(d)))[1]


def item_means(trials, measure: str):
    """``item_key x condition`` means of a people's measure (NaN where an item has no such trial)."""
    return trials.pivot_table(index="item_key", columns="condition", values=measure, aggfunc="mean")


def differences_table(trials, model=None, *, n_boot: int = 2000):
    """Paired differences between conditions per item (see the module doc). Columns: contrast
    (``model - random`` ...), who (``people`` / ``model``), measure, n_items, value (mean of the
    per-item differences), ci_low, ci_high, p_value (Wilcoxon over items)."""
    import pandas as pd

    rows = []
    for a, b in CONTRASTS:
        for who, measures in (("people", PEOPLE_MEASURES), ("model", MODEL_MEASURES)):
            source = trials if who == "people" else model
            if source is None or not len(source):
                continue
            for measure in measures:
                if who == "people":
                    wide = item_means(source, measure)
                else:
                    wide = source.pivot_table(
                        index="item_key", columns="condition", values=measure, aggfunc="mean"
                    )
                if a not in wide or b not in wide:
                    continue
                pair = wide[[a, b]].astype(float).dropna()
                d = (pair[a] - pair[b]).to_numpy()
                if not len(d):
                    continue
                lo, hi = bootstrap_ci(d, n_boot=n_boot)
                rows.append(
                    {
                        "contrast": f"{a} - {b}",
                        "who": who,
                        "measure": measure,
                        "n_items": len(d),
                        "value": float(d.mean()),
                        "ci_low": lo,
                        "ci_high": hi,
                        "p_value": _wilcoxon(d),
                    }
                )
    return pd.DataFrame(
        rows, columns=["contrast", "who", "measure", "n_items", "value", "ci_low", "ci_high", "p_value"]
    )


def analyse(db: Any, study: int | str, *, n_boot: int = 2000) -> dict:
    """Everything for one study: ``trials``, ``model`` (answers on the pictures), ``conditions`` and
    ``differences`` tables."""
    trials = load_ablation_trials(db, study)
    model = load_model_answers(db, study)
    return {
        "trials": trials,
        "model": model,
        "conditions": conditions_table(trials, model, n_boot=n_boot),
        "differences": differences_table(trials, model, n_boot=n_boot),
    }


__all__ = [
    "CONTRASTS",
    "analyse",
    "conditions_table",
    "differences_table",
    "item_means",
    "load_ablation_trials",
    "load_model_answers",
    "session_sets",
]
