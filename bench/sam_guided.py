"""SAM full automatic mask generation vs the attribution-guided mode: time and recovered elements.

On GeoScenes test images (class-balanced, ``--images``), with the demo model's Grad-CAM++ maps (from
the project's Explainer, at the model's input resolution) and the image as the model sees it:

* **full**: :meth:`geoquiz.segmentation.sam.SamSegmenter.segment`, the automatic mask generator over
  the whole ``points_per_side``² prompt grid (paper 000's setting);
* **guided**: :meth:`~geoquiz.segmentation.sam.SamSegmenter.segment_guided`, the same generator
  prompted only with the grid points inside the map's salient region (top-p of the project's element
  settings).

Times per image: *cold* (the image encoder runs in each mode: the embedding cache is off) and *warm*
(the embedding is cached, as when the Explainer runs both modes, or several methods, on one image).
Then both modes' segments go through the same element extraction
(:func:`geoquiz.elements.extract_elements`, the project's settings) and the **recovery share** is the
fraction of the full mode's final elements that have a guided element with box IoU >= ``--iou``
(pooled over images; the per-image mean and the top-1 recovery are printed too).

SAM weights: ``--sam-checkpoint PATH --sam-type NAME`` (a SAM-family registry name: ``sam_vit_b``,
``sam_vit_l``, ``sam_vit_h``, ``mobilesam_vit_t``, ``sam2_hiera_*``) for a real model. Without one (no
weights can be downloaded here) a tiny random-weight segment-anything model
(:func:`geoquiz.segmentation.sam.build_tiny_sam`) is saved to a file and loaded through GeoQuiz's
checkpoint code; its mask quality thresholds are set to 0 (its predicted IoUs are noise, so the
defaults would keep no mask at all). **Its recovery share is not meaningful** -- the masks are
noise -- only the timing path is: prompts, mask decoder, post-processing, element extraction.

Uses ``--project`` (written to: explanation cache), else the GeoScenes benchmarks' shared project
(:func:`bench.faithfulness_geoscenes.default_project_dir`: the demo dataset and the demo model, built
on first use in a few minutes).

Run: ``python -m bench.sam_guided [--project DIR] [--images 8] [--sam-checkpoint PATH --sam-type sam_vit_b]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.faithfulness_geoscenes import add_project_arguments, ensure_project

TINY_AMG = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}


def make_segmenter(args, folder: Path):
    """``(segmenter, label, real)``: the user's SAM-family checkpoint, else the tiny random-weight SAM."""
    import torch

    from geoquiz.segmentation import SEGMENTERS
    from geoquiz.segmentation.sam import TINY_SAM, SamSegmenter, build_tiny_sam

    amg = dict(args.amg)
    if args.sam_checkpoint:
        info = SEGMENTERS.get(args.sam_type)
        if info is None or info.family == "default":
            raise SystemExit(
                f"--sam-type must be a SAM-family segmenter, one of {', '.join(n for n in SEGMENTERS if n != 'default')}"
            )
        if info.family == "sam2":
            from geoquiz.segmentation.sam2 import Sam2Segmenter

            seg = Sam2Segmenter(info, str(args.sam_checkpoint), "cpu", **amg)
        else:
            seg = SamSegmenter(info, str(args.sam_checkpoint), "cpu", **amg)
        label, real = f"{info.description} from {Path(args.sam_checkpoint).name}", True
    else:
        path = folder / "tiny_random_sam.pth"
        torch.save(build_tiny_sam(seed=0).state_dict(), path)
        seg = SamSegmenter(TINY_SAM, str(path), "cpu", build=build_tiny_sam, **{**TINY_AMG, **amg})
        label, real = (
            "TINY RANDOM-WEIGHT SAM (2-block ViT, saved + loaded through GeoQuiz's checkpoint code)",
            False,
        )
    from geoquiz.errors import GeoQuizError

    try:
        seg.load()
    except GeoQuizError as exc:  # a wrong or unreadable checkpoint: say which, no traceback
        raise SystemExit(f"bench.sam_guided: {exc}") from None
    return seg, label, real


def recovered(full: list, guided: list, iou: float) -> list[bool]:
    """For each full-mode element, whether a guided element's box overlaps it with IoU >= ``iou``."""
    return [any(e.box.iou(g.box) >= iou for g in guided) for e in full]


