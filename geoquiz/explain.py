"""Explanations of a project's model, cached on disk and indexed in the database.

    ex = Explainer(project, "geoscenes-demo")
    maps = ex.heatmaps(item, "gradcampp")                 # list[Heatmap], one per view
    segs = ex.segments(item, "default")                   # list[list[Segment]], one list per view
    elements = ex.elements(item, "gradcampp", "default")  # list[Element], rank 1 = best
    ex.stats                                              # computed vs served from the cache

Everything happens at the model's input resolution ``S`` (``spec.input_size``): each view is
resized to ``S x S`` exactly as the model sees it, segmented there, and element boxes are in that
frame (``Box.scale(w / S, h / S)`` maps a box back to an original ``w x h`` image).

Cache. Maps (uint16-quantised, and always returned *as read back*, so a computed and a cached map
are identical) and segment masks (bit-packed) are ``.npz`` files under ``<project>/cache/``; rows of
``attribution_maps``, ``segmentations`` and ``element_sets``/``elements`` index them. Keys are
SHA-1 hashes of: the model checkpoint's content hash, the image file's content hash, the method
or segmenter and all their parameters, the target (``__predicted__`` when not given), the input
size, and for element sets the :class:`ElementSettings`. Nothing is computed twice, across runs
and processes; a cache file that has gone missing is recomputed.

4-view locations: maps are normalised jointly (see :mod:`geoquiz.attribution.base`); the salient
threshold is the top-p percentile over the four maps together; each view's segments are scored
against its own map; the elements of all views are ranked together and capped at
``max_elements`` (``Element.view`` tells where each one is).

Segmenter ``"<sam name>:guided"`` means SAM prompted only inside the salient region of the map
being explained (:meth:`geoquiz.segmentation.sam.SamSegmenter.segment_guided`), so its
segmentations depend on the method and target too.

Compute vs store. The work is split in two halves so that it can run on engine workers
(:mod:`geoquiz.engine`) while only the driver writes to the project:

* :class:`ExplainCore` *computes*: the model, attributors, segmenters, the cache keys and the
  ``.npz`` bytes of maps and masks; it never touches the database. :meth:`ExplainCore.explain_sample`
  computes everything of one sample for a methods x segmenters grid and returns a
  :class:`SampleExplanation` (keys, npz bytes, element records: plain picklable data).
  :class:`CheckpointExplainCore` is the worker's core, built from a checkpoint path.
* :class:`Explainer` (a core with a project) *looks up* the cache and *stores*: ``store_maps``,
  ``store_segments`` and ``_write_elements`` write the cache files and the index rows. Its
  interactive path (the app, the local engine) looks up, computes on a miss and stores through
  those functions; :meth:`Explainer.store_explanation` stores a worker's
  :class:`SampleExplanation` through the very same functions, so both give identical files and rows.

:func:`explain_dataset` runs a dataset through an engine (see :class:`geoquiz.engine.jobs.ExplainJob`):
in process it uses the driver's :class:`Explainer` (cache reuse, as the app); on Ray each worker
computes whole samples and the driver stores them, a group of samples per transaction. Samples
whose element sets for every method x segmenter (with these parameters) are already indexed are
skipped (:meth:`Explainer.explained`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoquiz.boxes import Box
from geoquiz.config import ElementSettings, SegmenterSettings
from geoquiz.elements import salient_threshold, select_elements
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.study.db import now, transaction
from geoquiz.types import VIEWS, Element, Heatmap, ImageItem, Location, Segment

CACHE_VERSION = 1
PREDICTED = "__predicted__"
STAT_NAMES = (
    "maps_computed",
    "maps_cached",
    "segmentations_computed",
    "segmentations_cached",
    "elements_computed",
    "elements_cached",
)

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_hash(path: str | os.PathLike) -> str:
    """SHA-1 of a file's content, memoised per (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    h = hashlib.sha1()
    with open(p, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    with _hash_lock:
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode()).hexdigest()


def encode_npz(**arrays: np.ndarray) -> bytes:
    """The bytes of a compressed ``.npz`` file holding ``arrays`` (what a cache file contains)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _write_blob(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    _write_blob(path, encode_npz(**arrays))


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None


def _quantise(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * 65535.0).astype(np.uint16)


def _dequantise(q: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) / np.float32(65535.0)).astype(np.float32)


# --- what a worker sends back: one sample's explanation as plain data --------------------------


@dataclass(frozen=True)
class MapBlobs:
    """One method's maps of one sample: cache keys, views, class explained and ``.npz`` bytes per view."""

    method: str
    params: dict
    keys: tuple[str, ...]
    views: tuple[str | None, ...]
    targets: tuple[str, ...]
    npz: tuple[bytes, ...]
    shape: tuple[int, int]


