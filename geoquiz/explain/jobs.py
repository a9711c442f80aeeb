"""The explain job: maps, segments and elements of one sample, runnable on any engine
(:mod:`geoquiz.engine`).

The job holds plain settings only (checkpoint path and its content hash, method and segmenter names
and resolved parameters); :meth:`~geoquiz.engine.base.Job.setup` loads the model (and builds the
segmenters lazily) once per worker; each item's image is read from its path by the worker.

In process (the local engine), :meth:`ExplainJob.for_explainer` binds the driver's
:class:`~geoquiz.explain.Explainer`: the job then takes the app's cache-aware path (cached maps and
segments are reused, new ones stored as they are computed) and sends back only what the driver still
has to store. Remote workers have no database: they compute the whole explanation and the driver
stores it with :meth:`~geoquiz.explain.Explainer.store_explanation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geoquiz.config import ElementSettings, SegmenterSettings
from geoquiz.engine.base import Job
from geoquiz.errors import GeoQuizError
from geoquiz.explain.core import CheckpointExplainCore
from geoquiz.explain.explainer import Explainer
from geoquiz.types import ImageItem, Location


def _check_shippable(explainer: Any, in_process: bool) -> None:
    if not in_process and explainer.segmenter_objects:
        raise GeoQuizError(
            "custom segmenter objects cannot be shipped to engine workers; use --engine local "
            f"(segmenters {', '.join(explainer.segmenter_objects)})"
        )


def worker_core(job: Any) -> Any:
    """The :class:`~geoquiz.explain.CheckpointExplainCore` of a job on a worker, model loaded."""
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


class ExplainerJob(Job):
    """Settings shared by the jobs that explain samples with a checkpoint's model on any engine."""

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

    @staticmethod
    def explainer_settings(explainer: Any, methods: Sequence[str], in_process: bool) -> dict[str, Any]:
        """The constructor settings for ``explainer``'s model. The method parameters are resolved by
        ``explainer`` (e.g. Score-CAM's ``channels="auto"``) and sent as they are, so every worker
        computes with the parameters the driver keys on."""
        _check_shippable(explainer, in_process)
        return {
            "checkpoint": str(explainer.checkpoint),
            "model_name": explainer.model_name,
            "model_hash": explainer.model_hash,
            "device": explainer.device,
            "method_params": explainer.resolved_method_params(methods),
            "segmenter_params": explainer.segmenter_params,
            "segmenter_settings": explainer.segmenter_settings,
        }


class ExplainJob(ExplainerJob):
    """Maps, segments and elements of one sample for every method x segmenter (predicted class).

    Value: the number of elements when bound to the driver's Explainer (stored already), else a
    :class:`~geoquiz.explain.SampleExplanation` for :meth:`~geoquiz.explain.Explainer.store_explanation`.
    """

    name = "explain"
    worker_attrs = ("core",)

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
        """The job for ``explainer``'s model and settings; ``in_process``: bind ``explainer`` itself."""
        settings = cls.explainer_settings(explainer, methods, in_process)
        job = cls(methods=methods, segmenters=segmenters, params=params, **settings)
        if in_process:
            job.core = explainer
        return job

    def setup(self) -> None:
        if getattr(self, "core", None) is None:
            self.core = worker_core(self)

    def process(self, sample: ImageItem | Location) -> Any:
        core = self.core
        if isinstance(core, Explainer):  # in process: the app's cache-aware path, stored as it goes
            n = 0
            for method in self.methods:
                core.heatmaps(sample, method)
                for segmenter in self.segmenters:
                    n += len(core.elements(sample, method, segmenter, self.params))
            return n
        return core.explain_sample(sample, self.methods, self.segmenters, self.params)


__all__ = ["ExplainJob", "ExplainerJob"]
