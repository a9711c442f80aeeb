"""Counterfactual cue importance on GeoScenes: which planted cue does the model actually use? (Qt-free)

GeoScenes re-renders any of its scenes without any planted cue object, everything else pixel for
pixel the same (:func:`geoquiz.data.geoscenes.scene.render_instances`). So the causal importance of a
cue for a model is measured by intervention (as FunnyBirds, CVPR 2023, and CLEVR-XAI do):

* for each **cue object** listed on the image (each view of a 4-view location): the scene without
  that object (a sign takes its script along), the other views unchanged;
* for each **cue tag** present: the scene without every listed object of that tag, in every view.

Each counterfactual is run through the model with the scene as rendered, in batches, and recorded as
a :class:`CueEffect`: the true-class probability then, its ``drop`` (as rendered minus without, in
probability units; > 0 = the cue helped the true class, < 0 = it hurt) and the top-1 then
(``flipped``: it differs from the top-1 of the scene as rendered).

The per-unit work is a :class:`CausalJob` on the engine (:mod:`geoquiz.engine`), local or Ray; the
driver (:func:`run_causal`) stores each unit in one transaction (tables ``causal_units`` /
``causal_cues``, :mod:`geoquiz.ground_truth.causal_store`), keyed by the checkpoint's content hash,
so a run resumes where it stopped and a retrained model starts afresh. Before anything is computed,
the scene as re-rendered is compared with the stored image: a dataset written by another generator
version fails that unit with a message instead of producing wrong numbers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.boxes import Box
from geoquiz.data.dataset import read_sample
from geoquiz.data.geoscenes.dataset import SceneSpec, scene_spec
from geoquiz.data.geoscenes.scene import render_instances
from geoquiz.engine.base import Job
from geoquiz.errors import GeoQuizError
from geoquiz.types import ImageItem, Location

KINDS = ("object", "tag")


@dataclass(frozen=True)
class CueEffect:
    """One counterfactual of a unit. ``kind``: ``object`` (one cue object: ``view``, plan ``instance``
    index, ``cue_key``, ``detail`` and its visible ``box`` XYXY in the image frame) or ``tag`` (every
    listed object of ``tag`` in every view; ``view``, ``instance``, ``box`` None)."""

    kind: str
    tag: str
    true_prob: float
    drop: float
    pred_label: str
    flipped: bool
    view: str | None = None
    instance: int | None = None
    cue_key: str | None = None
    detail: str | None = None
    box: Box | None = None


@dataclass
class CausalUnit:
    """The counterfactuals of one image or 4-view location for one model."""

    key: str
    label: str
    true_prob: float
    pred_label: str
    effects: list[CueEffect] = field(default_factory=list)
    n_renders: int = 0
    render_s: float = 0.0
    predict_s: float = 0.0

    @property
    def objects(self) -> list[CueEffect]:
        return [e for e in self.effects if e.kind == "object"]

    @property
    def tags(self) -> list[CueEffect]:
        return [e for e in self.effects if e.kind == "tag"]

    @property
    def correct(self) -> bool:
        return self.pred_label == self.label


def tag_summary(units: Sequence[CausalUnit], *, n_boot: int = 2000) -> list[dict[str, Any]]:
    """Per cue tag, over the units that show it: ``n`` units, the mean ``drop`` of removing the whole
    tag (bootstrap CI ``lo``/``hi``), the share of units whose top-1 it flips (``flip_rate``), and the
    mean drop of removing its single most important object (``object_drop``). Plus a row ``tag =
    "(any single cue)"``: per unit, the largest drop of any one object and whether any flips -- how
    much a single cue decides (low under redundancy)."""
    from geoquiz.faithfulness.stats import bootstrap_ci

    rows = []
    for tag in sorted({e.tag for u in units for e in u.tags}):
        drops = [e.drop for u in units for e in u.tags if e.tag == tag]
        flips = [float(e.flipped) for u in units for e in u.tags if e.tag == tag]
        best = [
            max(e.drop for e in u.objects if e.tag == tag)
            for u in units
            if any(e.tag == tag for e in u.objects)
        ]
        mean, lo, hi = bootstrap_ci(drops, n_boot=n_boot)
        rows.append(
            {
                "tag": tag,
                "n": len(drops),
                "drop": mean,
                "lo": lo,
                "hi": hi,
                "flip_rate": float(np.mean(flips)),
                "object_drop": float(np.mean(best)) if best else float("nan"),
            }
        )
    with_objects = [u for u in units if u.objects]
    if with_objects:
        best = [max(e.drop for e in u.objects) for u in with_objects]
        mean, lo, hi = bootstrap_ci(best, n_boot=n_boot)
        rows.append(
            {
                "tag": "(any single cue)",
                "n": len(best),
                "drop": mean,
                "lo": lo,
                "hi": hi,
                "flip_rate": float(np.mean([any(e.flipped for e in u.objects) for u in with_objects])),
                "object_drop": mean,
            }
        )
    return rows


def unit_specs(params: dict, unit: ImageItem | Location) -> list[SceneSpec]:
    """The :class:`SceneSpec` of each view of ``unit`` (one for an image, VIEWS order for a location);
    :class:`GeoQuizError` when the dataset or the key is not GeoScenes'."""
    items = unit.ordered() if isinstance(unit, Location) else [unit]
    try:
        return [scene_spec(params, it.key, unit.label, it.view) for it in items]
    except ValueError as exc:
        raise GeoQuizError(str(exc)) from None


