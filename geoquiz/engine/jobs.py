"""The per-item jobs of GeoQuiz's batch commands, runnable on any engine.

=====================  ==========================  =============================================
job                    item                        value sent back to the driver
=====================  ==========================  =============================================
:class:`ExplainJob`    image / 4-view location     :class:`geoquiz.explain.SampleExplanation`
:class:`GridJob`       image / 4-view location     :class:`UnitEvaluation` (faithfulness rows)
:class:`PredictJob`    image / 4-view location     class probabilities, float32 ``(N,)``
:class:`PixelSumJob`   image / 4-view location     per image: RGB sum (float64) and pixel count
=====================  ==========================  =============================================

Every job holds plain settings only (checkpoint path and its content hash, method and segmenter
names and resolved parameters, seeds ...); :meth:`~geoquiz.engine.base.Job.setup` loads the model
(and builds the segmenters lazily) once per worker; each item's image is read from its path by the
worker. Values depend on the item alone (seeds are derived per item, a prediction is one forward of
that sample), so every engine gives the same numbers.

In process (the local engine), :meth:`ExplainJob.for_explainer` and :meth:`GridJob.for_explainer`
bind the driver's :class:`~geoquiz.explain.Explainer`: the job then takes the app's cache-aware
path (cached maps and segments are reused, new ones stored as they are computed) and sends back
only what the driver still has to store. Remote workers have no database: they compute the whole
explanation and the driver stores it with :meth:`~geoquiz.explain.Explainer.store_explanation`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.config import ElementSettings, SegmenterSettings
from geoquiz.engine.base import Job
from geoquiz.errors import GeoQuizError
from geoquiz.types import ImageItem, Location


def _check_shippable(explainer: Any, in_process: bool) -> None:
    if not in_process and explainer.segmenter_objects:
        raise GeoQuizError(
            "custom segmenter objects cannot be shipped to engine workers; use --engine local "
            f"(segmenters {', '.join(explainer.segmenter_objects)})"
        )


def _worker_core(job: Any) -> Any:
    """The :class:`~geoquiz.explain.CheckpointExplainCore` of a job on a worker, model loaded."""
    from geoquiz.explain import CheckpointExplainCore

    core = CheckpointExplainCore(
        job.checkpoint,
        job.model_name,
        model_hash=job.model_hash,
        device=job.device,
        method_params=job.method_params,
        segmenter_params=job.segmenter_params,
        segmenter_settings=job.segmenter_settings,
    )
    core.loaded_model  # noqa: B018 - load now: a bad checkpoint fails the setup, not every item
    return core


class ExplainJob(Job):
    """Maps, segments and elements of one sample for every method x segmenter (predicted class).

    Value: the number of elements when bound to the driver's Explainer (stored already), else a
    :class:`~geoquiz.explain.SampleExplanation` for :meth:`~geoquiz.explain.Explainer.store_explanation`.
    """

    name = "explain"
    worker_attrs = ("core",)

    def __init__(
        self,
        *,
        checkpoint: str,
        model_name: str,
        model_hash: str,
        methods: Sequence[str],
        segmenters: Sequence[str],
        params: ElementSettings,
        device: str = "auto",
        method_params: dict[str, dict] | None = None,
        segmenter_params: dict[str, dict] | None = None,
        segmenter_settings: SegmenterSettings | None = None,
    ) -> None:
        self.checkpoint = str(checkpoint)
        self.model_name = model_name
        self.model_hash = model_hash
        self.methods = list(methods)
        self.segmenters = list(segmenters)
        self.params = params
        self.device = device
        self.method_params = dict(method_params or {})
        self.segmenter_params = dict(segmenter_params or {})
        self.segmenter_settings = segmenter_settings or SegmenterSettings()
        self.core: Any = None

    @classmethod
    def for_explainer(
        cls,
        explainer: Any,
        methods: Sequence[str],
        segmenters: Sequence[str],
        params: ElementSettings,
        *,
        in_process: bool,
    ) -> ExplainJob:
        """The job for ``explainer``'s model and settings; ``in_process``: bind ``explainer`` itself.

        The method parameters are resolved by ``explainer`` (e.g. Score-CAM's ``channels="auto"``)
        and sent as they are, so every worker computes with the parameters the driver keys on.
        """
        _check_shippable(explainer, in_process)
        job = cls(
            checkpoint=str(explainer.checkpoint),
            model_name=explainer.model_name,
            model_hash=explainer.model_hash,
            methods=methods,
            segmenters=segmenters,
            params=params,
            device=explainer.device,
            method_params=explainer.resolved_method_params(methods),
            segmenter_params=explainer.segmenter_params,
            segmenter_settings=explainer.segmenter_settings,
        )
        if in_process:
            job.core = explainer
        return job

    def setup(self) -> None:
        if getattr(self, "core", None) is None:
            self.core = _worker_core(self)

    def process(self, sample: ImageItem | Location) -> Any:
        from geoquiz.explain import Explainer

        core = self.core
        if isinstance(core, Explainer):  # in process: the app's cache-aware path, stored as it goes
            n = 0
            for method in self.methods:
                core.heatmaps(sample, method)
                for segmenter in self.segmenters:
                    n += len(core.elements(sample, method, segmenter, self.params))
            return n
        return core.explain_sample(sample, self.methods, self.segmenters, self.params)


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


class GridJob(Job):
    """The faithfulness grid of one unit: elements of every method x segmenter (each map computed once
    per method, each segmentation once per segmenter), then every test in batched forward passes
    (:func:`geoquiz.faithfulness.evaluate.evaluate_image`). Seeds come from ``options.seed`` and the
    unit's id, as in the local path."""

    name = "faithfulness"
    worker_attrs = ("core", "loaded", "fill")

    def __init__(
        self,
        *,
        checkpoint: str,
        model_name: str,
        model_hash: str,
        methods: Sequence[str],
        segmenters: Sequence[str],
        params: ElementSettings,
        fill: str,
        fill_params: dict,
        options: Any,
        device: str = "auto",
        method_params: dict[str, dict] | None = None,
        segmenter_params: dict[str, dict] | None = None,
        segmenter_settings: SegmenterSettings | None = None,
    ) -> None:
        self.checkpoint = str(checkpoint)
        self.model_name = model_name
        self.model_hash = model_hash
        self.methods = list(methods)
        self.segmenters = list(segmenters)
        self.params = params
        self.fill_name = fill
        self.fill_params = dict(fill_params)
        self.options = options
        self.device = device
        self.method_params = dict(method_params or {})
        self.segmenter_params = dict(segmenter_params or {})
        self.segmenter_settings = segmenter_settings or SegmenterSettings()
        self.core: Any = None
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
    ) -> GridJob:
        """The job for ``explainer``'s model; ``in_process``: bind ``explainer``, ``loaded`` and ``fill``.

        ``fill_params``: the parameters ``fill`` was made with (workers rebuild it from them; not
        ``fill.params()``, which rounds a mean colour for the record)."""
        _check_shippable(explainer, in_process)
        job = cls(
            checkpoint=str(explainer.checkpoint),
            model_name=explainer.model_name,
            model_hash=explainer.model_hash,
            methods=methods,
            segmenters=segmenters,
            params=params,
            fill=fill.name,
            fill_params=fill_params,
            options=options,
            device=explainer.device,
            method_params=explainer.resolved_method_params(methods),
            segmenter_params=explainer.segmenter_params,
            segmenter_settings=explainer.segmenter_settings,
        )
        if in_process:
            job.core, job.loaded, job.fill = explainer, loaded, fill
        return job

    def setup(self) -> None:
        from geoquiz.faithfulness.perturb import make_fill

        if getattr(self, "core", None) is None:
            self.core = _worker_core(self)
            self.loaded = self.core.loaded_model
        if getattr(self, "fill", None) is None:
            self.fill = make_fill(self.fill_name, **self.fill_params)

    def process(self, unit: ImageItem | Location) -> UnitEvaluation:
        import time

        from geoquiz.explain import Explainer
        from geoquiz.faithfulness.engine import ImageFrame
        from geoquiz.faithfulness.evaluate import Selection, evaluate_image
        from geoquiz.faithfulness.grid import read_unit, unit_ids
        from geoquiz.faithfulness.random import derive_seed

        loaded, core = self.loaded, self.core
        label = loaded.class_index(unit.label) if unit.label in loaded.spec.classes else None
        if label is None:
            return UnitEvaluation(skipped=True)
        t0 = time.perf_counter()
        selections, frame_shape, explanation = [], None, None
        if isinstance(core, Explainer):  # in process: cached maps and segments are reused
            for method in self.methods:
                maps = core.heatmaps(unit, method)
                frame_shape = tuple(maps[0].values.shape[:2])
                for segmenter in self.segmenters:
                    elements = core.elements(unit, method, segmenter, self.params)
                    selections.append(Selection(method, segmenter, tuple(elements)))
        else:
            explanation = core.explain_sample(unit, self.methods, self.segmenters, self.params)
            for method in self.methods:
                frame_shape = explanation.map_shape(method)
                for segmenter in self.segmenters:
                    selections.append(Selection(method, segmenter, tuple(explanation.elements_of(method, segmenter))))
        t1 = time.perf_counter()
        image_id, location_id = unit_ids(unit)
        frame = ImageFrame(
            loaded,
            read_unit(unit),
            self.fill,
            box_frame=frame_shape,
            seed=derive_seed(self.options.seed, image_id, "fill"),
        )
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