@dataclass(frozen=True)
class SegmentBlobs:
    """One segmenter's segments of one sample (per view). ``method`` is the guiding method of a
    ``:guided`` segmenter (else None); its keys are completed by the driver with the stored map ids."""

    segmenter: str
    method: str | None
    parts: tuple[tuple, ...]
    top_p: float | None
    params: dict
    n_segments: tuple[int, ...]
    npz: tuple[bytes, ...]


@dataclass(frozen=True)
class ElementBlobs:
    """The ranked elements of one method x segmenter, each with the index of its segment."""

    method: str
    segmenter: str
    pkey: str
    params: ElementSettings
    records: tuple[tuple[Element, int], ...]

    @property
    def elements(self) -> list[Element]:
        return [e for e, _ in self.records]


@dataclass(frozen=True)
class SampleExplanation:
    """Everything :meth:`ExplainCore.explain_sample` computed for one sample (picklable, no pixels
    other than the compressed maps and masks); :meth:`Explainer.store_explanation` stores it."""

    maps: tuple[MapBlobs, ...]
    segments: tuple[SegmentBlobs, ...]
    elements: tuple[ElementBlobs, ...]

    def elements_of(self, method: str, segmenter: str) -> list[Element]:
        for e in self.elements:
            if e.method == method and e.segmenter == segmenter:
                return e.elements
        raise KeyError(f"no elements for {method} x {segmenter}")

    def map_shape(self, method: str) -> tuple[int, int]:
        return next(m.shape for m in self.maps if m.method == method)

    @property
    def n_elements(self) -> int:
        return sum(len(e.records) for e in self.elements)


def element_params_key(params: ElementSettings, joint: bool) -> str:
    """The ``params_key`` of an element set (element settings + whether views were ranked jointly)."""
    return _key("elements", dataclasses.asdict(params), joint)


def seg_keys(parts: Sequence[Sequence], guide_ids: Sequence[int] | None, top_p: float | None) -> list[str]:
    """Segmentation cache keys from their per-view parts; a guided segmentation adds its map's row id."""
    return [
        _key("seg", *p, [guide_ids[i], top_p] if guide_ids is not None else None) for i, p in enumerate(parts)
    ]


def rank_elements(
    maps: Sequence[Heatmap], segs: Sequence[Sequence[Segment]], params: ElementSettings
) -> list[tuple[Element, int]]:
    """Elements of one sample from its maps and segments (one per view), ranked across views, each
    with the index of its segment in its view's segment list."""
    joint = len(maps) > 1
    threshold = salient_threshold([h.values for h in maps], params.top_p) if joint else None
    per_view = [select_elements(h.values, s, params, h.view, threshold) for h, s in zip(maps, segs)]
    # rank the views' elements together, as geoquiz.elements.merge_views does, keeping segment indices
    flat = [(e, i) for picked in per_view for i, e in picked]
    flat.sort(key=lambda p: (-p[0].score, VIEWS.index(p[0].view) if p[0].view else 0, p[0].rank))
    if joint and params.max_elements:
        flat = flat[: params.max_elements]
    return [(dataclasses.replace(e, rank=r), i) for r, (e, i) in enumerate(flat, start=1)]