def measure(seg, view: np.ndarray, heat: np.ndarray, params, iou: float) -> dict:
    """One image: full and guided segmentation times, cold and warm, and the elements recovered."""
    from geoquiz.elements import extract_elements

    cache = seg.embedding_cache
    cache.max_items = 0  # cold: every call runs the image encoder
    full, t_full = _timed(lambda: seg.segment(view))
    guided, t_guided = _timed(lambda: seg.segment_guided(view, heat, params.top_p))
    cache.max_items = 8  # warm: the embedding computed once, then both modes reuse it
    seg._predictor.set_image(view)  # compute and cache the embedding (untimed)
    _, t_full_w = _timed(lambda: seg.segment(view))
    _, t_guided_w = _timed(lambda: seg.segment_guided(view, heat, params.top_p))
    e_full = extract_elements(heat, full, params)
    e_guided = extract_elements(heat, guided, params)
    return {
        "t": (t_full, t_guided, t_full_w, t_guided_w),
        "segments": (len(full), len(guided)),
        "elements": (len(e_full), len(e_guided)),
        "recovered": recovered(e_full, e_guided, iou),
    }


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.sam_guided", description=__doc__.splitlines()[0])
    add_project_arguments(parser)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--method", default="gradcampp")
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--sam-checkpoint", type=Path, default=None)
    parser.add_argument("--sam-type", default="sam_vit_b")
    parser.add_argument(
        "--amg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="automatic mask generator setting (repeatable)",
    )
    args = parser.parse_args(argv)
    args.amg = [kv.split("=", 1) for kv in args.amg]
    args.amg = {k: (int(v) if v.lstrip("-").isdigit() else float(v)) for k, v in args.amg}

    from geoquiz.cli.common import progress_bar
    from geoquiz.data.dataset import load_items
    from geoquiz.explain import Explainer
    from geoquiz.ground_truth import balanced
    from geoquiz.progress import step

    project, model = ensure_project(args.project, args.n_per_class)
    model = args.model or model
    explainer = Explainer(project, model)
    params = project.settings.elements
    items = balanced(load_items(project.db, args.dataset, args.split), args.images)
    s = explainer.loaded_model.spec.input_size
    with tempfile.TemporaryDirectory(prefix="bench_sam_guided_") as tmp:
        seg, label, real = make_segmenter(args, Path(tmp))
        rows = []
        with progress_bar("sam full vs guided") as reporter:
            for k, item in enumerate(items):
                step(reporter, k, len(items), item.key)
                heat = explainer.heatmaps(item, args.method)[0].values
                rows.append(measure(seg, explainer.model_views(item)[0], heat, params, args.iou))
            step(reporter, len(items), len(items), "done")
    project.close()

    t = np.array([r["t"] for r in rows])
    mean = t.mean(axis=0)
    n_seg = np.array([r["segments"] for r in rows]).mean(axis=0)
    n_el = np.array([r["elements"] for r in rows]).mean(axis=0)
    pooled = [ok for r in rows for ok in r["recovered"]]
    per_image = [np.mean(r["recovered"]) for r in rows if r["recovered"]]
    top1 = [r["recovered"][0] for r in rows if r["recovered"]]
    print(f"\n{label}")
    print(
        f"{len(rows)} {args.dataset}/{args.split} images at the model's {s}x{s} input, {args.method} maps of {model}; "
        f"guided = prompts inside the top {params.top_p:g}% of the map; {seg.amg['points_per_side']}^2 prompts in full mode"
    )
    print("time per image (mean)       full         guided       guided/full")
    print(
        f"  cold (encoder each call) {mean[0] * 1000:8.0f} ms  {mean[1] * 1000:8.0f} ms   {mean[1] / mean[0]:.3f}"
    )
    print(
        f"  warm (embedding cached)  {mean[2] * 1000:8.0f} ms  {mean[3] * 1000:8.0f} ms   {mean[3] / mean[2]:.3f}"
    )
    print(f"segments per image         {n_seg[0]:8.1f}     {n_seg[1]:8.1f}")
    print(f"elements per image         {n_el[0]:8.1f}     {n_el[1]:8.1f}")
    if pooled:
        print(
            f"recovery: {sum(pooled)}/{len(pooled)} = {np.mean(pooled):.3f} of the full mode's elements have a guided "
            f"element with box IoU >= {args.iou:g} (per-image mean {np.mean(per_image):.3f}; top-1 element {np.mean(top1):.3f})"
        )
    else:
        print("recovery: the full mode produced no elements on these images (nothing to recover)")
    if not real:
        print(
            "NOTE: random weights -- the masks are noise, so the recovery share above is NOT meaningful; only the "
            "timing path (prompt grid, mask decoder, post-processing, element extraction) is. Pass --sam-checkpoint."
        )


if __name__ == "__main__":
    main()