class PredictJob(Job):
    """The model's class probabilities for one sample (float32 ``(N,)``, the model's class order).

    Each sample goes through the network alone, so its probabilities never depend on which samples
    share its batch (batched kernels may differ in the last bits).
    """

    name = "predict"
    worker_attrs = ("loaded",)

    def __init__(self, *, checkpoint: str, model_hash: str, device: str = "auto") -> None:
        self.checkpoint = str(checkpoint)
        self.model_hash = model_hash
        self.device = device
        self.loaded: Any = None

    def setup(self) -> None:
        if getattr(self, "loaded", None) is None:
            from geoquiz.explain import file_hash
            from geoquiz.models.checkpoint import load_checkpoint

            actual = file_hash(self.checkpoint)
            if actual != self.model_hash:
                raise GeoQuizError(
                    f"the checkpoint {self.checkpoint} differs from the driver's copy "
                    f"(content hash {actual[:12]} != {self.model_hash[:12]}); give every worker the same file"
                )
            self.loaded = load_checkpoint(self.checkpoint, device=self.device)

    def process(self, sample: ImageItem | Location) -> np.ndarray:
        from geoquiz.models.predictor import read_sample

        return np.asarray(self.loaded.predict_arrays([read_sample(sample)], 1)[0], dtype=np.float32)


