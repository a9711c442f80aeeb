"""Choosing p (``ElementSettings.top_p``) on the validation split: coverage vs faithfulness.

Paper 000 (section 3.2) keeps "the top-p percentile of pixels ... with p chosen empirically by
evaluating the resulting coverage and faithfulness on a validation set", without the rule. Ours:

* for each candidate p (default 5, 10, 15, 20, 30, 40, 50 %), the elements of one method x segmenter
  (default Grad-CAM++ x default segmenter, the paper's Figure 3 setting) are extracted with that p and
  evaluated with the deletion and insertion tests against ``repeats`` matched random selections;
* **coverage** is the mean union coverage of the boxes; **faithfulness beyond coverage** ("excess")
  is, on the true-class probability averaged per image,
  ``(random deletion - guided deletion) + (guided insertion - random insertion)``.
  Because the random boxes have the same coverage, the excess measures what the attribution adds
  over coverage alone: it is ~0 for tiny p (nothing is removed or kept) and for huge p (the boxes
  cover everything, guided = random), and largest in between;
* the chosen p maximises the excess (ties: the smaller p, i.e. less coverage).

All candidates of one image are scored together in batched passes; the maps and segments come from
the Explainer's cache, so they are computed once per image whatever the number of candidates. The
sweep is stored as an ``evaluation_runs`` row of kind ``p_sweep`` whose summary holds the table and
the choice; :func:`geoquiz.faithfulness.grid.run_grid` records the sweep that chose its p.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from geoquiz.config import ElementSettings
from geoquiz.data.dataset import read_sample
from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness import store
from geoquiz.faithfulness.evaluate import EvalOptions, Selection, evaluate_image
from geoquiz.faithfulness.grid import load_units, validate
from geoquiz.faithfulness.perturb import make_fill
from geoquiz.faithfulness.random import derive_seed
from geoquiz.faithfulness.stats import bootstrap_ci
from geoquiz.faithfulness.store import unit_ids
from geoquiz.progress import Cancelled, Reporter, step

DEFAULT_VALUES: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0)
CRITERION = (
    "max excess = (random_del - guided_del) + (guided_ins - random_ins) of true-class prob; ties -> smaller p"
)


@dataclass(frozen=True)
class SweepResult:
    """``table``: one row per p (columns top_p, n, coverage, n_boxes, guided/random deletion and
    insertion true prob, excess with its bootstrap CI). ``chosen_top_p``: the choice."""

    run_id: int
    chosen_top_p: float
    table: object  # pandas.DataFrame
    criterion: str = CRITERION


def choose(table) -> float:
    """The p with the largest excess; ties (within 1e-12) go to the smaller p. A p whose excess is
    NaN (it could not be measured) is never chosen; :class:`GeoQuizError` when no p has a value."""
    best = None
    for row in table.sort_values("top_p").itertuples():
        excess = float(row.excess)
        if excess != excess:  # NaN
            continue
        if best is None or excess > best[1] + 1e-12:
            best = (float(row.top_p), excess)
    if best is None:
        raise GeoQuizError("the sweep produced no results (no top-p value has a measured excess)")
    return best[0]


def sweep_table(rows: list[dict], *, n_boot: int = 1000):
    """Aggregate the sweep's result rows (with ``tag`` = p and ``unit``) into the per-p table."""
    import pandas as pd

    df = pd.DataFrame(rows)
    per = df.groupby(["tag", "unit", "test", "selection"], as_index=False)[
        ["true_prob", "coverage", "n_boxes"]
    ].mean()
    out = []
    for p, g in per.groupby("tag", sort=True):
        wide = g.pivot_table(index="unit", columns=["test", "selection"], values="true_prob")
        excess = (wide[("deletion", "random")] - wide[("deletion", "guided")]) + (
            wide[("insertion", "guided")] - wide[("insertion", "random")]
        )
        mean, lo, hi = bootstrap_ci(excess.to_numpy(), n_boot=n_boot)
        guided = g[(g["selection"] == "guided") & (g["test"] == "deletion")]
        out.append(
            {
                "top_p": float(p),
                "n": int(len(wide)),
                "coverage": float(guided["coverage"].mean()),
                "n_boxes": float(guided["n_boxes"].mean()),
                "guided_deletion": float(wide[("deletion", "guided")].mean()),
                "random_deletion": float(wide[("deletion", "random")].mean()),
                "guided_insertion": float(wide[("insertion", "guided")].mean()),
                "random_insertion": float(wide[("insertion", "random")].mean()),
                "excess": mean,
                "excess_lo": lo,
                "excess_hi": hi,
            }
        )
    return pd.DataFrame(out)


