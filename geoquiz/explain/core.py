"""The computing half of the explanations: :func:`rank_elements`, :class:`ExplainCore` (model,
attributors, segmenters, cache keys, ``.npz`` bytes; never the database) and
:class:`CheckpointExplainCore` (an engine worker's core, model read from a checkpoint file).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from geoquiz.config import ElementSettings, SegmenterSettings
from geoquiz.elements import salient_threshold, select_elements
from geoquiz.errors import GeoQuizError
from geoquiz.explain.cache import (
    ElementBlobs,
    MapBlobs,
    SampleExplanation,
    SegmentBlobs,
    _dequantise,
    _key,
    _quantise,
    element_params_key,
    encode_npz,
)
from geoquiz.hashing import file_hash
from geoquiz.progress import Reporter, step
from geoquiz.types import VIEWS, Element, Heatmap, ImageItem, Location, Segment

PREDICTED = "__predicted__"
STAT_NAMES = (
    "maps_computed",
    "maps_cached",
    "segmentations_computed",
    "segmentations_cached",
    "elements_computed",
    "elements_cached",
)


def rank_elements(
    maps: Sequence[Heatmap], segs: Sequence[Sequence[Segment]], params: ElementSettings
) -> list[tuple[Element, int]]:
    """Elements of one sample from its maps and segments (one per view), ranked across views, each
    with the index of its segment in its view's segment list."""
    joint = len(maps) > 1
    threshold = salient_threshold([h.values for h in maps], params.top_p) if joint else None
    per_view = [select_elements(h.values, s, params, h.view, threshold) for h, s in zip(maps, segs)]
    # rank the views' elements together, as geoquiz.elements.merge_views does, keeping segment indices
    flat = [(_named(e, s[i]), i) for picked, s in zip(per_view, segs) for i, e in picked]
    flat.sort(key=lambda p: (-p[0].score, VIEWS.index(p[0].view) if p[0].view else 0, p[0].rank))
    if joint and params.max_elements:
        flat = flat[: params.max_elements]
    return [(dataclasses.replace(e, rank=r), i) for r, (e, i) in enumerate(flat, start=1)]


def segment_coverage(segments: Sequence[Segment]) -> float:
    """Fraction of the image's pixels inside the union of its segments' masks (0 for none)."""
    if not segments:
        return 0.0
    union = np.zeros(segments[0].mask.shape, dtype=bool)
    for s in segments:
        union |= s.mask
    return float(union.mean())


def _named(element: Element, segment: Segment) -> Element:
    """The element with its segment's concept, tag and concept score (concept-prompted segmenters)."""
    if segment.concept is None:
        return element
    return dataclasses.replace(
        element, concept=segment.concept, tag=segment.tag, concept_score=float(segment.quality)
    )


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
        from geoquiz.attribution.params import check_method_params

        self.method_params = check_method_params(method_params)
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

    def image_frames(self, sample: ImageItem | Location) -> list[Any]:
        """Per view, the :class:`~geoquiz.explain.frames.ImageFrame` mapping this sample's maps, boxes
        and masks (computed at ``S x S``) to its original image (size from the item, else the file)."""
        from geoquiz.explain.frames import ImageFrame

        size = (self.spec or self.loaded_model.spec).input_size
        frames = []
        for it in self.sample_items(sample):
            if it.width and it.height:
                w, h = int(it.width), int(it.height)
            else:
                from PIL import Image

                with Image.open(it.path) as im:
                    w, h = im.size
            frames.append(ImageFrame(int(size), w, h))
        return frames

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

    def check_segmenters(self, segmenters: Sequence[str], *, load: bool = True) -> None:
        """Fail before any work when a requested segmenter cannot run. Every name is checked cheaply
        (:func:`geoquiz.segmentation.require_ready`: package, checkpoint set and present, SAM3's
        checkpoint folder); with ``load`` (the default) each model is also loaded now, so a
        checkpoint of the wrong model stops the run with one :class:`~geoquiz.errors.CheckpointError`
        naming the file. Loaded segmenters are cached per process, so the run then uses them
        without loading again."""
        from geoquiz.segmentation import parse_segmenter, require_ready

        require_ready(segmenters, self.segmenter_settings, skip=tuple(self.segmenter_objects))
        if load:
            for name in dict.fromkeys(parse_segmenter(s)[0] for s in segmenters):
                seg_load = getattr(self.segmenter(name), "load", None)
                if callable(seg_load):
                    seg_load()

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
        from geoquiz.segmentation import SEGMENTERS, checkpoint_id, checkpoint_path, parse_segmenter

        name, _ = parse_segmenter(segmenter)
        seg = self.segmenter(segmenter)
        ckpt_id = checkpoint_id(checkpoint_path(name, self.segmenter_settings))
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
            results.append(
                seg.segment_guided(image, guide[i], top_p) if guide is not None else seg.segment(image)
            )
        return [
            (segs, encode_npz(**pack_masks(segs, image.shape[:2]))) for image, segs in zip(images, results)
        ]

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
                            coverage=tuple(segment_coverage(s) for s in seg_values[skey]),
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

    def __init__(
        self, checkpoint: str | os.PathLike, model_name: str, *, model_hash: str | None = None, **kwargs: Any
    ):
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
