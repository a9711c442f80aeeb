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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from collections import Counter
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


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


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


class Explainer:
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

        self.project = project
        self.model_name = model_name
        self.device = device
        self.info = get_model(project.db, model_name)
        self.spec = ModelSpec.from_dict(self.info.metadata["spec"]) if "spec" in self.info.metadata else None
        self.method_params = dict(method_params or {})
        self.segmenter_params = dict(segmenter_params or {})
        self.segmenter_settings = segmenter_settings or project.settings.segmenters
        self.segmenter_objects = dict(segmenter_objects or {})
        self.model_hash = file_hash(self.info.resolve(project.root))
        self.cache_dir = Path(project.root) / "cache"
        self.stats: Counter = Counter(
            {k: 0 for k in ("maps_computed", "maps_cached", "segmentations_computed", "segmentations_cached", "elements_computed", "elements_cached")}
        )  # fmt: skip
        self._attributors: dict[str, Any] = {}

    # --- model and inputs ------------------------------------------------------------------
    @property
    def loaded_model(self) -> Any:
        from geoquiz.models.store import load_project_model

        lm = load_project_model(self.project, self.model_name, self.device)
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

    # --- attribution maps -------------------------------------------------------------------
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

    def _map_records(
        self,
        sample: ImageItem | Location,
        method: str,
        target: int | str | None,
        reporter: Reporter | None = None,
    ) -> list[tuple[int, Heatmap]]:
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
        views = [None] if len(items) == 1 else list(VIEWS)
        keys = [_key("map", base, v) for v in views]
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
        heatmaps = self.attributor(method)(
            self.read(sample), None if target is None else tname, reporter=reporter
        )
        out = []
        with transaction(db):
            for key, it, h in zip(keys, items, heatmaps):
                rel = f"maps/{key[:2]}/{key}.npz"
                q = _quantise(h.values)
                _save_npz(self.cache_dir / rel, values=q)
                db.execute(
                    "INSERT INTO attribution_maps (cache_key, model_id, image_id, view, method, target, params_json, path, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET path = excluded.path, "
                    "target = excluded.target, created_at = excluded.created_at",
                    [
                        key,
                        self.info.id,
                        it.id,
                        h.view,
                        method,
                        h.target,
                        json.dumps(params, default=str),
                        rel,
                        now(),
                    ],
                )
                row_id = int(
                    db.execute("SELECT id FROM attribution_maps WHERE cache_key = ?", [key]).fetchone()[0]
                )
                out.append((row_id, dataclasses.replace(h, values=_dequantise(q))))
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
    def segmenter(self, name: str) -> Any:
        from geoquiz.segmentation import get_segmenter, parse_segmenter

        base, _ = parse_segmenter(name)
        if base in self.segmenter_objects:
            return self.segmenter_objects[base]
        return get_segmenter(
            base, self.segmenter_settings, self.device, **self.segmenter_params.get(base, {})
        )

    def _seg_records(
        self,
        sample: ImageItem | Location,
        segmenter: str,
        method: str | None = None,
        target: int | str | None = None,
        params: ElementSettings | None = None,
        reporter: Reporter | None = None,
    ) -> list[tuple[int, list[Segment]]]:
        from geoquiz.segmentation import SEGMENTERS, checkpoint_path, parse_segmenter

        name, guided = parse_segmenter(segmenter)
        items = self.sample_items(sample)
        seg = self.segmenter(segmenter)
        ckpt = checkpoint_path(name, self.segmenter_settings)
        ckpt_id = [Path(ckpt).name, Path(ckpt).stat().st_size] if ckpt and Path(ckpt).is_file() else None
        guide: list[tuple[int, Heatmap]] | None = None
        top_p = (params or self.project.settings.elements).top_p
        if guided:
            if method is None:
                raise GeoQuizError(
                    f"segmenter {segmenter!r} is guided by an attribution map: give the method"
                )
            guide = self._map_records(sample, method, target, reporter)
        size = self.spec.input_size if self.spec else None
        keys = []
        for i, it in enumerate(items):
            extra = [guide[i][0], top_p] if guide else None
            keys.append(
                _key(
                    "seg",
                    file_hash(it.path),
                    size,
                    segmenter,
                    seg.params,
                    ckpt_id,
                    SEGMENTERS[name].arch,
                    extra,
                )
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
        from geoquiz.segmentation.base import pack_masks

        images = self.model_views(sample)
        out = []
        results = []
        for i, image in enumerate(images):
            step(reporter, i, len(images), f"segmenting ({segmenter})")
            results.append(
                seg.segment_guided(image, guide[i][1].values, top_p) if guide else seg.segment(image)
            )
        with transaction(db):
            for key, it, image, segs in zip(keys, items, images, results):
                rel = f"segments/{key[:2]}/{key}.npz"
                _save_npz(self.cache_dir / rel, **pack_masks(segs, image.shape[:2]))
                db.execute(
                    "INSERT INTO segmentations (cache_key, image_id, segmenter, params_json, n_segments, path, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET path = excluded.path, "
                    "n_segments = excluded.n_segments, created_at = excluded.created_at",
                    [key, it.id, segmenter, json.dumps(seg.params, default=str), len(segs), rel, now()],
                )
                out.append(
                    (
                        int(
                            db.execute("SELECT id FROM segmentations WHERE cache_key = ?", [key]).fetchone()[
                                0
                            ]
                        ),
                        segs,
                    )
                )
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
        joint = len(maps) > 1
        pkey = _key("elements", dataclasses.asdict(params), joint)
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
        threshold = salient_threshold([h.values for _, h in maps], params.top_p) if joint else None
        per_view = []
        for (_, h), (_, view_segs) in zip(maps, segs):
            per_view.append(select_elements(h.values, view_segs, params, h.view, threshold))
        # rank the views' elements together, as geoquiz.elements.merge_views does, keeping segment indices
        flat = [(e, i) for picked in per_view for i, e in picked]
        flat.sort(key=lambda p: (-p[0].score, VIEWS.index(p[0].view) if p[0].view else 0, p[0].rank))
        if joint and params.max_elements:
            flat = flat[: params.max_elements]
        records = [(dataclasses.replace(e, rank=r), i) for r, (e, i) in enumerate(flat, start=1)]
        self._write_elements(pairs, maps, pkey, params, records)
        self.stats["elements_computed"] += len(pairs)
        return records

    def _write_elements(self, pairs, maps, pkey, params, records) -> None:  # noqa: ANN001
        db = self.project.db
        view_of = {h.view: pair for pair, (_, h) in zip(pairs, maps)}
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
) -> dict[str, Any]:
    """Maps, segments and elements for every image (or 4-view location) of ``dataset``/``split``
    (``None`` = all splits), every method and every segmenter; cached, so a re-run is cheap.
    Returns a summary: counts, cache statistics and seconds."""
    from geoquiz.data.dataset import get_dataset, load_items, load_locations

    ex = explainer or Explainer(project, model_name)
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
    start = time.perf_counter()
    n_elements = 0
    total = len(samples) * len(methods)
    done = 0
    for sample in samples:
        for method in methods:
            step(reporter, done, total, f"{sample.key} {method}")
            ex.heatmaps(sample, method)
            for seg in segmenters:
                n_elements += len(ex.elements(sample, method, seg, params))
            done += 1
    step(reporter, total, total, "done")
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
    }
