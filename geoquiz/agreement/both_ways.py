"""Both ways: does the model need people's cues, and do people need the model's evidence?

Overlap measures (:mod:`geoquiz.agreement.measures`) say where people's boxes and the model's elements
meet; they do not say that either matters. This module puts the two *reliance* measures of one study
side by side, per item and overall, in one tidy table (:func:`both_ways_table`, written by
:func:`write_both_ways`; columns in :mod:`geoquiz.study.export_codebook`, table ``both_ways``):

**model needs people's cues** (``direction = model_needs_people``)
    From a faithfulness run with the ``human`` selection (:mod:`geoquiz.faithfulness.human`): the
    model's true-class probability and accuracy after removing the union of every participant's boxes
    on the item (``test = deletion``; ``insertion`` keeps only them), against random boxes of the
    same count, sizes and coverage. ``removed_minus_random`` below zero (deletion) means removing
    people's cues hurts the model more than removing as much random picture.
**people need the model's evidence** (``direction = people_need_model``)
    From an ablation study (:mod:`geoquiz.study.ablation`): people's top-1 / top-k accuracy and
    confidence on pictures with the model's top elements removed (``removed_value``) against
    pictures with matched random boxes removed (``random_value``); ``removed_minus_random`` below
    zero means people do worse without the model's evidence than without as much random picture.
    Rows with ``who = model`` give the model's own answers on those same pictures.

``scope``: ``item`` (one image or 4-view location) or ``overall`` (items pooled: the mean of the
per-item differences with a bootstrap 95 % CI over items and a two-sided Wilcoxon signed-rank
p-value; for ``model_needs_people`` exactly :func:`geoquiz.faithfulness.stats.compare` of the item
scope). An item's own row has no CI for people (a few trials per condition) and, for the model, the
spread over the random repeats (:func:`geoquiz.faithfulness.human_stats.by_item`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from geoquiz.errors import GeoQuizError

#: Columns of the tidy table, in order (described in export_codebook.TABLES["both_ways"]).
COLUMNS = [
    "direction",
    "scope",
    "study",
    "model",
    "run_id",
    "set_id",
    "image_id",
    "image_key",
    "location_id",
    "location_key",
    "label",
    "who",
    "test",
    "measure",
    "intact_value",
    "removed_value",
    "random_value",
    "removed_minus_random",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "removed_coverage",
    "random_coverage",
]
DIRECTIONS = ("model_needs_people", "people_need_model")


def find_run(db: Any, study: str, model: str | None = None) -> int | None:
    """The newest faithfulness run with people's boxes of ``study`` (of ``model`` when given) that
    has results, or None."""
    from geoquiz.faithfulness.store import list_runs

    for run in list_runs(db, "grid"):
        c = run.config
        if c.get("study") != study or "human" not in c.get("selections", ()):
            continue
        if (model is None or run.model == model) and run.n_units:
            return run.id
    return None


def _keys(db: Any) -> tuple[dict, dict]:
    images = dict(db.execute("SELECT id, key FROM images").fetchall())
    locations = dict(db.execute("SELECT id, key FROM locations").fetchall())
    return images, locations


def _none(v: Any) -> Any:
    if v is None:
        return None
    try:
        return None if np.isnan(v) else v
    except TypeError:
        return v


def model_needs_people(db: Any, study: str, run_id: int, *, n_boot: int = 2000) -> list[dict]:
    """The ``model_needs_people`` rows of run ``run_id`` (item scope of people's boxes)."""
    from geoquiz.faithfulness import human_stats, stats, store

    run = store.get_run(db, run_id)
    df = store.load_run(db, run_id)
    images, locations = _keys(db)
    base = {
        "direction": "model_needs_people",
        "study": study,
        "model": run.model,
        "run_id": run_id,
        "who": "model",
    }
    rows = []
    for r in human_stats.by_item(df, n_boot=n_boot).to_dict(orient="records"):
        loc = _none(r["location_id"])
        image = None if loc is not None else _none(r["image_id"])
        for metric, intact in (("true_prob", "base_true_prob"), ("accuracy", "base_correct")):
            rows.append(
                {
                    **base,
                    "scope": "item",
                    "image_id": image,
                    "image_key": images.get(image),
                    "location_id": loc,
                    "location_key": locations.get(loc),
                    "label": r["label"],
                    "test": r["test"],
                    "measure": metric,
                    "intact_value": r[intact],
                    "removed_value": r[f"guided_{metric}"],
                    "random_value": r[f"random_{metric}"],
                    "removed_minus_random": r[f"diff_{metric}"],
                    "ci_low": r[f"diff_{metric}_lo"],
                    "ci_high": r[f"diff_{metric}_hi"],
                    "p_value": r[f"p_{metric}"],
                    "n": r["n_repeats"],
                    "removed_coverage": r["guided_coverage"],
                    "random_coverage": r["random_coverage"],
                }
            )
    units = stats.per_unit(stats.of_source(df, "human"))
    units = units[units["segmenter"] == "item"]
    cmp = stats.compare(df, n_boot=n_boot, source="human")
    for r in cmp[cmp["segmenter"] == "item"].to_dict(orient="records"):
        sub = units[units["test"] == r["test"]]
        cov = sub.groupby("selection")["coverage"].mean()
        for metric, intact in (("true_prob", "base_true_prob"), ("accuracy", "base_correct")):
            rows.append(
                {
                    **base,
                    "scope": "overall",
                    "test": r["test"],
                    "measure": metric,
                    "intact_value": float(sub[sub["selection"] == "guided"][intact].mean()),
                    "removed_value": r[f"guided_{metric}"],
                    "random_value": r[f"random_{metric}"],
                    "removed_minus_random": r[f"diff_{metric}"],
                    "ci_low": r[f"diff_{metric}_lo"],
                    "ci_high": r[f"diff_{metric}_hi"],
                    "p_value": r[f"p_{metric}"],
                    "n": r["n"],
                    "removed_coverage": float(cov.get("guided", np.nan)),
                    "random_coverage": float(cov.get("random", np.nan)),
                }
            )
    return rows


def _cell(wide, key: Any, column: str) -> float | None:
    """``wide.loc[key, column]`` as a float, None when missing or NaN."""
    if column not in wide or key not in wide.index:
        return None
    return _none(float(wide.loc[key, column]))


def _by_item(source, measure: str):
    """``item_key x condition`` means of ``measure``."""
    return source.pivot_table(index="item_key", columns="condition", values=measure, aggfunc="mean")


def _people_items(trials, model, base: dict, db: Any) -> list[dict]:
    """Per item: people's measures, and the model's on the same pictures, in each condition."""
    refs = _item_refs(trials, model)
    images, locations = _keys(db)
    cov = _by_item(model, "coverage") if len(model) else None
    rows = []
    for who, source, measures in (
        ("people", trials, ("top1", "topk", "confidence")),
        ("model", model, ("top1", "topk", "true_prob")),
    ):
        if not len(source):
            continue
        counts = source.groupby(["item_key", "condition"]).size()
        for measure in measures:
            wide = _by_item(source, measure)
            for key in wide.index:
                image, loc, label = refs.get(key, (None, None, None))
                removed, random = _cell(wide, key, "model"), _cell(wide, key, "random")
                rows.append(
                    {
                        **base,
                        "scope": "item",
                        "image_id": image,
                        "image_key": images.get(image),
                        "location_id": loc,
                        "location_key": locations.get(loc),
                        "label": label,
                        "who": who,
                        "measure": measure,
                        "intact_value": _cell(wide, key, "intact"),
                        "removed_value": removed,
                        "random_value": random,
                        "removed_minus_random": None
                        if removed is None or random is None
                        else removed - random,
                        "n": sum(int(counts.get((key, c), 0)) for c in ("model", "random")),
                        "removed_coverage": None if cov is None else _cell(cov, key, "model"),
                        "random_coverage": None if cov is None else _cell(cov, key, "random"),
                    }
                )
    return rows


def people_need_model(db: Any, study: str, *, n_boot: int = 2000) -> list[dict]:
    """The ``people_need_model`` rows of an ablation study (people, and the model on the same pictures)."""
    from geoquiz.study.ablation_analysis import differences_table, load_ablation_trials, load_model_answers

    trials = load_ablation_trials(db, study)
    model = load_model_answers(db, study)
    set_id = int(model["set_id"].iloc[0]) if len(model) else None
    base = {"direction": "people_need_model", "study": study, "model": _study_model(db, study)}
    base.update(set_id=set_id, test="ablation")
    rows = _people_items(trials, model, base, db)
    coverage = {
        c: _none(float(model[model["condition"] == c]["coverage"].mean())) for c in ("model", "random")
    }
    diffs = differences_table(trials, model, n_boot=n_boot)
    for r in diffs[diffs["contrast"] == "model - random"].to_dict(orient="records"):
        source = trials if r["who"] == "people" else model
        means = source.groupby("condition")[r["measure"]].mean()
        rows.append(
            {
                **base,
                "scope": "overall",
                "who": r["who"],
                "measure": r["measure"],
                "intact_value": _none(float(means.get("intact", np.nan))),
                "removed_value": _none(float(means.get("model", np.nan))),
                "random_value": _none(float(means.get("random", np.nan))),
                "removed_minus_random": r["value"],
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
                "p_value": r["p_value"],
                "n": r["n_items"],
                "removed_coverage": coverage["model"],
                "random_coverage": coverage["random"],
            }
        )
    return rows


def _study_model(db: Any, study: str) -> str | None:
    from geoquiz.study.store import get_study

    definition = get_study(db, study)[1]
    return definition.ablation.model if definition.ablation is not None else None


def _item_refs(trials, model) -> dict:
    refs: dict = {}
    for frame, label_col in ((trials, "label"), (model, None)):
        for r in frame.to_dict(orient="records"):
            known = refs.get(r["item_key"], (None, None, None))
            refs[r["item_key"]] = (
                _none(r.get("image_id")) if known[0] is None else known[0],
                _none(r.get("location_id")) if known[1] is None else known[1],
                r.get(label_col) if label_col and known[2] is None else known[2],
            )
    return refs


def both_ways_table(
    db: Any, study: str, *, run_id: int | None = None, model: str | None = None, n_boot: int = 2000
):
    """The tidy table of both directions for ``study`` (module doc). ``run_id``: the faithfulness
    run with people's boxes (default: :func:`find_run`); either direction is left out when its data
    is missing (no such run; not an ablation study or no ablated trials yet). :class:`GeoQuizError`
    when neither is there."""
    import pandas as pd

    from geoquiz.study.store import get_study

    definition = get_study(db, study)[1]
    rows: list[dict] = []
    run_id = run_id if run_id is not None else find_run(db, study, model)
    if run_id is not None:
        rows += model_needs_people(db, study, run_id, n_boot=n_boot)
    if definition.ablation is not None:
        rows += people_need_model(db, study, n_boot=n_boot)
    if not rows:
        raise GeoQuizError(
            f"nothing to compare both ways for study {study!r}: run `geoquiz evaluate --selections model,human "
            f"--study {study}` (the model needs people's cues) and/or give the study a [trials] ablation "
            "option and run its sessions (people need the model's evidence)"
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("run_id", "set_id", "image_id", "location_id", "n"):
        table[column] = pd.array([None if v != v else v for v in table[column]], dtype="Int64")
    table.attrs["top_k"] = int(definition.responses.top_k)  # the k of the topk rows (figures name it)
    return table


def headline(table) -> dict[str, dict | None]:
    """The two headline numbers: the overall deletion ``true_prob`` row of the model and the overall
    ``top1`` row of people, as dicts (None when missing)."""
    out: dict[str, dict | None] = {}
    for direction, who, test, measure in (
        ("model_needs_people", "model", "deletion", "true_prob"),
        ("people_need_model", "people", "ablation", "top1"),
    ):
        sel = table[
            (table["direction"] == direction)
            & (table["scope"] == "overall")
            & (table["who"] == who)
            & (table["test"] == test)
            & (table["measure"] == measure)
        ]
        out[direction] = sel.iloc[0].to_dict() if len(sel) else None
    return out


#: Bars of :func:`both_ways_charts`: (series name, column, colour).
CHART_SERIES = (
    ("intact", "intact_value", (120, 120, 120)),
    ("evidence removed", "removed_value", (214, 120, 30)),
    ("random removed", "random_value", (170, 170, 170)),
)
#: Groups of the two panels: (direction, who, test, measure, label).
CHART_GROUPS = {
    "model_needs_people": (
        ("model", "deletion", "true_prob", "Model\ntrue-class probability"),
        ("model", "deletion", "accuracy", "Model\naccuracy"),
    ),
    "people_need_model": (
        ("people", "ablation", "top1", "People\ntop-1 accuracy"),
        ("people", "ablation", "topk", "People\ntop-k accuracy"),
        ("model", "ablation", "top1", "Model\ntop-1 accuracy"),
    ),
}
#: Display names of the table's ids (the ids stay in the CSV).
DIRECTION_LABELS = {
    "model_needs_people": "Model needs people's cues",
    "people_need_model": "People need the model's evidence",
}
WHO_LABELS = {"model": "Model", "people": "People"}
TEST_LABELS = {"deletion": "Deletion", "insertion": "Insertion", "ablation": "Ablated trials"}
MEASURE_LABELS = {
    "true_prob": "True-class probability",
    "accuracy": "Accuracy",
    "top1": "Top-1 accuracy",
    "topk": "Top-k accuracy",
    "confidence": "Confidence",
}
TITLES = {
    "model_needs_people": "Model needs people's cues? (their boxes removed)",
    "people_need_model": "People need the model's evidence? (its elements removed)",
}


def both_ways_charts(table) -> list:
    """One bar panel per direction that has data: for each overall measure, the value on intact
    pictures, with the evidence removed and with random boxes of the same coverage removed. The
    whiskers on "evidence removed" are the 95 % CI of its paired difference from "random removed"
    (drawn around the random bar's value), the comparison the measure is about."""
    from geoquiz.faithfulness.figures import BarChart, Series

    charts = []
    overall = table[table["scope"] == "overall"]
    for direction, groups in CHART_GROUPS.items():
        rows = []
        for who, test, measure, label in groups:
            sel = overall[
                (overall["direction"] == direction)
                & (overall["who"] == who)
                & (overall["test"] == test)
                & (overall["measure"] == measure)
            ]
            if len(sel):
                rows.append((label.replace("top-k", f"top-{table.attrs.get('top_k', 'k')}"), sel.iloc[0]))
        if not rows:
            continue
        series = []
        for name, column, colour in CHART_SERIES:
            values = tuple(_float(r[column]) for _, r in rows)
            if column == "removed_value":
                lo = tuple(_float(r["random_value"]) + _float(r["ci_low"]) for _, r in rows)
                hi = tuple(_float(r["random_value"]) + _float(r["ci_high"]) for _, r in rows)
            else:
                lo = hi = tuple(float("nan") for _ in rows)
            series.append(Series(name, values, lo, hi, colour))
        charts.append(
            BarChart(TITLES[direction], "share / probability", tuple(g for g, _ in rows), tuple(series))
        )
    return charts


def _float(value: Any) -> float:
    return float("nan") if value is None or value != value else float(value)


def write_both_ways(table, path: str | Path) -> Path:
    """Write the table as CSV (:func:`geoquiz.csvio.write_csv`: UTF-8, atomic, formula guard)."""
    from geoquiz.csvio import write_csv

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_csv(table, path)
    except OSError as exc:
        raise GeoQuizError(f"cannot write {path}: {exc.strerror or exc}") from exc


__all__ = [
    "COLUMNS",
    "DIRECTIONS",
    "both_ways_charts",
    "both_ways_table",
    "find_run",
    "headline",
    "model_needs_people",
    "people_need_model",
    "write_both_ways",
]
