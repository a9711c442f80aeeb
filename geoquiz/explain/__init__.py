"""Explanations of a project's model, cached on disk and indexed in the database.

    ex = Explainer(project, "geoscenes-demo")
    maps = ex.heatmaps(item, "gradcampp")                 # list[Heatmap], one per view
    segs = ex.segments(item, "default")                   # list[list[Segment]], one list per view
    elements = ex.elements(item, "gradcampp", "default")  # list[Element], rank 1 = best
    ex.stats                                              # computed vs served from the cache

Everything happens at the model's input resolution ``S`` (``spec.input_size``): each view is
resized to ``S x S`` exactly as the model sees it, segmented there, and element boxes are in that
frame. :class:`ImageFrame` (:mod:`geoquiz.explain.frames`) maps maps, boxes, elements and masks to
the original ``W x H`` image for display (``Explainer.image_frames(sample)`` gives one per view).

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

:func:`explain_dataset` runs a dataset through an engine (see :class:`geoquiz.explain.jobs.ExplainJob`):
in process it uses the driver's :class:`Explainer` (cache reuse, as the app); on Ray each worker
computes whole samples and the driver stores them, a group of samples per transaction. Samples
whose element sets for every method x segmenter (with these parameters) are already indexed are
skipped (:meth:`Explainer.explained`).

Modules:

``cache``      cache keys (:func:`element_params_key`, :func:`seg_keys`), ``.npz``
               bytes and files, map quantisation, and the plain-data :class:`SampleExplanation`
               (:class:`MapBlobs`, :class:`SegmentBlobs`, :class:`ElementBlobs`)
``core``       :func:`rank_elements`, :class:`ExplainCore` and :class:`CheckpointExplainCore` (compute)
``explainer``  :class:`Explainer` (cache look-up and store: files and database rows)
``batch``      :func:`explain_dataset` (a dataset through an engine)
``frames``     :class:`ImageFrame`: model-input frame -> image frame (maps, boxes, elements, masks)

The names below are re-exported here; ``from geoquiz.explain import Explainer`` is the usual entry.
"""

from __future__ import annotations

from geoquiz.explain.batch import explain_dataset
from geoquiz.explain.cache import (
    CACHE_VERSION,
    ElementBlobs,
    MapBlobs,
    SampleExplanation,
    SegmentBlobs,
    element_params_key,
    encode_npz,
    seg_keys,
)
from geoquiz.explain.core import PREDICTED, STAT_NAMES, CheckpointExplainCore, ExplainCore, rank_elements
from geoquiz.explain.explainer import Explainer
from geoquiz.explain.frames import ImageFrame, box_to_image, heatmap_to_image, mask_to_image
from geoquiz.hashing import file_hash

__all__ = [
    "CACHE_VERSION",
    "PREDICTED",
    "STAT_NAMES",
    "CheckpointExplainCore",
    "ElementBlobs",
    "ExplainCore",
    "Explainer",
    "ImageFrame",
    "MapBlobs",
    "SampleExplanation",
    "SegmentBlobs",
    "box_to_image",
    "element_params_key",
    "encode_npz",
    "explain_dataset",
    "file_hash",
    "heatmap_to_image",
    "mask_to_image",
    "rank_elements",
    "seg_keys",
]