class ExplainCore:
    """The computing half of :class:`Explainer`: model, attributors, segmenters, cache keys, no database.

    Subclasses say where the model comes from (:meth:`_load_model`). ``model_hash`` is the
    checkpoint's content hash (part of every map key); ``spec`` may be None until the model loads.
    """

    def __init__(
        self,
        model_name: str,
        *,
        model_hash: str,
        spec: Any = None,
        device: str = "auto",
        method_params: dict[str, dict] | None = None,
        segmenter_params: dict[str, dict] | None = None,
        segmenter_settings: SegmenterSettings | None = None,
        segmenter_objects: dict[str, Any] | None = None,
    ) -> None:
        self.model_name = model_name
        self.model_hash = model_hash
        self.spec = spec
        self.device = device
        self.method_params = dict(method_params or {})
        self.segmenter_params = dict(segmenter_params or {})
        self.segmenter_settings = segmenter_settings or SegmenterSettings()
        self.segmenter_objects = dict(segmenter_objects or {})
        self.stats: Counter = Counter({k: 0 for k in STAT_NAMES})
        self._attributors: dict[str, Any] = {}

    # --- model and inputs ------------------------------------------------------------------
    def _load_model(self) -> Any:
        raise NotImplementedError

    @property
    def loaded_model(self) -> Any:
        lm = self._load_model()
        self.spec = lm.spec
        return lm

    @property
    def n_views(self) -> int:
        return (self.spec or self.loaded_model.spec).n_views

    def sample_items(self, sample: ImageItem | Location) -> list[ImageItem]:
        """The sample's images in view order (checks it fits the model: item vs 4-view location)."""
        if isinstance(sample, Location):
            if self.n_views != 4:
                raise GeoQuizError(
                    f"model {self.model_name!r} takes single images, not 4-view location {sample.key!r}"
                )
            return sample.ordered()
        if self.n_views != 1:
            raise GeoQuizError(
                f"model {self.model_name!r} takes 4-view locations, not the single image {sample.key!r}"
            )
        return [sample]

    def read(self, sample: ImageItem | Location) -> Any:
        """Pixels as the model takes them: one RGB uint8 image, or 4 (VIEWS order)."""
        from geoquiz.data.imageio import read_image

        images = [read_image(it.path) for it in self.sample_items(sample)]
        return images[0] if len(images) == 1 else images

    def model_views(self, sample: ImageItem | Location) -> list[np.ndarray]:
        """Each view resized to ``S x S`` exactly as the model sees it (the frame of all outputs)."""
        from geoquiz.data.imageio import read_image
        from geoquiz.models.transforms import resize_uint8

        size = (self.spec or self.loaded_model.spec).input_size
        images = [read_image(it.path) for it in self.sample_items(sample)]
        return [np.ascontiguousarray(v) for v in resize_uint8(images, size).permute(0, 2, 3, 1).numpy()]

    def predict(self, sample: ImageItem | Location) -> Any:
        """The model's :class:`geoquiz.types.Prediction` for the sample."""
        return self.loaded_model.predict([self.read(sample)])[0]

    def attributor(self, method: str) -> Any:
        if method not in self._attributors:
            from geoquiz.attribution import get_attributor

            self._attributors[method] = get_attributor(
                method, self.loaded_model, **self.method_params.get(method, {})
            )
        return self._attributors[method]

    def _method_params(self, method: str) -> dict:
        """The method's resolved parameters (part of the cache key)."""
        from geoquiz.attribution import METHODS

        if method not in METHODS:
            raise GeoQuizError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
        return self.attributor(method).params

    def resolved_method_params(self, methods: Sequence[str]) -> dict[str, dict]:
        """``{method: resolved parameters}``, to hand to workers so they use exactly these (e.g.
        Score-CAM's ``channels="auto"`` depends on the device)."""
        return {m: dict(self._method_params(m)) for m in methods}

    def segmenter(self, name: str) -> Any:
        from geoquiz.segmentation import get_segmenter, parse_segmenter

        base, _ = parse_segmenter(name)
        if base in self.segmenter_objects:
            return self.segmenter_objects[base]
        return get_segmenter(
            base, self.segmenter_settings, self.device, **self.segmenter_params.get(base, {})
        )

    def _target_name(self, target: int | str | None) -> str:
        if target is None:
            return PREDICTED
        classes = (self.spec or self.loaded_model.spec).classes
        if isinstance(target, str):
            if target not in classes:
                raise GeoQuizError(
                    f"class {target!r} is not one of the model's classes: {', '.join(classes)}"
                )
            return target
        return classes[int(target)]

    # --- cache keys -------------------------------------------------------------------------
    def map_keys(
        self, sample: ImageItem | Location, method: str, target: int | str | None
    ) -> tuple[list[str], list[str | None], dict, str]:
        """``(keys, views, resolved method params, target name)`` of the sample's maps."""
        items = self.sample_items(sample)
        params = self._method_params(method)
        tname = self._target_name(target)
        base = [
            self.model_hash,
            [file_hash(it.path) for it in items],
            method,
            params,
            tname,
            self.spec.input_size if self.spec else None,
        ]
        views: list[str | None] = [None] if len(items) == 1 else list(VIEWS)
        return [_key("map", base, v) for v in views], views, params, tname

    def seg_key_parts(self, sample: ImageItem | Location, segmenter: str) -> list[tuple]:
        """Per view, the parts of the segmentation key other than the guide (see :func:`seg_keys`)."""
        from geoquiz.segmentation import SEGMENTERS, checkpoint_path, parse_segmenter

        name, _ = parse_segmenter(segmenter)
        seg = self.segmenter(segmenter)
        ckpt = checkpoint_path(name, self.segmenter_settings)
        ckpt_id = [Path(ckpt).name, Path(ckpt).stat().st_size] if ckpt and Path(ckpt).is_file() else None
        size = self.spec.input_size if self.spec else None
        return [
            (file_hash(it.path), size, segmenter, seg.params, ckpt_id, SEGMENTERS[name].arch)
            for it in self.sample_items(sample)
        ]

    # --- computing --------------------------------------------------------------------------
    def compute_maps(
        self,
        sample: ImageItem | Location,
        method: str,
        target: int | str | None,
        reporter: Reporter | None = None,
    ) -> list[tuple[Heatmap, bytes]]:
        """Each view's map (values as read back from the cache) with its cache file's bytes."""
        tname = self._target_name(target)
        heatmaps = self.attributor(method)(
            self.read(sample), None if target is None else tname, reporter=reporter
        )
        out = []
        for h in heatmaps:
            q = _quantise(h.values)
            out.append((dataclasses.replace(h, values=_dequantise(q)), encode_npz(values=q)))
        return out

    def compute_segments(
        self,
        sample: ImageItem | Location,
        segmenter: str,
        guide: Sequence[np.ndarray] | None,
        top_p: float,
        reporter: Reporter | None = None,
    ) -> list[tuple[list[Segment], bytes]]:
        """Each view's segments (at S x S) with its cache file's bytes; ``guide``: the views' maps
        for a ``:guided`` segmenter."""
        from geoquiz.segmentation.base import pack_masks

        seg = self.segmenter(segmenter)
        images = self.model_views(sample)
        results = []
        for i, image in enumerate(images):
            step(reporter, i, len(images), f"segmenting ({segmenter})")
            results.append(seg.segment_guided(image, guide[i], top_p) if guide is not None else seg.segment(image))
        return [(segs, encode_npz(**pack_masks(segs, image.shape[:2]))) for image, segs in zip(images, results)]

    def explain_sample(
        self,
        sample: ImageItem | Location,
        methods: Sequence[str],
        segmenters: Sequence[str],
        params: ElementSettings,
        reporter: Reporter | None = None,
    ) -> SampleExplanation:
        """Maps (predicted class), segments and elements of one sample for every method x segmenter,
        computed from scratch, without the database. Each map is computed once per method and each
        segmentation once per segmenter (once per method for a ``:guided`` one)."""
        from geoquiz.segmentation import parse_segmenter

        maps_out: list[MapBlobs] = []
        heat: dict[str, list[Heatmap]] = {}
        for method in methods:
            keys, views, mparams, _ = self.map_keys(sample, method, None)
            computed = self.compute_maps(sample, method, None, reporter)
            heat[method] = [h for h, _ in computed]
            maps_out.append(
                MapBlobs(
                    method=method,
                    params=dict(mparams),
                    keys=tuple(keys),
                    views=tuple(views),
                    targets=tuple(h.target for h in heat[method]),
                    npz=tuple(b for _, b in computed),
                    shape=tuple(int(v) for v in heat[method][0].values.shape[:2]),
                )
            )
        pkey = element_params_key(params, len(self.sample_items(sample)) > 1)
        segs_out: list[SegmentBlobs] = []
        seg_values: dict[tuple[str, str | None], list[list[Segment]]] = {}
        elements_out: list[ElementBlobs] = []
        for method in methods:
            for segmenter in segmenters:
                _, guided = parse_segmenter(segmenter)
                skey = (segmenter, method if guided else None)
                if skey not in seg_values:
                    parts = self.seg_key_parts(sample, segmenter)
                    guide = [h.values for h in heat[method]] if guided else None
                    computed = self.compute_segments(sample, segmenter, guide, params.top_p, reporter)
                    seg_values[skey] = [s for s, _ in computed]
                    segs_out.append(
                        SegmentBlobs(
                            segmenter=segmenter,
                            method=skey[1],
                            parts=tuple(parts),
                            top_p=params.top_p if guided else None,
                            params=dict(self.segmenter(segmenter).params),
                            n_segments=tuple(len(s) for s in seg_values[skey]),
                            npz=tuple(b for _, b in computed),
                        )
                    )
                records = rank_elements(heat[method], seg_values[skey], params)
                elements_out.append(ElementBlobs(method, segmenter, pkey, params, tuple(records)))
        return SampleExplanation(tuple(maps_out), tuple(segs_out), tuple(elements_out))