def _render(spec: SceneSpec, omit: Sequence[int] = ()):
    return render_instances(
        spec.country,
        spec.seed,
        spec.size,
        spec.view,
        omit_instances=omit,
        diagnostic_cues=spec.diagnostic_cues,
    )


def counterfactuals(
    loaded: Any,
    specs: Sequence[SceneSpec],
    label: str,
    *,
    key: str = "",
    stored: Sequence[np.ndarray] | None = None,
    batch_size: int = 32,
) -> CausalUnit:
    """The :class:`CausalUnit` of the scene ``specs`` (one per view) of class ``label`` for
    ``loaded`` (a :class:`~geoquiz.models.predictor.LoadedModel` with one input view per spec).

    ``stored``: the unit's stored pixels (one array per view), checked against the re-render
    (:class:`GeoQuizError` naming the view on a difference)."""
    if loaded.n_views != len(specs):
        raise GeoQuizError(f"model takes {loaded.n_views} view(s), the unit {key!r} has {len(specs)}")
    true = loaded.class_index(label)
    t0 = time.perf_counter()
    full = [_render(s) for s in specs]
    if stored is not None:
        for spec, (img, _), pix in zip(specs, full, stored):
            if img.shape != pix.shape or not np.array_equal(img, pix):
                where = f" (view {spec.view})" if spec.view else ""
                raise GeoQuizError(
                    f"{key}{where}: the stored image differs from its GeoScenes re-render "
                    "(made by another generator version?); regenerate the dataset"
                )
    base = [img for img, _ in full]
    variants: list[list[np.ndarray]] = []
    meta: list[dict] = []
    for v, (spec, (_, cues)) in enumerate(zip(specs, full)):
        for index, cue_key, cue in cues:
            img, _ = _render(spec, [index])
            variants.append(base[:v] + [img] + base[v + 1 :])
            meta.append(
                dict(
                    kind="object",
                    tag=cue.tag,
                    view=spec.view,
                    instance=index,
                    cue_key=cue_key,
                    detail=cue.detail,
                    box=cue.box,
                )
            )
    tags = sorted({c.tag for _, cues in full for _, _, c in cues})
    for tag in tags:
        views = []
        for spec, (img, cues) in zip(specs, full):
            group = [i for i, _, c in cues if c.tag == tag]
            views.append(_render(spec, group)[0] if group else img)
        variants.append(views)
        meta.append(dict(kind="tag", tag=tag))
    t1 = time.perf_counter()
    samples = [base, *variants] if len(specs) > 1 else [base[0], *(v[0] for v in variants)]
    probs = loaded.predict_arrays(samples, batch_size)
    t2 = time.perf_counter()
    classes = loaded.classes
    p0, top0 = float(probs[0, true]), int(np.argmax(probs[0]))
    effects = [
        CueEffect(
            true_prob=float(p[true]),
            drop=p0 - float(p[true]),
            pred_label=classes[int(np.argmax(p))],
            flipped=int(np.argmax(p)) != top0,
            **m,
        )
        for p, m in zip(probs[1:], meta)
    ]
    return CausalUnit(key, label, p0, classes[top0], effects, len(variants) + len(specs), t1 - t0, t2 - t1)


