"""The faithfulness grid: attribution methods x segmenters over one split of a dataset.

:func:`run_grid` evaluates every image (every location for 4-view models) of the split:

1. the image is read and prepared **once** (:class:`~geoquiz.faithfulness.engine.ImageFrame`: the
   model's preprocessing, the fill image);
2. the elements of every method x segmenter come from :class:`geoquiz.explain.Explainer`, whose
   disk + database cache computes each attribution map once per image x method and each
   segmentation once per image x segmenter, reused across the whole grid (and across runs);
3. all tests of all cells (guided and ``repeats`` random selections, deletion and insertion, the
   progressive curves) are scored together in batched forward passes
   (:func:`~geoquiz.faithfulness.evaluate.evaluate_image`);
4. the image's rows are written in **one transaction** with the run's progress.

Steps 1-3 are a per-image job (:class:`geoquiz.faithfulness.jobs.GridJob`) run by an engine
(:mod:`geoquiz.engine`, ``engine=``): the local engine (default, what the app uses) runs it in this
process with the Explainer's cache; the Ray engine runs it on workers that compute each image's
explanation from scratch and send it back with the rows. Step 4 always happens here (one writer):
the explanation goes to the cache (:meth:`geoquiz.explain.Explainer.store_explanation`) in the same
transaction as the image's rows. Seeds are derived per image, so both engines store identical rows.
Every SAM-family segmenter of the grid is loaded (its checkpoint checked) before the run is created.

Runs are **resumable**: with ``resume=True`` (the default) an unfinished run with exactly the same
configuration continues where it stopped (whole images only are ever stored). An image that fails
(a corrupt file ...) is listed in the summary's ``failed`` with its error and the run goes on; a run
that ends with failures is marked ``incomplete`` (resumable: a re-run tries only those images
again). Cancelling (the reporter's token) marks the run ``cancelled``; an error that stops the run
(a missing checkpoint, a lost cluster) marks it ``failed``; both keep what was written. The
finished run's summary holds counts, timings (explanation vs evaluation), the Explainer's cache
statistics, the engine, the top-p used and where it came from, and the guided-vs-random comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from geoquiz.config import ElementSettings
from geoquiz.data.dataset import read_sample
from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness import store
from geoquiz.faithfulness.evaluate import EvalOptions
from geoquiz.faithfulness.human import (
    SCOPES,
    check_sources,
    human_units,
    load_human_boxes,
    selections_of,
    unit_key,
)
from geoquiz.faithfulness.perturb import FILLS, make_fill, mean_colour
from geoquiz.progress import Cancelled, Reporter, step
from geoquiz.types import ImageItem, Location


def _known(kind: str) -> tuple[str, ...] | None:
    try:
        if kind == "method":
            from geoquiz.attribution import METHODS

            return tuple(METHODS)
        from geoquiz.segmentation import SEGMENTERS

        return tuple(SEGMENTERS)
    except ImportError:
        return None


def validate(
    methods: Sequence[str],
    segmenters: Sequence[str],
    fill: str,
    repeats: int,
    selections: Sequence[str] = ("model",),
    study: str | None = None,
    human_scopes: Sequence[str] = SCOPES,
) -> None:
    """Raise :class:`GeoQuizError` naming a bad method, segmenter, fill, repeat count, selection
    source or scope (methods and segmenters are needed only for the model's elements)."""
    check_sources(selections, study, human_scopes)
    if "model" in selections and not methods:
        raise GeoQuizError("choose at least one attribution method")
    if "model" in selections and not segmenters:
        raise GeoQuizError("choose at least one segmenter")
    for kind, names in (("method", methods), ("segmenter", segmenters)):
        known = _known(kind)
        # a segmenter may carry the ``:guided`` suffix; parse_segmenter checks the guided mode itself
        bare = [n.removesuffix(":guided") if kind == "segmenter" else n for n in names]
        bad = [n for n, b in zip(names, bare, strict=True) if known is not None and b not in known]
        if bad:
            raise GeoQuizError(f"unknown {kind}(s) {', '.join(bad)}; known: {', '.join(known or ())}")
    if _known("segmenter") is not None:
        from geoquiz.segmentation import parse_segmenter

        for spec in segmenters:
            parse_segmenter(spec)
    if fill not in FILLS:
        raise GeoQuizError(f"unknown fill {fill!r}; expected one of {', '.join(FILLS)}")
    if repeats < 0:
        raise GeoQuizError(f"repeats must be >= 0, got {repeats}")


def load_units(
    db, dataset: str, split: str, n_views: int, limit: int | None = None
) -> list[ImageItem | Location]:
    """The split's images (single view) or locations (4-view) in key order (``split="all"``: every
    split, e.g. for a study's items wherever they come from). With ``limit``, at most ``limit`` units
    taken round-robin over the classes, so a short run stays class-balanced."""
    from geoquiz.data.dataset import get_dataset, load_items, load_locations

    info = get_dataset(db, dataset)
    if n_views == 4 and info.kind != "4view":
        raise GeoQuizError(f"the model takes 4 views but dataset {dataset!r} is single-view")
    if n_views == 1 and info.kind == "4view":
        raise GeoQuizError(f"the model takes one image but dataset {dataset!r} has 4-view locations")
    which = None if split == "all" else split
    units = load_locations(db, dataset, which) if n_views == 4 else load_items(db, dataset, which)
    if not units:
        raise GeoQuizError(f"dataset {dataset!r} has no images in split {split!r}")
    return balanced(units, limit)


def balanced(units: Sequence, limit: int | None) -> list:
    """At most ``limit`` of ``units`` taken round-robin over their labels (all when ``limit`` is None),
    in key order."""
    if limit is None or limit >= len(units):
        return list(units)
    by_class: dict[str, list] = {}
    for u in units:
        by_class.setdefault(u.label, []).append(u)
    out: list = []
    queues = [list(v) for _, v in sorted(by_class.items())]
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return sorted(out, key=lambda u: u.key)


def _mean_fill_colour(units, reporter: Reporter | None, engine=None) -> list[float]:
    """The split's mean colour (:func:`~geoquiz.faithfulness.perturb.mean_colour`) for the ``mean``
    fill. With a remote ``engine`` the workers read the images and send back per-image sums, which
    are added here in unit order (the same sums in the same order: the same colour)."""
    if engine is None or engine.in_process:

        def images():
            for i, unit in enumerate(units):
                step(reporter, i, len(units), "dataset mean colour")
                pix = read_sample(unit)
                yield from (pix if isinstance(pix, list) else [pix])

        return list(mean_colour(images()))
    from geoquiz.engine import run_items
    from geoquiz.faithfulness.jobs import PixelSumJob

    sums: dict[str, list] = {}
    summary = run_items(
        engine, PixelSumJob(), units, store=lambda u, v: sums.__setitem__(u.key, v), reporter=reporter
    )
    if summary.failures:
        key, error = summary.failures[0]
        raise GeoQuizError(f"cannot compute the dataset mean colour for the mean fill: {key}: {error}")
    total, count = np.zeros(3), 0
    for unit in units:
        for part, n in sums[unit.key]:
            total += part
            count += n
    if count == 0:
        raise GeoQuizError("cannot compute a dataset mean colour from no images")
    return list((total / count).tolist())


def run_grid(
    project,
    model_name: str,
    dataset: str,
    split: str,
    methods: Sequence[str],
    segmenters: Sequence[str],
    *,
    fill: str = "blur",
    repeats: int = 10,
    seed: int = 0,
    params: ElementSettings | None = None,
    reporter: Reporter | None = None,
    fill_params: dict | None = None,
    curves: bool = True,
    curve_repeats: int = 3,
    batch_size: int = 32,
    limit: int | None = None,
    resume: bool = True,
    device: str = "auto",
    top_p_source: dict | None = None,
    explainer=None,
    engine=None,
    method_params: dict | None = None,
    selections: Sequence[str] = ("model",),
    study: str | None = None,
    human_scopes: Sequence[str] = SCOPES,
) -> int:
    """Evaluate ``methods`` x ``segmenters`` on ``dataset``/``split`` and store the results; returns the run id.

    ``selections``: whose boxes are the guided selections, ``model`` (the elements of every method x
    segmenter) and/or ``human`` (the cue boxes participants of ``study`` drew, in the
    ``human_scopes`` trial / item / tag; :mod:`geoquiz.faithfulness.human`). With ``human`` the run
    evaluates only the split's items that have people's boxes, so the model's elements and
    people's boxes are compared on the same items; without ``model`` no explanation is computed
    (``methods`` and ``segmenters`` are then not used and recorded empty).

    ``fill``: one of :data:`~geoquiz.faithfulness.perturb.FILLS` with ``fill_params`` (the ``mean``
    fill's colour defaults to the split's mean colour, computed once and recorded). ``repeats``:
    random selections per image. ``params``: element extraction settings (default: the project's).
    ``curves``/``curve_repeats``: progressive curves for the guided boxes and that many random
    selections. ``limit``: evaluate at most that many images (class-balanced). ``top_p_source``:
    where ``params.top_p`` came from (recorded in the summary; see :mod:`geoquiz.faithfulness.sweep`).
    ``explainer``: an existing :class:`geoquiz.explain.Explainer` for this model (to share its
    cache counters); by default one is made. ``engine``: where the per-image work runs
    (:func:`geoquiz.engine.make_engine`; default the local engine, one image per call).
    ``method_params``: ``{method: {name: value}}`` over the defaults (:mod:`geoquiz.attribution.params`;
    or set them on the ``explainer``). They are resolved once the model is loaded (Score-CAM's
    ``channels="auto"`` becomes a number) and recorded in the run's configuration; an unfinished run
    with the same settings but other method parameters is not resumed: :class:`GeoQuizError` names
    the difference.
    """
    from geoquiz.models.store import load_project_model, model_id

    selections, human_scopes = list(dict.fromkeys(selections)), list(dict.fromkeys(human_scopes))
    validate(methods, segmenters, fill, repeats, selections, study, human_scopes)
    if "model" not in selections:
        methods, segmenters = [], []
    methods, segmenters = list(methods), list(segmenters)
    params = params or project.settings.elements
    db = project.db
    explainer = _explainer_with(project, model_name, device, explainer, method_params)
    explainer.check_segmenters(segmenters)  # a bad SAM checkpoint stops here: no run row, no map
    loaded = load_project_model(project, model_name, device=device)
    human = None
    if "human" in selections:
        units = load_units(db, dataset, split, loaded.spec.n_views)
        boxes = load_human_boxes(db, study)
        units = balanced(human_units(units, boxes), limit)
        if not units:
            raise GeoQuizError(
                f"study {study!r} has no main trials with cue boxes on the items of dataset {dataset!r}, "
                f"split {split!r}: nothing to evaluate people's boxes on"
            )
        human = {unit_key(u): selections_of(boxes[unit_key(u)], human_scopes) for u in units}
    else:
        units = load_units(db, dataset, split, loaded.spec.n_views, limit)
    from geoquiz.data.dataset import get_dataset

    dataset_id = get_dataset(db, dataset).id
    mid = model_id(db, model_name)
    fill_params = dict(fill_params or {})
    config: dict[str, Any] = {
        "model": model_name,
        "dataset": dataset,
        "split": split,
        "methods": methods,
        "segmenters": segmenters,
        "fill": fill,
        "repeats": repeats,
        "seed": seed,
        "params": dataclasses.asdict(params),
        "curves": curves,
        "curve_repeats": curve_repeats if curves else 0,
        "limit": limit,
        "target": "predicted",
        "method_params": explainer.resolved_method_params(methods),
    }
    if selections != ["model"]:  # runs of the model's elements alone keep their former configuration
        config.update(selections=selections, study=study, human_scopes=human_scopes)
    options = EvalOptions(
        repeats=repeats, seed=seed, curves=curves, curve_repeats=curve_repeats, batch_size=batch_size
    )
    config["random_matching"] = {"rel_tol": options.rel_tol, "abs_tol_px": options.abs_tol_px}
    explicit = fill != "mean" or "colour" in fill_params
    if explicit:
        config["fill_params"] = make_fill(fill, **fill_params).params()
    run_id = None
    if resume:
        found = store.find_resumable(
            db,
            model_id=mid,
            dataset_id=dataset_id,
            split=split,
            config=config,
            match_fill_params=explicit,
            ignore=("method_params",),
        )
        if found is not None:
            check_same_method_params(found, config["method_params"])
            run_id, config = found.id, found.config
            fill_params = dict(found.config["fill_params"])
    if fill == "mean" and "colour" not in fill_params:
        fill_params["colour"] = _mean_fill_colour(units, reporter, engine)
    fill_obj = make_fill(fill, **fill_params)
    config["fill_params"] = fill_obj.params()
    if run_id is None:
        run_id = store.create_run(
            db, model_id=mid, dataset_id=dataset_id, split=split, config=config, kind="grid"
        )
    else:
        store.set_status(db, run_id, "running")
    try:
        source = top_p_source or {"kind": "settings"}
        counts = _evaluate_units(
            db,
            run_id,
            units,
            loaded,
            explainer,
            methods,
            segmenters,
            (fill_obj, fill_params),
            params,
            options,
            reporter,
            source,
            engine,
            human,
        )
    except Cancelled:
        store.finish_run(db, run_id, "cancelled")
        raise
    except BaseException:
        store.finish_run(db, run_id, "failed")
        raise
    summary = _summary(db, run_id, counts, params, source, explainer)
    store.finish_run(db, run_id, "incomplete" if counts["failed"] else "done", summary)
    return run_id


def _explainer_with(project, model_name: str, device: str, explainer, method_params: dict | None):
    """The run's Explainer: ``explainer`` (whose method parameters must agree with ``method_params``
    when both are given) or a new one with ``method_params``."""
    from geoquiz.attribution.params import check_method_params, differences

    wanted = check_method_params(method_params)
    if explainer is None:
        from geoquiz.explain import Explainer

        return Explainer(project, model_name, device=device, method_params=wanted)
    if method_params is not None and differences(explainer.method_params, wanted):
        raise GeoQuizError(
            "give the method parameters to run_grid or set them on the explainer, not two different sets: "
            + "; ".join(differences(explainer.method_params, wanted))
        )
    return explainer


def check_same_method_params(run: store.RunInfo, resolved: dict) -> None:
    """Refuse to continue ``run`` with other (resolved) method parameters than it recorded: its maps
    and these would be two different explanations mixed in one run."""
    from geoquiz.attribution.params import describe, differences

    recorded = run.config.get("method_params")
    if recorded is None:  # a run from before the parameters were recorded
        if not any(resolved.get(m) for m in run.config.get("methods", [])):
            return
        raise GeoQuizError(
            f"run #{run.id} did not record its method parameters, so it cannot be continued safely with "
            f"{describe(resolved, run.config.get('methods'))}; start a new run (geoquiz evaluate --new)"
        )
    diff = differences(recorded, resolved)
    if diff:
        raise GeoQuizError(
            f"run #{run.id} (unfinished, same settings) was made with other method parameters: "
            f"{'; '.join(diff)} (recorded -> asked now). Continuing it would mix two kinds of maps in one "
            f"run. Resume it with its own parameters (geoquiz evaluate --resume {run.id}, or pass "
            f"--method-param {' --method-param '.join(_assignments(recorded, diff))}), or start a new "
            "run (--new)."
        )


def _assignments(recorded: dict, diff: list[str]) -> list[str]:
    keys = [d.split(":")[0] for d in diff]
    return [f"{k}={recorded.get(k.split('.')[0], {}).get(k.split('.')[1], '?')}" for k in keys]


def _evaluate_units(
    db,
    run_id,
    units,
    loaded,
    explainer,
    methods,
    segmenters,
    fill,
    params,
    options,
    reporter,
    source,
    engine,
    human=None,
):
    """Run the per-image job over the units not yet in the run and store each image as it arrives."""
    from geoquiz.db import transaction
    from geoquiz.engine import LocalEngine, run_items
    from geoquiz.engine.base import shifted
    from geoquiz.faithfulness.jobs import GridJob

    engine = engine or LocalEngine(batch_size=1)
    fill_obj, fill_params = fill
    stored = store.done_units(db, run_id)
    done_keys = {u.key for u in units if store.unit_ids(u) in stored}
    resumed = len(done_keys)
    counts = {"n_units": len(units), "resumed_from": resumed, "n_variants": 0, "n_forward": 0}
    counts |= {"n_batches": 0, "explain_s": 0.0, "evaluate_s": 0.0, "skipped": [], "failed": []}
    job = GridJob.for_explainer(
        explainer,
        loaded,
        methods,
        segmenters,
        params,
        fill_obj,
        fill_params,
        options,
        in_process=engine.in_process,
        human=human,
    )
    written = 0

    def store_unit(unit, value) -> None:
        nonlocal written
        if value.skipped:
            counts["skipped"].append(unit.key)
            return
        image_id, location_id = store.unit_ids(unit)
        written += 1
        progress = {"done": resumed + written, "total": len(units), "top_p_source": source}
        with transaction(db):
            if value.explanation is not None:
                explainer.store_explanation(unit, value.explanation)
            store.write_unit(db, run_id, image_id, location_id, value.rows, value.curve_rows, progress)
        counts["explain_s"] += value.explain_s
        counts["evaluate_s"] += value.evaluate_s
        counts["n_variants"] += value.n_variants
        counts["n_forward"] += value.n_forward
        counts["n_batches"] += value.n_batches

    summary = run_items(
        engine, job, units, store=store_unit, done_keys=done_keys, reporter=shifted(reporter, resumed)
    )
    counts["failed"] = [{"key": k, "error": e} for k, e in summary.failures]
    counts["engine"] = summary.engine
    step(reporter, len(units), len(units), "done")
    return counts


def _summary(db, run_id: int, counts: dict, params: ElementSettings, top_p_source, explainer) -> dict:
    from geoquiz.faithfulness.stats import compare, segmenter_summary, summarise

    df = store.load_run(db, run_id)
    summary: dict[str, Any] = dict(counts)
    summary["top_p"] = params.top_p
    summary["top_p_source"] = top_p_source or {"kind": "settings"}
    stats = getattr(explainer, "stats", None)
    if stats is not None:
        summary["explainer_stats"] = dict(stats) if isinstance(stats, dict) else _as_dict(stats)
    if len(df):
        summary["results"] = _records(summarise(df, n_boot=1000))
        summary["comparison"] = _records(compare(df, n_boot=1000))
        summary["segmenters"] = _records(segmenter_summary(df, n_boot=1000))
        if (df["selection_source"] == "human").any():
            summary["human_comparison"] = _records(compare(df, n_boot=1000, source="human"))
    return summary


def _as_dict(obj) -> dict:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _records(df) -> list[dict]:
    return [{k: (None if v != v else v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def resume_run(
    project,
    run_id: int,
    *,
    reporter: Reporter | None = None,
    device: str = "auto",
    engine=None,
    method_params: dict | None = None,
) -> int:
    """Continue an unfinished run from its stored configuration (whole images already stored are kept;
    images that failed are tried again), with the method parameters it recorded (on any device:
    Score-CAM's channels were recorded as a number). ``method_params``, when given, must be those
    (:class:`GeoQuizError` naming the difference otherwise). ``engine``: as for :func:`run_grid`."""
    from geoquiz.attribution.params import check_method_params

    run = store.get_run(project.db, run_id)
    if run.kind != "grid":
        raise GeoQuizError(f"run #{run_id} is a {run.kind} run, not a faithfulness grid")
    if run.status == "done":
        raise GeoQuizError(f"run #{run_id} is already finished")
    c = run.config
    recorded = c.get("method_params")
    if method_params is not None:
        asked = {
            m: {**(recorded or {}).get(m, {}), **v} for m, v in check_method_params(method_params).items()
        }
        check_same_method_params(run, {**(recorded or {}), **asked})
    elif recorded is None:
        check_same_method_params(run, {m: _default_params(m) for m in c["methods"]})
    return run_grid(
        project,
        c["model"],
        c["dataset"],
        c["split"],
        c["methods"],
        c["segmenters"],
        fill=c["fill"],
        repeats=c["repeats"],
        seed=c["seed"],
        params=ElementSettings.from_dict(c["params"]),
        reporter=reporter,
        fill_params={k: v for k, v in c.get("fill_params", {}).items()},
        curves=c["curves"],
        curve_repeats=c["curve_repeats"],
        limit=c.get("limit"),
        resume=True,
        device=device,
        top_p_source=run.summary.get("top_p_source"),
        engine=engine,
        method_params=recorded,
        selections=c.get("selections", ["model"]),
        study=c.get("study"),
        human_scopes=c.get("human_scopes", SCOPES),
    )


def _default_params(method: str) -> dict:
    from geoquiz.attribution.params import defaults_of

    return defaults_of(method)
