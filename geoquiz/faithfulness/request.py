"""One faithfulness evaluation as the CLI and the app ask for it: the request and its policy.

    request = GridRequest("r50", "geoscenes", "test", methods=("gradcampp",), choose_p=True)
    outcome = run_request(project, request, reporter=reporter)
    outcome.run_id, outcome.sweep          # the grid run, and the top-p sweep that chose its p

The policy, in one place for every front end:

1. the element settings are the project's (``[elements]``), with ``top_p`` replaced when the request
   gives one;
2. with ``choose_p``, p is first chosen on the **val** split by :func:`~geoquiz.faithfulness.sweep.sweep_top_p`
   (Grad-CAM++ when it is among the methods, else the first method; the first segmenter; the
   request's fill, seed, limit, device and sweep values) and the grid records that sweep as the
   source of its p;
3. the grid (:func:`~geoquiz.faithfulness.grid.run_grid`) then runs every method x segmenter on the
   request's split, resuming an unfinished run with the same configuration unless ``resume`` is off.

``selections`` says whose boxes are tested: ``("model",)`` (the default: the model's elements),
``("model", "human")`` (also the cue boxes the participants of ``study`` drew, per trial, per item
and per cue tag, on the same items; :mod:`geoquiz.faithfulness.human`) or ``("human",)`` (people's
boxes alone: no explanation is computed and no top-p is chosen).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness.human import SCOPES, check_sources, study_row_id
from geoquiz.faithfulness.sweep import DEFAULT_VALUES, SweepResult
from geoquiz.progress import Reporter

SWEEP_SPLIT = "val"


@dataclass(frozen=True)
class GridRequest:
    """What to evaluate. ``top_p``: None = the project's setting. ``limit``: at most that many
    images (class-balanced), None = all. ``method_params``: ``{method: {name: value}}`` over the
    defaults (:mod:`geoquiz.attribution.params`), used by the sweep and the grid alike. The other
    fields are :func:`run_grid`'s."""

    model_name: str
    dataset: str
    split: str = "test"
    methods: tuple[str, ...] = ("gradcampp",)
    segmenters: tuple[str, ...] = ("default",)
    fill: str = "blur"
    repeats: int = 10
    seed: int = 0
    top_p: float | None = None
    choose_p: bool = False
    sweep_values: tuple[float, ...] = DEFAULT_VALUES
    limit: int | None = None
    curves: bool = True
    curve_repeats: int = 3
    batch_size: int = 32
    resume: bool = True
    device: str = "auto"
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    selections: tuple[str, ...] = ("model",)
    study: str | None = None
    human_scopes: tuple[str, ...] = SCOPES

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "segmenters", tuple(self.segmenters))
        object.__setattr__(self, "sweep_values", tuple(float(v) for v in self.sweep_values))
        object.__setattr__(self, "selections", tuple(dict.fromkeys(self.selections)))
        object.__setattr__(self, "human_scopes", tuple(dict.fromkeys(self.human_scopes)))

    @property
    def with_model(self) -> bool:
        """Are the model's elements among the selections (then methods and segmenters count)?"""
        return "model" in self.selections

    @property
    def sweep_method(self) -> str:
        """The method the top-p sweep uses: Grad-CAM++ when requested (the paper's Figure 3), else the first."""
        return "gradcampp" if "gradcampp" in self.methods else self.methods[0]


@dataclass(frozen=True)
class GridOutcome:
    run_id: int
    sweep: SweepResult | None = None


def _prefixed(reporter: Reporter | None, prefix: str) -> Reporter | None:
    if reporter is None:
        return None
    outer = reporter.callback

    def callback(done: int, total: int, message: str) -> None:
        if outer is not None:
            outer(done, total, f"{prefix}: {message}" if message else prefix)

    return Reporter(callback, reporter.token)


def run_request(
    project: Any,
    request: GridRequest,
    *,
    reporter: Reporter | None = None,
    engine: Any = None,
    on_sweep: Callable[[SweepResult], None] | None = None,
) -> GridOutcome:
    """Run ``request`` on ``project`` (see the module docstring for the policy); ``on_sweep`` is
    called with the sweep's result before the grid starts (the CLI prints its table)."""
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.sweep import sweep_top_p
    from geoquiz.segmentation import require_ready

    check_sources(request.selections, request.study, request.human_scopes)
    if request.with_model:
        require_ready(request.segmenters, project.settings.segmenters)  # before the sweep starts
    elif request.choose_p:
        raise GeoQuizError(
            "choosing top-p tunes the model's elements: add the model selection, or leave --choose-p out"
        )
    if "human" in request.selections:
        study_row_id(project.db, request.study)  # an unknown study stops before any work
    params = project.settings.elements
    if request.top_p is not None:
        params = dataclasses.replace(params, top_p=float(request.top_p))
    source: dict[str, Any] = {"kind": "option" if request.top_p is not None else "settings"}
    sweep = None
    if request.choose_p:
        sweep = sweep_top_p(
            project,
            request.model_name,
            request.dataset,
            split=SWEEP_SPLIT,
            method=request.sweep_method,
            segmenter=request.segmenters[0],
            values=request.sweep_values,
            fill=request.fill,
            seed=request.seed,
            params=params,
            limit=request.limit,
            reporter=_prefixed(reporter, f"top-p sweep ({SWEEP_SPLIT})"),
            device=request.device,
            method_params=request.method_params,
        )
        if on_sweep is not None:
            on_sweep(sweep)
        params = dataclasses.replace(params, top_p=sweep.chosen_top_p)
        source = {"kind": "sweep", "run_id": sweep.run_id, "split": SWEEP_SPLIT}
    run_id = run_grid(
        project,
        request.model_name,
        request.dataset,
        request.split,
        list(request.methods),
        list(request.segmenters),
        fill=request.fill,
        repeats=request.repeats,
        seed=request.seed,
        params=params,
        reporter=reporter,
        curves=request.curves,
        curve_repeats=request.curve_repeats,
        batch_size=request.batch_size,
        limit=request.limit,
        resume=request.resume,
        device=request.device,
        top_p_source=source,
        engine=engine,
        method_params=request.method_params,
        selections=request.selections,
        study=request.study,
        human_scopes=request.human_scopes,
    )
    return GridOutcome(run_id, sweep)


__all__ = ["SWEEP_SPLIT", "GridOutcome", "GridRequest", "run_request"]