class CausalJob(Job):
    """Counterfactual cue importance of one unit (:func:`counterfactuals`) on any engine.

    Holds the checkpoint path, its content hash, the device, the dataset's parameters and the batch
    size; :meth:`setup` loads the model once per worker (in process, :func:`run_causal` binds the
    driver's loaded model)."""

    name = "causal ground truth"
    worker_attrs = ("loaded",)

    def __init__(
        self, *, checkpoint: str, model_hash: str, params: dict, device: str = "auto", batch_size: int = 32
    ) -> None:
        self.checkpoint = str(checkpoint)
        self.model_hash = model_hash
        self.params = dict(params)
        self.device = device
        self.batch_size = int(batch_size)
        self.loaded: Any = None

    def setup(self) -> None:
        if getattr(self, "loaded", None) is None:
            from geoquiz.models.checkpoint import load_checkpoint

            self.loaded = load_checkpoint(self.checkpoint, device=self.device)

    def process(self, unit: ImageItem | Location) -> CausalUnit:
        pix = read_sample(unit)
        stored = pix if isinstance(pix, list) else [pix]
        return counterfactuals(
            self.loaded,
            unit_specs(self.params, unit),
            unit.label,
            key=unit.key,
            stored=stored,
            batch_size=self.batch_size,
        )


def run_causal(
    project: Any,
    model_name: str,
    dataset: str,
    split: str | None = "test",
    *,
    limit: int | None = None,
    engine: Any = None,
    batch_size: int = 32,
    device: str = "auto",
    reporter: Any = None,
) -> Any:
    """Compute and store the counterfactuals of ``dataset``'s ``split`` (``limit``: at most that many
    units, class-balanced) for model ``model_name``; units already stored for this checkpoint are
    skipped. Returns the engine's :class:`~geoquiz.engine.RunSummary`.

    Raises :class:`GeoQuizError` before any work for an unknown model or dataset, a dataset that is
    not GeoScenes, a split without images, labels the model does not know, or a view-count mismatch.
    """
    from geoquiz.data.dataset import get_dataset, load_items, load_locations
    from geoquiz.engine import make_engine, run_items
    from geoquiz.ground_truth.causal_store import done_keys, store_unit
    from geoquiz.ground_truth.pointing import balanced
    from geoquiz.hashing import file_hash
    from geoquiz.models.store import get_model, load_project_model

    info = get_model(project.db, model_name)
    ds = get_dataset(project.db, dataset)
    if ds.params.get("generator") != "geoscenes":
        raise GeoQuizError(
            f"dataset {dataset!r} is not a GeoScenes dataset (source {ds.source!r}); causal ground truth "
            "re-renders each scene without its cues, so it needs a dataset made by the GeoScenes generator"
        )
    four = ds.kind == "4view"
    units = load_locations(project.db, dataset, split) if four else load_items(project.db, dataset, split)
    if not units:
        raise GeoQuizError(f"dataset {dataset!r} has no images in split {split!r}")
    loaded = load_project_model(project, model_name, device)
    if loaded.n_views != (4 if four else 1):
        raise GeoQuizError(
            f"model {model_name!r} takes {loaded.n_views} view(s) per sample; dataset {dataset!r} is "
            f"{'4-view' if four else 'single-view'}"
        )
    unknown = sorted({u.label for u in units} - set(loaded.classes))
    if unknown:
        raise GeoQuizError(
            f"model {model_name!r} does not know the class(es) {', '.join(unknown)} of {dataset!r}"
        )
    model_hash = file_hash(info.resolve(project.root))
    engine = engine or make_engine("local")
    job = CausalJob(
        checkpoint=str(info.resolve(project.root)),
        model_hash=model_hash,
        params=ds.params,
        device=device,
        batch_size=batch_size,
    )
    if engine.in_process:
        job.loaded = loaded
    ids = {"model_name": model_name, "model_hash": model_hash, "dataset_id": ds.id}
    return run_items(
        engine,
        job,
        balanced(units, limit),
        store=lambda unit, value: store_unit(project.db, ids, unit, value),
        done_keys=done_keys(project.db, model_hash, ds.id),
        reporter=reporter,
    )


def stored_units(project: Any, model_name: str, dataset: str, split: str | None = "test") -> list[CausalUnit]:
    """The counterfactuals stored for model ``model_name``'s current checkpoint on ``dataset``'s
    ``split`` (key order)."""
    from geoquiz.data.dataset import get_dataset, load_items, load_locations
    from geoquiz.ground_truth.causal_store import load_units
    from geoquiz.hashing import file_hash
    from geoquiz.models.store import get_model

    info = get_model(project.db, model_name)
    ds = get_dataset(project.db, dataset)
    units = (
        load_locations(project.db, dataset, split)
        if ds.kind == "4view"
        else load_items(project.db, dataset, split)
    )
    stored = load_units(project.db, file_hash(info.resolve(project.root)), ds.id, [u.key for u in units])
    return [stored[k] for k in sorted(stored)]


__all__ = [
    "KINDS",
    "CausalJob",
    "CausalUnit",
    "CueEffect",
    "counterfactuals",
    "run_causal",
    "stored_units",
    "tag_summary",
    "unit_specs",
]
