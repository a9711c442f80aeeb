"""The faithfulness jobs, runnable on any engine (:mod:`geoquiz.engine`).

=====================  ==========================  =============================================
job                    item                        value sent back to the driver
=====================  ==========================  =============================================
:class:`GridJob`       image / 4-view location     :class:`UnitEvaluation` (faithfulness rows)
:class:`PixelSumJob`   image / 4-view location     per image: RGB sum (float64) and pixel count
=====================  ==========================  =============================================

Values depend on the item alone (seeds are derived per item), so every engine gives the same
numbers. In process, :meth:`GridJob.for_explainer` binds the driver's Explainer, loaded model and
fill (see :mod:`geoquiz.explain.jobs`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.config import ElementSettings
from geoquiz.data.dataset import read_sample
from geoquiz.engine.base import Job
from geoquiz.explain.explainer import Explainer
from geoquiz.explain.jobs import ExplainerJob, worker_core
from geoquiz.faithfulness.engine import ImageFrame
from geoquiz.faithfulness.evaluate import Selection, evaluate_image
from geoquiz.faithfulness.human import HUMAN_METHOD, HumanSelection, frames_of, unit_key
from geoquiz.faithfulness.perturb import make_fill, to_float
from geoquiz.faithfulness.random import derive_seed
from geoquiz.faithfulness.store import unit_ids
from geoquiz.types import ImageItem, Location


@dataclass
class UnitEvaluation:
    """The faithfulness results of one image (or location) for the driver to store.

    ``explanation``: the worker's explanation to store in the cache (None in process, where the
    Explainer stored it already). ``skipped``: the unit's label is not one of the model's classes.
    """

    rows: list[dict] = field(default_factory=list)
    curve_rows: list[dict] = field(default_factory=list)
    explanation: Any = None
    n_variants: int = 0
    n_forward: int = 0
    n_batches: int = 0
    explain_s: float = 0.0
    evaluate_s: float = 0.0
    skipped: bool = False


class GridJob(ExplainerJob):
    """The faithfulness grid of one unit: elements of every method x segmenter (each map computed once
    per method, each segmentation once per segmenter), then every test in batched forward passes
    (:func:`geoquiz.faithfulness.evaluate.evaluate_image`). Seeds come from ``options.seed`` and the
    unit's id, as in the local path."""

    name = "faithfulness"
    worker_attrs = ("core", "loaded", "fill")

    def __init__(
        self,
        *,
        fill: str,
        fill_params: dict,
        options: Any,
        human: dict[tuple[str, int], list[HumanSelection]] | None = None,
        **settings: Any,
    ) -> None:
        """``fill``/``fill_params``: the fill to rebuild on workers; ``options``: the evaluation
        options; ``human``: people's box sets per unit (:func:`geoquiz.faithfulness.human.unit_key`),
        evaluated beside the model's elements (no methods: people's boxes only); ``settings``: as
        :class:`~geoquiz.explain.jobs.ExplainerJob` (checkpoint, methods, segmenters ...)."""
        super().__init__(**settings)
        self.fill_name = fill
        self.fill_params = dict(fill_params)
        self.options = options
        self.human = dict(human or {})
        self.loaded: Any = None
        self.fill: Any = None

    @classmethod
    def for_explainer(
        cls,
        explainer: Any,
        loaded: Any,
        methods: Sequence[str],
        segmenters: Sequence[str],
        params: ElementSettings,
        fill: Any,
        fill_params: dict,
        options: Any,
        *,
        in_process: bool,
        human: dict[tuple[str, int], list[HumanSelection]] | None = None,
    ) -> GridJob:
        """The job for ``explainer``'s model; ``in_process``: bind ``explainer``, ``loaded`` and ``fill``.

        ``fill_params``: the parameters ``fill`` was made with (workers rebuild it from them; not
        ``fill.params()``, which rounds a mean colour for the record). ``human``: as for the
        constructor."""
        settings = cls.explainer_settings(explainer, methods, in_process)
        job = cls(
            methods=methods,
            segmenters=segmenters,
            params=params,
            fill=fill.name,
            fill_params=fill_params,
            options=options,
            human=human,
            **settings,
        )
        if in_process:
            job.core, job.loaded, job.fill = explainer, loaded, fill
        return job

    def setup(self) -> None:
        if getattr(self, "core", None) is None:
            self.core = worker_core(self)
            self.loaded = self.core.loaded_model
        if getattr(self, "fill", None) is None:
            self.fill = make_fill(self.fill_name, **self.fill_params)

    def process(self, unit: ImageItem | Location) -> UnitEvaluation:
        loaded, core = self.loaded, self.core
        label = loaded.class_index(unit.label) if unit.label in loaded.spec.classes else None
        if label is None:
            return UnitEvaluation(skipped=True)
        t0 = time.perf_counter()
        selections, frame_shape, explanation = [], None, None
        if not self.methods:  # people's boxes only: no explanation is needed
            pass
        elif isinstance(core, Explainer):  # in process: cached maps and segments are reused
            for method in self.methods:
                maps = core.heatmaps(unit, method)
                frame_shape = tuple(maps[0].values.shape[:2])
                for segmenter in self.segmenters:
                    elements = core.elements(unit, method, segmenter, self.params)
                    n, cov = core.segment_stats(unit, segmenter, method, self.params)
                    selections.append(Selection(method, segmenter, tuple(elements), None, n, cov))
        else:
            explanation = core.explain_sample(unit, self.methods, self.segmenters, self.params)
            for method in self.methods:
                frame_shape = explanation.map_shape(method)
                for segmenter in self.segmenters:
                    elements = tuple(explanation.elements_of(method, segmenter))
                    n, cov = explanation.segment_stats(method, segmenter)
                    selections.append(Selection(method, segmenter, elements, None, n, cov))
        t1 = time.perf_counter()
        image_id, location_id = unit_ids(unit)
        pixels = read_sample(unit)
        frame = ImageFrame(
            loaded,
            pixels,
            self.fill,
            box_frame=frame_shape,
            seed=derive_seed(self.options.seed, image_id, "fill"),
        )
        selections += self.human_selections(unit, frames_of(pixels, frame.views))
        result = evaluate_image(
            frame, label, selections, image_id if location_id is None else location_id, self.options
        )
        return UnitEvaluation(
            rows=result.rows,
            curve_rows=result.curve_rows,
            explanation=explanation,
            n_variants=result.n_variants,
            n_forward=result.n_forward,
            n_batches=result.n_batches,
            explain_s=t1 - t0,
            evaluate_s=time.perf_counter() - t1,
        )

    def human_selections(
        self, unit: ImageItem | Location, frames: dict[str | None, tuple[int, int]]
    ) -> list[Selection]:
        """The unit's sets of people's boxes as selections (boxes in ``frames``: the pixels of
        each view's image, which is where they were drawn)."""
        return [
            Selection(
                HUMAN_METHOD,
                h.scope,
                h.boxes,
                frames=frames,
                fields=h.fields(),
                seed_key=(h.key,),
                curves=False,
            )
            for h in self.human.get(unit_key(unit), ())
        ]


class PixelSumJob(Job):
    """Per image of a unit: the float64 sum of its RGB values in [0, 1] and its pixel count (the
    parts of :func:`geoquiz.faithfulness.perturb.mean_colour`, summed by the driver in unit order)."""

    name = "mean colour"

    def process(self, unit: ImageItem | Location) -> list[tuple[np.ndarray, int]]:
        pix = read_sample(unit)
        out = []
        for image in pix if isinstance(pix, list) else [pix]:
            data = to_float(image).reshape(-1, 3)
            out.append((data.sum(axis=0, dtype=np.float64), len(data)))
        return out


__all__ = ["GridJob", "PixelSumJob", "UnitEvaluation"]