class PixelSumJob(Job):
    """Per image of a unit: the float64 sum of its RGB values in [0, 1] and its pixel count (the
    parts of :func:`geoquiz.faithfulness.perturb.mean_colour`, summed by the driver in unit order)."""

    name = "mean colour"

    def process(self, unit: ImageItem | Location) -> list[tuple[np.ndarray, int]]:
        from geoquiz.faithfulness.grid import read_unit
        from geoquiz.faithfulness.perturb import to_float

        pix = read_unit(unit)
        out = []
        for image in pix if isinstance(pix, list) else [pix]:
            data = to_float(image).reshape(-1, 3)
            out.append((data.sum(axis=0, dtype=np.float64), len(data)))
        return out


def checkpoint_of(project: Any, model_name: str) -> tuple[str, str]:
    """``(absolute checkpoint path, content hash)`` of a project model."""
    from geoquiz.explain import file_hash
    from geoquiz.models.store import get_model

    path = get_model(project.db, model_name).resolve(project.root)
    if not os.path.isfile(path):
        from geoquiz.errors import CheckpointError

        raise CheckpointError(f"the checkpoint of model {model_name!r} is missing: {path}")
    return str(path), file_hash(path)


__all__ = ["ExplainJob", "GridJob", "PixelSumJob", "PredictJob", "UnitEvaluation", "checkpoint_of"]