def sweep_top_p(
    project,
    model_name: str,
    dataset: str,
    *,
    split: str = "val",
    method: str = "gradcampp",
    segmenter: str = "default",
    values: Sequence[float] = DEFAULT_VALUES,
    fill: str = "blur",
    repeats: int = 3,
    seed: int = 0,
    params: ElementSettings | None = None,
    limit: int | None = None,
    batch_size: int = 32,
    apply: bool = False,
    reporter: Reporter | None = None,
    device: str = "auto",
    explainer=None,
    method_params: dict | None = None,
) -> SweepResult:
    """Sweep ``top_p`` over ``values`` on ``dataset``/``split`` (see module doc) and store the run.

    With ``apply=True`` the chosen p is written to the project's settings (``[elements] top_p``).
    ``method_params``: as for :func:`geoquiz.faithfulness.grid.run_grid` (recorded, resolved, in the
    sweep's configuration).
    """
    from geoquiz.faithfulness.grid import _explainer_with
    from geoquiz.models.store import load_project_model, model_id

    values = sorted({float(v) for v in values})
    if not values or any(not 0 < v <= 100 for v in values):
        raise GeoQuizError(f"top-p values must be percentages in (0, 100], got {values}")
    validate([method], [segmenter], fill, max(repeats, 1))
    if repeats < 1:
        raise GeoQuizError(
            "the sweep needs at least one random repeat to measure faithfulness beyond coverage"
        )
    params = params or project.settings.elements
    db = project.db
    explainer = _explainer_with(project, model_name, device, explainer, method_params)
    explainer.check_segmenters([segmenter])  # a bad SAM checkpoint stops here, before the run
    loaded = load_project_model(project, model_name, device=device)
    units = load_units(db, dataset, split, loaded.spec.n_views, limit)
    from geoquiz.data.dataset import get_dataset

    fill_obj = make_fill(fill)
    if fill == "mean":
        from geoquiz.faithfulness.grid import _mean_fill_colour

        fill_obj = make_fill("mean", colour=_mean_fill_colour(units, reporter))
    config = {
        "model": model_name,
        "dataset": dataset,
        "split": split,
        "method": method,
        "segmenter": segmenter,
        "values": values,
        "fill": fill,
        "fill_params": fill_obj.params(),
        "repeats": repeats,
        "seed": seed,
        "params": dataclasses.asdict(params),
        "limit": limit,
        "criterion": CRITERION,
        "method_params": explainer.resolved_method_params([method]),
    }
    run_id = store.create_run(
        db,
        model_id=model_id(db, model_name),
        dataset_id=get_dataset(db, dataset).id,
        split=split,
        config=config,
        kind="p_sweep",
    )
    options = EvalOptions(repeats=repeats, seed=seed, curves=False, batch_size=batch_size)
    try:
        rows = _run(units, loaded, explainer, method, segmenter, values, params, fill_obj, options, reporter)
    except Cancelled:
        store.finish_run(db, run_id, "cancelled")
        raise
    except BaseException:
        store.finish_run(db, run_id, "failed")
        raise
    if not rows:
        store.finish_run(db, run_id, "failed")
        raise GeoQuizError(f"no image of {dataset}/{split} has a label the model knows")
    table = sweep_table(rows)
    chosen = choose(table)
    summary = {"points": table.to_dict(orient="records"), "chosen_top_p": chosen, "criterion": CRITERION}
    store.finish_run(db, run_id, "done", summary)
    if apply:
        settings = project.settings
        project.save_settings(
            dataclasses.replace(settings, elements=dataclasses.replace(settings.elements, top_p=chosen))
        )
    return SweepResult(run_id, chosen, table)


def _run(
    units, loaded, explainer, method, segmenter, values, params, fill_obj, options, reporter
) -> list[dict]:
    from geoquiz.faithfulness.engine import ImageFrame

    rows: list[dict] = []
    for i, unit in enumerate(units):
        step(reporter, i, len(units), f"top-p sweep: {unit.key}")
        if unit.label not in loaded.spec.classes:
            continue
        maps = explainer.heatmaps(unit, method)
        selections = [
            Selection(
                method,
                segmenter,
                tuple(explainer.elements(unit, method, segmenter, _with_p(params, p))),
                tag=p,
            )
            for p in values
        ]
        image_id, location_id = unit_ids(unit)
        key = image_id if location_id is None else location_id
        frame = ImageFrame(
            loaded,
            read_sample(unit),
            fill_obj,
            box_frame=tuple(maps[0].values.shape[:2]),
            seed=derive_seed(options.seed, key, "fill"),
        )
        result = evaluate_image(frame, loaded.class_index(unit.label), selections, key, options)
        rows.extend({**r, "unit": key} for r in result.rows)
    step(reporter, len(units), len(units), "top-p sweep done")
    return rows


def _with_p(params: ElementSettings, p: float) -> ElementSettings:
    return dataclasses.replace(params, top_p=float(p))


def last_choice(db, model_name: str | None = None) -> dict | None:
    """The newest finished sweep (optionally for one model): ``{"run_id", "top_p", "split", "dataset"}``."""
    for run in store.list_runs(db, kind="p_sweep"):
        if run.status == "done" and (model_name is None or run.model == model_name):
            return {
                "run_id": run.id,
                "top_p": run.summary.get("chosen_top_p"),
                "split": run.split,
                "dataset": run.dataset,
            }
    return None


__all__ = ["DEFAULT_VALUES", "SweepResult", "choose", "last_choice", "sweep_table", "sweep_top_p"]
