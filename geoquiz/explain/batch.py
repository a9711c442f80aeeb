"""Explanations of a whole dataset through an engine: :func:`explain_dataset`."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from geoquiz.config import ElementSettings
from geoquiz.errors import GeoQuizError
from geoquiz.explain.cache import SampleExplanation
from geoquiz.explain.explainer import Explainer
from geoquiz.progress import Reporter, step
from geoquiz.types import ImageItem, Location


def explain_dataset(
    project: Any,
    model_name: str,
    dataset: str,
    split: str | None,
    methods: list[str],
    segmenters: list[str],
    *,
    params: ElementSettings | None = None,
    reporter: Reporter | None = None,
    explainer: Explainer | None = None,
    engine: Any = None,
) -> dict[str, Any]:
    """Maps, segments and elements for every image (or 4-view location) of ``dataset``/``split``
    (``None`` = all splits), every method and every segmenter, stored in the project's cache.

    ``engine``: where the per-sample work runs (:mod:`geoquiz.engine`; default the local engine, in
    this process, reusing the cache as the app does). Every SAM-family segmenter is loaded first
    (:meth:`Explainer.check_segmenters`): a bad checkpoint raises before any work. Samples already
    explained with these settings
    are skipped (:meth:`Explainer.explained`); a sample that fails (a corrupt image ...) is listed
    with its error and the run goes on. Returns a summary: counts, elements, every method's resolved
    parameters (``method_params``, as the maps are keyed on), cache statistics, seconds, the engine,
    skipped and failed samples.
    """
    from geoquiz.data.dataset import get_dataset, load_items, load_locations
    from geoquiz.engine import LocalEngine, run_items
    from geoquiz.engine.base import GroupedStore, shifted
    from geoquiz.explain.jobs import ExplainJob

    ex = explainer or Explainer(project, model_name)
    params = params or project.settings.elements
    methods = list(dict.fromkeys(methods))
    segmenters = list(dict.fromkeys(segmenters))
    if not methods or not segmenters:
        raise GeoQuizError("explain needs at least one method and one segmenter")
    ex.check_segmenters(segmenters)  # a bad SAM checkpoint stops here, before any map is computed
    info = get_dataset(project.db, dataset)
    four = ex.n_views == 4
    if four and not info.is_four_view:
        raise GeoQuizError(
            f"model {model_name!r} takes 4-view locations but dataset {dataset!r} has single images"
        )
    samples = load_locations(project.db, dataset, split) if four else load_items(project.db, dataset, split)
    if not samples:
        raise GeoQuizError(
            f"dataset {dataset!r} has no {'locations' if four else 'images'} in split {split or '(all)'}"
        )
    engine = engine or LocalEngine()
    start = time.perf_counter()
    done = ex.explained(samples, methods, segmenters, params)
    job = ExplainJob.for_explainer(ex, methods, segmenters, params, in_process=engine.in_process)
    n_elements = sum(done.values())

    def store(sample: ImageItem | Location, value: Any) -> None:
        nonlocal n_elements
        if isinstance(value, SampleExplanation):
            ex.store_explanation(sample, value)
            n_elements += value.n_elements
        else:  # in process: the Explainer stored it already
            n_elements += int(value)

    # results from workers are stored a group per transaction (one commit per sample would cap the
    # driver); in process the Explainer commits as it computes, as in the app
    grouped = None if engine.in_process else GroupedStore(project.db, store)
    with grouped or contextlib.nullcontext():
        summary = run_items(
            engine,
            job,
            samples,
            store=grouped or store,
            done_keys=done,
            reporter=shifted(reporter, len(done)),
        )
    step(reporter, len(samples), len(samples), "done")
    return {
        "model": model_name,
        "dataset": dataset,
        "split": split,
        "samples": len(samples),
        "methods": list(methods),
        "method_params": ex.resolved_method_params(methods),
        "segmenters": list(segmenters),
        "elements": n_elements,
        "stats": dict(ex.stats),
        "seconds": round(time.perf_counter() - start, 3),
        "engine": summary.engine,
        "explained": summary.done,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "failures": [{"key": k, "error": e} for k, e in summary.failures],
    }
