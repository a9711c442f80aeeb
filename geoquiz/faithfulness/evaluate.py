"""All tests of one image, for every guided box set of the grid, in batched forward passes.

For each guided selection of one image (one method x segmenter: its ranked elements; or a set of
participants' cue boxes, :mod:`geoquiz.faithfulness.human`) this computes

* the paper's **deletion** and **insertion** tests with the guided boxes (``selection='guided'``,
  ``repeat=0``) and with ``repeats`` random matched selections (``selection='random'``,
  ``repeat=0..repeats-1``, each with its seed);
* optionally the **progressive curves**: step ``k = 0..n`` for the guided boxes and for the first
  ``curve_repeats`` random selections (random boxes in the order of their guided partners); only for
  selections that have a rank order (the model's elements; people's boxes have none).

Frames: the model's elements are in the attribution maps' frame (the image frame's ``box_frame``);
people's boxes are in the pixels of the image each was drawn on (``Selection.frames``, per view).
Both are scaled to the model's input resolution (:meth:`ImageFrame.to_input`) before anything is
removed, and the random boxes are drawn there, so every selection is matched in the same frame.

Every variant is a removal mask; identical masks (e.g. step 0 of all insertion curves, or two
segmenters giving the same boxes) are scored once. All variants of the image go through the model
together in batches (:meth:`geoquiz.faithfulness.engine.ImageFrame.score`), so an image costs
``ceil(distinct variants / batch_size)`` forward passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from geoquiz.faithfulness.curves import rank_order
from geoquiz.faithfulness.engine import ImageFrame
from geoquiz.faithfulness.perturb import TESTS
from geoquiz.faithfulness.random import PlacedBox, derive_seed, random_boxes
from geoquiz.types import Element


@dataclass(frozen=True)
class Selection:
    """The guided boxes of one image: the elements of one method x segmenter (any order; ranked
    here), or people's boxes (:class:`~geoquiz.faithfulness.random.PlacedBox`, kept in their order).

    ``frames``: ``{view: (height, width)}`` of the frame the boxes are in (people's boxes: each
    view's image pixels); None = the image frame's ``box_frame`` (the maps' frame, for elements).
    ``fields``: extra ``(column, value)`` pairs copied into every row (e.g. ``selection_source``,
    ``human_scope``, ``trial_id``, ``cue_tag``). ``seed_key``: extra parts of the random seeds, so
    that two selections with the same method and segmenter names draw different random boxes (()
    keeps the seeds of the model's elements as they always were). ``curves``: progressive curves
    (needs a rank order, so False for people's boxes).
    """

    method: str
    segmenter: str
    elements: tuple[Element | PlacedBox, ...]
    tag: object = None  # copied into the rows as ``tag`` when set (e.g. the top-p of a sweep)
    #: the segmenter's output on the image, copied into the rows when set: segments over all views
    #: and the fraction of pixels inside their union
    n_segments: int | None = None
    segment_coverage: float | None = None
    frames: Mapping[str | None, tuple[int, int]] | None = None
    fields: tuple[tuple[str, object], ...] = ()
    seed_key: tuple[int | str, ...] = ()
    curves: bool = True

    def placed(self) -> list[PlacedBox]:
        """The boxes in order: elements by rank order, people's boxes as given."""
        if all(isinstance(e, PlacedBox) for e in self.elements):
            return list(self.elements)  # type: ignore[arg-type]
        ranked = rank_order([e for e in self.elements if isinstance(e, Element)])
        return [PlacedBox(e.box, e.view) for e in ranked]


@dataclass
class ImageResult:
    """Rows for ``evaluation_results`` and ``evaluation_curves`` (without run and image ids)."""

    rows: list[dict] = field(default_factory=list)
    curve_rows: list[dict] = field(default_factory=list)
    base_correct: bool = False
    base_true_prob: float = 0.0
    n_variants: int = 0
    n_forward: int = 0
    n_batches: int = 0


@dataclass(frozen=True)
class EvalOptions:
    """Per-image options. ``rel_tol``/``abs_tol_px``/``max_tries``: random matching (see random.py)."""

    repeats: int = 10
    seed: int = 0
    curves: bool = True
    curve_repeats: int = 3
    batch_size: int = 32
    rel_tol: float = 0.02
    abs_tol_px: int = 1
    max_tries: int = 200


class _Plan:
    """Distinct removal masks and where each score goes."""

    def __init__(self) -> None:
        self.masks: list[np.ndarray] = []
        self.index: dict[bytes, int] = {}

    def add(self, mask: np.ndarray) -> int:
        key = np.packbits(mask).tobytes() + bytes(str(mask.shape), "ascii")
        if key not in self.index:
            self.index[key] = len(self.masks)
            self.masks.append(mask)
        return self.index[key]


def evaluate_image(
    frame: ImageFrame,
    true_index: int,
    selections: Sequence[Selection],
    image_key: int | str,
    options: EvalOptions = EvalOptions(),
) -> ImageResult:
    """Run every test of every selection on one prepared image (see module doc).

    ``image_key`` (the image or location id) enters the random seeds, so results do not depend on
    the order images are evaluated in. Scores are for class ``true_index``.
    """
    plan = _Plan()
    base = plan.add(frame.removal("deletion", []))
    fill = frame.fill.name
    pending: list[tuple[dict, int]] = []
    pending_curves: list[tuple[dict, int]] = []
    for sel in selections:
        guided = frame.to_input(sel.placed(), sel.frames)
        draws = []
        for r in range(options.repeats):
            seed = derive_seed(options.seed, image_key, sel.method, sel.segmenter, *sel.seed_key, r)
            draws.append(
                random_boxes(
                    guided,
                    frame.shapes,
                    seed,
                    rel_tol=options.rel_tol,
                    abs_tol_px=options.abs_tol_px,
                    max_tries=options.max_tries,
                )
            )
        sets = [("guided", 0, None, guided)] + [
            ("random", r, d.seed, list(d.boxes)) for r, d in enumerate(draws)
        ]
        for selection, repeat, seed, boxes in sets:
            cov = frame.coverage(boxes)
            for test in TESTS:
                row = {
                    "method": sel.method,
                    "segmenter": sel.segmenter,
                    "test": test,
                    "selection": selection,
                    "fill": fill,
                    "repeat": repeat,
                    "seed": seed,
                    "n_boxes": len(boxes),
                    "coverage": cov,
                }
                if sel.tag is not None:
                    row["tag"] = sel.tag
                if sel.n_segments is not None:
                    row["n_segments"] = sel.n_segments
                    row["segment_coverage"] = sel.segment_coverage
                row.update(sel.fields)
                pending.append((row, plan.add(frame.removal(test, boxes))))
            curves = options.curves and sel.curves
            if curves and (selection == "guided" or repeat < options.curve_repeats):
                for test in TESTS:
                    for k in range(len(boxes) + 1):
                        prefix = boxes[:k]
                        row = {
                            "method": sel.method,
                            "segmenter": sel.segmenter,
                            "test": test,
                            "selection": selection,
                            "repeat": repeat,
                            "seed": seed,
                            "k": k,
                            "n": len(boxes),
                            "coverage": frame.coverage(prefix),
                        }
                        pending_curves.append((row, plan.add(frame.removal(test, prefix))))
    n0, b0 = frame.n_forward, frame.n_batches
    scores = frame.score(plan.masks, true_index, options.batch_size)
    result = ImageResult(
        base_correct=bool(scores.correct[base]),
        base_true_prob=float(scores.true_prob[base]),
        n_variants=len(plan.masks),
        n_forward=frame.n_forward - n0,
        n_batches=frame.n_batches - b0,
    )
    for row, i in pending:
        row.update(
            correct=int(scores.correct[i]),
            true_prob=float(scores.true_prob[i]),
            base_correct=int(result.base_correct),
            base_true_prob=result.base_true_prob,
        )
        result.rows.append(row)
    for row, i in pending_curves:
        row.update(correct=int(scores.correct[i]), true_prob=float(scores.true_prob[i]))
        result.curve_rows.append(row)
    return result