class CheckpointExplainCore(ExplainCore):
    """An :class:`ExplainCore` whose model is read from a checkpoint file (an engine worker's).

    ``model_hash``: the content hash the driver saw; a worker that reads a different file (a stale
    copy on another node) refuses to start, so every key it computes matches the driver's.
    """

    def __init__(self, checkpoint: str | os.PathLike, model_name: str, *, model_hash: str | None = None, **kwargs: Any):
        actual = file_hash(checkpoint)
        if model_hash is not None and actual != model_hash:
            raise GeoQuizError(
                f"the checkpoint of model {model_name!r} at {checkpoint} differs from the driver's copy "
                f"(content hash {actual[:12]} != {model_hash[:12]}); give every worker the same file"
            )
        super().__init__(model_name, model_hash=actual, **kwargs)
        self.checkpoint = str(checkpoint)
        self._model = None

    def _load_model(self) -> Any:
        if self._model is None:
            from geoquiz.models.checkpoint import load_checkpoint

            self._model = load_checkpoint(self.checkpoint, device=self.device)
        return self._model


class Explainer(ExplainCore):
    """Cached attributions, segmentations and elements for model ``model_name`` of ``project``.

    ``method_params`` / ``segmenter_params``: per-name keyword settings (e.g.
    ``{"scorecam": {"channels": 128}}``, ``{"sam_vit_b": {"points_per_side": 16}}``);
    ``segmenter_settings``: checkpoint paths (default: the project's settings);
    ``segmenter_objects``: ready segmenters to use for these names instead of building them from
    the registry (custom segmenters, benchmarks, tests). One instance per thread: it uses the
    project's database connection.
    """

    def __init__(
        self,
        project: Any,
        model_name: str,
        *,
        device: str = "auto",
        method_params: dict[str, dict] | None = None,
        segmenter_params: dict[str, dict] | None = None,
        segmenter_settings: SegmenterSettings | None = None,
        segmenter_objects: dict[str, Any] | None = None,
    ) -> None:
        from geoquiz.models.spec import ModelSpec
        from geoquiz.models.store import get_model

        info = get_model(project.db, model_name)
        super().__init__(
            model_name,
            model_hash=file_hash(info.resolve(project.root)),
            spec=ModelSpec.from_dict(info.metadata["spec"]) if "spec" in info.metadata else None,
            device=device,
            method_params=method_params,
            segmenter_params=segmenter_params,
            segmenter_settings=segmenter_settings or project.settings.segmenters,
            segmenter_objects=segmenter_objects,
        )
        self.project = project
        self.info = info
        self.cache_dir = Path(project.root) / "cache"

    def _load_model(self) -> Any:
        from geoquiz.models.store import load_project_model

        return load_project_model(self.project, self.model_name, self.device)

    @property
    def checkpoint(self) -> Path:
        """The model's checkpoint file (absolute)."""
        return self.info.resolve(self.project.root)

    # --- attribution maps -------------------------------------------------------------------
    def _map_records(
        self,
        sample: ImageItem | Location,
        method: str,
        target: int | str | None,
        reporter: Reporter | None = None,
    ) -> list[tuple[int, Heatmap]]:
        items = self.sample_items(sample)
        keys, views, params, _ = self.map_keys(sample, method, target)
        db = self.project.db
        rows = [
            db.execute("SELECT id, path, target FROM attribution_maps WHERE cache_key = ?", [k]).fetchone()
            for k in keys
        ]
        if all(rows):
            loaded = [_load_npz(self.cache_dir / r[1]) for r in rows]
            if all(d is not None for d in loaded):
                self.stats["maps_cached"] += len(rows)
                return [
                    (int(r[0]), Heatmap(_dequantise(d["values"]), method, str(r[2]), v, dict(params)))
                    for r, d, v in zip(rows, loaded, views)
                ]
        computed = self.compute_maps(sample, method, target, reporter)
        heatmaps = [h for h, _ in computed]
        ids = self.store_maps(
            items, keys, method, params, [h.view for h in heatmaps], [h.target for h in heatmaps],
            [b for _, b in computed],
        )  # fmt: skip
        return list(zip(ids, heatmaps))

    def store_maps(
        self,
        items: Sequence[ImageItem],
        keys: Sequence[str],
        method: str,
        params: dict,
        views: Sequence[str | None],
        targets: Sequence[str],
        blobs: Sequence[bytes],
    ) -> list[int]:
        """Write one sample's map files and index rows (one per view); returns the rows' ids."""
        db = self.project.db
        out = []
        with transaction(db):
            for key, it, view, target, blob in zip(keys, items, views, targets, blobs):
                rel = f"maps/{key[:2]}/{key}.npz"
                _write_blob(self.cache_dir / rel, blob)
                db.execute(
                    "INSERT INTO attribution_maps (cache_key, model_id, image_id, view, method, target, params_json, path, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET path = excluded.path, "
                    "target = excluded.target, created_at = excluded.created_at",
                    [key, self.info.id, it.id, view, method, target, json.dumps(params, default=str), rel, now()],
                )
                out.append(int(db.execute("SELECT id FROM attribution_maps WHERE cache_key = ?", [key]).fetchone()[0]))
        self.stats["maps_computed"] += len(out)
        return out

    def heatmaps(
        self,
        sample: ImageItem | Location,
        method: str,
        target: int | str | None = None,
        *,
        reporter: Reporter | None = None,
    ) -> list[Heatmap]:
        """One map per view (float32 S x S in [0, 1]); ``target``: class name or index, default predicted."""
        return [h for _, h in self._map_records(sample, method, target, reporter)]

    # --- segmentations ----------------------------------------------------------------------
    def _seg_records(
        self,
        sample: ImageItem | Location,
        segmenter: str,
        method: str | None = None,
        target: int | str | None = None,
        params: ElementSettings | None = None,
        reporter: Reporter | None = None,
    ) -> list[tuple[int, list[Segment]]]:
        from geoquiz.segmentation import parse_segmenter

        _, guided = parse_segmenter(segmenter)
        items = self.sample_items(sample)
        seg = self.segmenter(segmenter)
        guide: list[tuple[int, Heatmap]] | None = None
        top_p = (params or self.project.settings.elements).top_p
        if guided:
            if method is None:
                raise GeoQuizError(
                    f"segmenter {segmenter!r} is guided by an attribution map: give the method"
                )
            guide = self._map_records(sample, method, target, reporter)
        keys = seg_keys(
            self.seg_key_parts(sample, segmenter), [g[0] for g in guide] if guide else None, top_p
        )
        db = self.project.db
        rows = [
            db.execute("SELECT id, path FROM segmentations WHERE cache_key = ?", [k]).fetchone() for k in keys
        ]
        if all(rows):
            loaded = [_load_npz(self.cache_dir / r[1]) for r in rows]
            if all(d is not None for d in loaded):
                from geoquiz.segmentation.base import unpack_masks

                self.stats["segmentations_cached"] += len(rows)
                return [(int(r[0]), unpack_masks(d)) for r, d in zip(rows, loaded)]
        computed = self.compute_segments(
            sample, segmenter, [g[1].values for g in guide] if guide else None, top_p, reporter
        )
        ids = self.store_segments(
            items, keys, segmenter, seg.params, [len(s) for s, _ in computed], [b for _, b in computed]
        )
        return [(i, s) for i, (s, _) in zip(ids, computed)]

    def store_segments(
        self,
        items: Sequence[ImageItem],
        keys: Sequence[str],
        segmenter: str,
        params: dict,
        n_segments: Sequence[int],
        blobs: Sequence[bytes],
    ) -> list[int]:
        """Write one sample's segmentation files and index rows (one per view); returns their ids."""
        db = self.project.db
        out = []
        with transaction(db):
            for key, it, n, blob in zip(keys, items, n_segments, blobs):
                rel = f"segments/{key[:2]}/{key}.npz"
                _write_blob(self.cache_dir / rel, blob)
                db.execute(
                    "INSERT INTO segmentations (cache_key, image_id, segmenter, params_json, n_segments, path, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET path = excluded.path, "
                    "n_segments = excluded.n_segments, created_at = excluded.created_at",
                    [key, it.id, segmenter, json.dumps(params, default=str), int(n), rel, now()],
                )
                out.append(int(db.execute("SELECT id FROM segmentations WHERE cache_key = ?", [key]).fetchone()[0]))
        self.stats["segmentations_computed"] += len(out)
        return out

    def segments(
        self,
        sample: ImageItem | Location,
        segmenter: str,
        *,
        method: str | None = None,
        target: int | str | None = None,
        reporter: Reporter | None = None,
    ) -> list[list[Segment]]:
        """Segments of each view (at S x S), one list per view; ``method`` only for ``:guided``."""
        return [s for _, s in self._seg_records(sample, segmenter, method, target, None, reporter)]

    # --- elements ---------------------------------------------------------------------------
    def elements(
        self,
        sample: ImageItem | Location,
        method: str,
        segmenter: str,
        params: ElementSettings | None = None,
        *,
        target: int | str | None = None,
        reporter: Reporter | None = None,
    ) -> list[Element]:
        """Ranked object-like elements (paper 000, 3.3) of the sample; ``Element.view`` set for 4 views."""
        return [
            e
            for e, _ in self.element_records(
                sample, method, segmenter, params, target=target, reporter=reporter
            )
        ]

    def element_records(
        self,
        sample: ImageItem | Location,
        method: str,
        segmenter: str,
        params: ElementSettings | None = None,
        *,
        target: int | str | None = None,
        reporter: Reporter | None = None,
    ) -> list[tuple[Element, int]]:
        """Like :meth:`elements`, each with the index of its segment in its view's segment list."""
        params = params or self.project.settings.elements
        maps = self._map_records(sample, method, target, reporter)
        segs = self._seg_records(sample, segmenter, method, target, params, reporter)
        pkey = element_params_key(params, len(maps) > 1)
        db = self.project.db
        pairs = [(m[0], s[0]) for m, s in zip(maps, segs)]
        sets = [
            db.execute(
                "SELECT id FROM element_sets WHERE attribution_map_id = ? AND segmentation_id = ? AND params_key = ?",
                [mid, sid, pkey],
            ).fetchone()
            for mid, sid in pairs
        ]
        if all(sets):
            self.stats["elements_cached"] += len(sets)
            return self._read_elements(pairs, pkey)
        records = rank_elements([h for _, h in maps], [s for _, s in segs], params)
        self._write_elements(pairs, [h.view for _, h in maps], pkey, params, records)
        return records

    def _write_elements(self, pairs, views, pkey, params, records) -> None:  # noqa: ANN001
        """Replace the element sets of ``pairs`` (map id, segmentation id), one per view, with ``records``."""
        db = self.project.db
        view_of = dict(zip(views, pairs))
        with transaction(db):
            for mid, sid in pairs:
                db.execute(
                    "DELETE FROM elements WHERE attribution_map_id = ? AND segmentation_id = ? AND params_key = ?",
                    [mid, sid, pkey],
                )
                count = sum(1 for e, _ in records if view_of[e.view] == (mid, sid))
                db.execute(
                    "INSERT INTO element_sets (attribution_map_id, segmentation_id, params_key, params_json, n_elements, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(attribution_map_id, segmentation_id, params_key) "
                    "DO UPDATE SET n_elements = excluded.n_elements, created_at = excluded.created_at",
                    [mid, sid, pkey, json.dumps(dataclasses.asdict(params)), count, now()],
                )
            for e, seg_index in records:
                mid, sid = view_of[e.view]
                db.execute(
                    "INSERT INTO elements (attribution_map_id, segmentation_id, params_key, rank, x0, y0, x1, y1, score, overlap, "
                    "mean_attr, centre_attr, view, segment_index, segment_x0, segment_y0, segment_x1, segment_y1, segment_area) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [mid, sid, pkey, e.rank, *e.box.as_tuple(), e.score, e.overlap, e.mean_attr, e.centre_attr, e.view,
                     seg_index, *e.segment_box.as_tuple(), e.segment_area],
                )  # fmt: skip
        self.stats["elements_computed"] += len(pairs)

    def _read_elements(self, pairs, pkey) -> list[tuple[Element, int]]:  # noqa: ANN001
        out = []
        for mid, sid in pairs:
            rows = self.project.db.execute(
                "SELECT rank, x0, y0, x1, y1, score, overlap, mean_attr, centre_attr, view, segment_index, "
                "segment_x0, segment_y0, segment_x1, segment_y1, segment_area FROM elements "
                "WHERE attribution_map_id = ? AND segmentation_id = ? AND params_key = ?",
                [mid, sid, pkey],
            ).fetchall()
            for r in rows:
                e = Element(
                    rank=int(r[0]), box=Box(*r[1:5]), score=float(r[5]), overlap=float(r[6]), mean_attr=float(r[7]),
                    centre_attr=float(r[8]), segment_box=Box(*r[11:15]), segment_area=int(r[15]), view=r[9],
                )  # fmt: skip
                out.append((e, int(r[10])))
        out.sort(key=lambda pair: pair[0].rank)
        return out

    # --- results computed elsewhere (engine workers) -------------------------------------------
    def store_explanation(self, sample: ImageItem | Location, explanation: SampleExplanation) -> None:
        """Store a worker's :class:`SampleExplanation` of ``sample`` in one transaction, through the
        same functions as the interactive path (:meth:`store_maps`, :meth:`store_segments`,
        :meth:`_write_elements`), completing the keys of guided segmentations with the map row ids."""
        from geoquiz.segmentation import parse_segmenter

        items = self.sample_items(sample)
        with transaction(self.project.db):
            map_ids: dict[str, list[int]] = {}
            views: dict[str, tuple[str | None, ...]] = {}
            for m in explanation.maps:
                map_ids[m.method] = self.store_maps(items, m.keys, m.method, m.params, m.views, m.targets, m.npz)
                views[m.method] = m.views
            seg_ids: dict[tuple[str, str | None], list[int]] = {}
            for s in explanation.segments:
                guide = map_ids[s.method] if s.method is not None else None
                keys = seg_keys(s.parts, guide, s.top_p)
                seg_ids[(s.segmenter, s.method)] = self.store_segments(
                    items, keys, s.segmenter, s.params, s.n_segments, s.npz
                )
            for e in explanation.elements:
                _, guided = parse_segmenter(e.segmenter)
                pairs = list(zip(map_ids[e.method], seg_ids[(e.segmenter, e.method if guided else None)]))
                self._write_elements(pairs, views[e.method], e.pkey, e.params, e.records)

    def explained(
        self,
        samples: Sequence[ImageItem | Location],
        methods: Sequence[str],
        segmenters: Sequence[str],
        params: ElementSettings,
    ) -> dict[str, int]:
        """``{sample key: number of elements}`` of the samples already explained: for every image of
        the sample and every method x segmenter, the index holds an element set of this model with
        these element settings, on a map with these method parameters and a segmentation with these
        segmenter parameters.

        This asks the database only (no image is read or hashed, so a batch driver never touches the
        pixels). It does not see an image or checkpoint file changed in place under the same row, nor
        the target a map was made for (a map the app made for a chosen class that is also the
        predicted one counts as explained); the content-keyed cache still serves exact values when
        :meth:`elements` is asked later.
        """
        if not samples:
            return {}
        pkey = element_params_key(params, self.n_views > 1)
        found: list[dict[int, int]] = []
        for method in methods:
            mparams = json.dumps(self._method_params(method), default=str)
            for segmenter in segmenters:
                sparams = json.dumps(self.segmenter(segmenter).params, default=str)
                rows = self.project.db.execute(
                    "SELECT am.image_id, es.n_elements FROM element_sets es "
                    "JOIN attribution_maps am ON am.id = es.attribution_map_id "
                    "JOIN segmentations sg ON sg.id = es.segmentation_id "
                    "WHERE es.params_key = ? AND am.model_id = ? AND am.method = ? AND am.params_json = ? "
                    "AND sg.segmenter = ? AND sg.params_json = ? AND sg.image_id = am.image_id "
                    "ORDER BY es.id",
                    [pkey, self.info.id, method, mparams, segmenter, sparams],
                ).fetchall()
                found.append({int(i): int(n) for i, n in rows})
        out = {}
        for sample in samples:
            ids = [it.id for it in self.sample_items(sample)]
            if all(i in combo for combo in found for i in ids):
                out[sample.key] = sum(combo[i] for combo in found for i in ids)
        return out


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
    this process, reusing the cache as the app does). Samples already explained with these settings
    are skipped (:meth:`Explainer.explained`); a sample that fails (a corrupt image ...) is listed
    with its error and the run goes on. Returns a summary: counts, elements, cache statistics,
    seconds, the engine, skipped and failed samples.
    """
    from geoquiz.data.dataset import get_dataset, load_items, load_locations
    from geoquiz.engine import LocalEngine, run_items
    from geoquiz.engine.base import GroupedStore, shifted
    from geoquiz.engine.jobs import ExplainJob

    ex = explainer or Explainer(project, model_name)
    params = params or project.settings.elements
    methods = list(dict.fromkeys(methods))
    segmenters = list(dict.fromkeys(segmenters))
    if not methods or not segmenters:
        raise GeoQuizError("explain needs at least one method and one segmenter")
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
            engine, job, samples, store=grouped or store, done_keys=done, reporter=shifted(reporter, len(done))
        )
    step(reporter, len(samples), len(samples), "done")
    return {
        "model": model_name,
        "dataset": dataset,
        "split": split,
        "samples": len(samples),
        "methods": list(methods),
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
