"""The storing half of the explanations: :class:`Explainer`, an :class:`~geoquiz.explain.core.ExplainCore`
with a project. It looks up the cache (files under ``<project>/cache/`` + index rows), computes on
a miss and stores (``store_maps``, ``store_segments``, ``_write_elements``);
:meth:`Explainer.store_explanation` stores a worker's :class:`~geoquiz.explain.cache.SampleExplanation`
through the same functions, and :meth:`Explainer.explained` lists the samples already done.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geoquiz.boxes import Box
from geoquiz.config import ElementSettings, SegmenterSettings
from geoquiz.db import now, transaction
from geoquiz.errors import GeoQuizError
from geoquiz.explain.cache import (
    SampleExplanation,
    _dequantise,
    _load_npz,
    _write_blob,
    element_params_key,
    seg_keys,
)
from geoquiz.explain.core import ExplainCore, rank_elements
from geoquiz.hashing import file_hash
from geoquiz.progress import Reporter
from geoquiz.types import Element, Heatmap, ImageItem, Location, Segment


def with_vocabulary(segmenter_params: dict[str, dict] | None, project: Any) -> dict[str, dict]:
    """``segmenter_params`` with the project's concept vocabulary (``[concepts] vocabulary``, resolved
    against the project folder) for every concept-prompted segmenter that is not given one."""
    from geoquiz.segmentation import SEGMENTERS
    from geoquiz.segmentation.concepts import resolve_vocabulary_path

    out = {k: dict(v) for k, v in (segmenter_params or {}).items()}
    setting = project.settings.concepts.vocabulary
    if setting:
        path = str(resolve_vocabulary_path(setting, project.root))
        for name, info in SEGMENTERS.items():
            if info.concepts:
                out.setdefault(name, {}).setdefault("concepts", path)
    return out


class Explainer(ExplainCore):
    """Cached attributions, segmentations and elements for model ``model_name`` of ``project``.

    ``method_params`` / ``segmenter_params``: per-name keyword settings (e.g.
    ``{"scorecam": {"channels": 128}}``, ``{"sam_vit_b": {"points_per_side": 16}}``);
    ``segmenter_settings``: checkpoint paths (default: the project's settings); concept-prompted
    segmenters (SAM3) get the project's concept vocabulary (``[concepts] vocabulary``) unless
    ``segmenter_params`` names one;
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
        segmenter_params = with_vocabulary(segmenter_params, project)
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
            items,
            keys,
            method,
            params,
            [h.view for h in heatmaps],
            [h.target for h in heatmaps],
            [b for _, b in computed],
        )
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
                    [
                        key,
                        self.info.id,
                        it.id,
                        view,
                        method,
                        target,
                        json.dumps(params, default=str),
                        rel,
                        now(),
                    ],
                )
                out.append(
                    int(
                        db.execute("SELECT id FROM attribution_maps WHERE cache_key = ?", [key]).fetchone()[0]
                    )
                )
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
                out.append(
                    int(db.execute("SELECT id FROM segmentations WHERE cache_key = ?", [key]).fetchone()[0])
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

    def segment_stats(
        self,
        sample: ImageItem | Location,
        segmenter: str,
        method: str | None = None,
        params: ElementSettings | None = None,
    ) -> tuple[int, float]:
        """``(segments, coverage)`` of the sample's (cached) segmentation: the number of segments
        over all views and the mean over views of the fraction of pixels inside their union. The
        segmentation :meth:`element_records` has just used is not read again."""
        from geoquiz.explain.core import segment_coverage

        key = self._memo_key(sample, segmenter, method, params)
        memo = getattr(self, "_last_segs", None)
        segs = memo[1] if memo is not None and memo[0] == key else None
        if segs is None:
            segs = self._seg_records(sample, segmenter, method, None, params)
        return sum(len(s) for _, s in segs), float(np.mean([segment_coverage(s) for _, s in segs]))

    def _memo_key(self, sample, segmenter, method, params) -> tuple:
        from geoquiz.segmentation import parse_segmenter

        guided = parse_segmenter(segmenter)[1]
        top_p = (params or self.project.settings.elements).top_p
        return (type(sample).__name__, sample.id, sample.key, segmenter, method if guided else None, top_p)

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
        if target is None:
            self._last_segs = (self._memo_key(sample, segmenter, method, params), segs)
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

    def _write_elements(self, pairs, views, pkey, params, records) -> None:
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
                    "mean_attr, centre_attr, view, segment_index, segment_x0, segment_y0, segment_x1, segment_y1, segment_area, "
                    "concept, tag, concept_score) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        mid,
                        sid,
                        pkey,
                        e.rank,
                        *e.box.as_tuple(),
                        e.score,
                        e.overlap,
                        e.mean_attr,
                        e.centre_attr,
                        e.view,
                        seg_index,
                        *e.segment_box.as_tuple(),
                        e.segment_area,
                        e.concept,
                        e.tag,
                        e.concept_score,
                    ],
                )
        self.stats["elements_computed"] += len(pairs)

    def _read_elements(self, pairs, pkey) -> list[tuple[Element, int]]:
        out = []
        for mid, sid in pairs:
            rows = self.project.db.execute(
                "SELECT rank, x0, y0, x1, y1, score, overlap, mean_attr, centre_attr, view, segment_index, "
                "segment_x0, segment_y0, segment_x1, segment_y1, segment_area, concept, tag, concept_score FROM elements "
                "WHERE attribution_map_id = ? AND segmentation_id = ? AND params_key = ?",
                [mid, sid, pkey],
            ).fetchall()
            for r in rows:
                e = Element(
                    rank=int(r[0]),
                    box=Box(*r[1:5]),
                    score=float(r[5]),
                    overlap=float(r[6]),
                    mean_attr=float(r[7]),
                    centre_attr=float(r[8]),
                    segment_box=Box(*r[11:15]),
                    segment_area=int(r[15]),
                    view=r[9],
                    concept=r[16],
                    tag=r[17],
                    concept_score=None if r[18] is None else float(r[18]),
                )
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
                map_ids[m.method] = self.store_maps(
                    items, m.keys, m.method, m.params, m.views, m.targets, m.npz
                )
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
