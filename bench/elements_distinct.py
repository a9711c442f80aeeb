"""Distinct elements (issue 17): the paper's plain rule vs the box rule, on the GeoScenes test split.

For each element rule (``--rules``, default ``plain,merge,drop``: :attr:`ElementSettings.box_rule`)
and each CAM layer of the demo model (``--layers``, default ``layer3,layer4``: the same weights read
at layer3 = 7x7 Grad-CAM at 112 px, the demo recipe, or at layer4 = 4x4, as the old recipe; the
layer4 variant is registered as ``<model>@layer4``, a copy of the checkpoint whose spec says so),
on the images of the split, this prints:

* **distinctness**: the median pairwise IoU of the top-5 padded boxes (all pairs of all images),
  the share of images with at least one pair above ``box_iou`` (0.3), and the share of
  elements scoring exactly 1.000 (the saturation of a flat map maximum);
* **coverage**: the mean fraction of the image covered by the union of all elements' boxes (and of
  the top-5), and the mean number of elements;
* **pointing game** (:func:`geoquiz.ground_truth.pointing_on_dataset`, correctly classified images):
  the top element's hit rate on planted cues vs same-size random boxes;
* with ``--faithfulness``: **deletion / insertion** (:func:`geoquiz.faithfulness.grid.run_grid`,
  blur fill, ``--repeats`` random selections of matched coverage): guided and random accuracy and
  their paired difference with its bootstrap 95 % CI.

Explanations are cached in the project, so a second run only re-ranks. Uses ``--project`` or the
GeoScenes benchmarks' shared project (:func:`bench.faithfulness_geoscenes.ensure_project`).

Run: ``python -m bench.elements_distinct [--project DIR] [--methods gradcampp] [--limit N]
[--rules plain,merge,drop] [--layers layer3,layer4] [--faithfulness] [--repeats 10]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import numpy as np

from bench.faithfulness_geoscenes import add_project_arguments, ensure_project


def layer_variant(project, model: str, layer: str) -> str:
    """The project's model ``model`` read at CAM layer ``layer``: itself when its spec says so, else
    a registered copy ``<model>@<layer>`` (same weights, spec.target_layer changed)."""
    import torch

    from geoquiz.models.checkpoint import atomic_torch_save
    from geoquiz.models.store import get_model, register_model

    info = get_model(project.db, model)
    path = info.resolve(project.root)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt["spec"].get("target_layer", "layer4") == layer:
        return model
    name = f"{model}@{layer}"
    try:
        get_model(project.db, name)
        return name
    except Exception:
        pass
    ckpt["spec"] = {**ckpt["spec"], "target_layer": layer}
    out = path.with_name(f"{path.stem}@{layer}.pt")
    atomic_torch_save(ckpt, out)
    register_model(project, name, out, dataset=info.dataset)
    return name


def box_stats(explainer, samples, method: str, segmenter: str, params, size: int) -> dict:
    """Distinctness and coverage of the elements of ``samples`` under ``params``."""
    from geoquiz.boxes import union_mask

    ious, any_over, ones, n_el, cover_all, cover_top = [], [], [], [], [], []
    for s in samples:
        elements = explainer.elements(s, method, segmenter, params)
        boxes = [e.box for e in elements]
        top = boxes[:5]
        pair = [a.iou(b) for a, b in itertools.combinations(top, 2)]
        ious.extend(pair)
        any_over.append(any(v > params.box_iou for v in pair))
        ones.extend(e.score >= 0.9995 for e in elements)
        n_el.append(len(elements))
        cover_all.append(union_mask(boxes, size, size).mean() if boxes else 0.0)
        cover_top.append(union_mask(top, size, size).mean() if top else 0.0)
    return {
        "median_iou": float(np.median(ious)) if ious else float("nan"),
        "mean_iou": float(np.mean(ious)) if ious else float("nan"),
        "images_over": float(np.mean(any_over)),
        "score_one": float(np.mean(ones)) if ones else float("nan"),
        "n_elements": float(np.mean(n_el)),
        "coverage": float(np.mean(cover_all)),
        "coverage_top5": float(np.mean(cover_top)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.elements_distinct", description=__doc__.splitlines()[0])
    add_project_arguments(parser)
    parser.add_argument("--methods", default="gradcampp")
    parser.add_argument("--segmenters", default="default")
    parser.add_argument("--rules", default="plain,merge,drop")
    parser.add_argument("--layers", default="layer3,layer4")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--faithfulness", action="store_true", help="also run deletion / insertion")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    from geoquiz.cli.common import progress_bar
    from geoquiz.data.dataset import load_items
    from geoquiz.explain import Explainer
    from geoquiz.ground_truth import balanced, pointing_on_dataset

    project, model = ensure_project(args.project, args.n_per_class)
    model = args.model or model
    base = project.settings.elements
    samples = balanced(load_items(project.db, args.dataset, args.split), args.limit)
    methods, segmenters = args.methods.split(","), args.segmenters.split(",")
    print(f"{model} on {args.dataset}/{args.split}: {len(samples)} images; element settings {base}")
    rows = []
    for layer in args.layers.split(","):
        name = layer_variant(project, model, layer)
        explainer = Explainer(project, name)
        size = explainer.loaded_model.spec.input_size
        grid = explainer.loaded_model.spec.cam_grid
        for rule in args.rules.split(","):
            params = dataclasses.replace(base, box_rule=rule)
            for method, segmenter in itertools.product(methods, segmenters):
                t0 = time.perf_counter()
                with progress_bar(f"{layer} {rule} {method} x {segmenter}") as reporter:
                    for i, s in enumerate(samples):
                        reporter.step(i, len(samples), s.key)
                        explainer.elements(s, method, segmenter, params)
                stats = box_stats(explainer, samples, method, segmenter, params, size)
                point = pointing_on_dataset(
                    project,
                    name,
                    args.dataset,
                    args.split,
                    [method],
                    [segmenter],
                    limit=args.limit,
                    explainer=explainer,
                    params=params,
                ).summary()[0]
                row = {
                    "layer": f"{layer} ({grid}x{grid})",
                    "rule": rule,
                    "method": method,
                    "segmenter": segmenter,
                    **stats,
                    "hit_rate": point["hit_rate"],
                    "random_rate": point["random_rate"],
                    "pointing_n": point["n"],
                    "seconds": time.perf_counter() - t0,
                    "box_iou": params.box_iou,
                }
                if args.faithfulness:
                    row.update(faithfulness(project, name, args, method, segmenter, params))
                rows.append(row)
                print_row(row)
    print("\nsummary (markdown):")
    print_table(rows, args.faithfulness)
    project.close()


def faithfulness(project, model: str, args, method: str, segmenter: str, params) -> dict:
    from geoquiz.cli.common import progress_bar
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.stats import compare
    from geoquiz.faithfulness.store import load_run

    with progress_bar(f"faithfulness {params.box_rule}") as reporter:
        run_id = run_grid(
            project,
            model,
            args.dataset,
            args.split,
            [method],
            [segmenter],
            fill="blur",
            repeats=args.repeats,
            limit=args.limit,
            params=params,
            curves=False,
            reporter=reporter,
        )
    out = {"run": run_id}
    for r in compare(load_run(project.db, run_id)).itertuples():
        out[f"{r.test}_guided"] = r.guided_accuracy
        out[f"{r.test}_random"] = r.random_accuracy
        out[f"{r.test}_diff"] = r.diff_accuracy
        out[f"{r.test}_lo"] = r.diff_accuracy_lo
        out[f"{r.test}_hi"] = r.diff_accuracy_hi
    return out


def print_row(r: dict) -> None:
    line = (
        f"  {r['layer']:<13} {r['rule']:<6} top-5 box IoU median {r['median_iou']:.3f} (mean {r['mean_iou']:.3f}), "
        f"images with a pair > IoU {r['box_iou']:g}: {r['images_over']:.0%}, elements at 1.000: {r['score_one']:.0%}; "
        f"{r['n_elements']:.1f} elements, coverage {r['coverage']:.3f} (top-5 {r['coverage_top5']:.3f}); "
        f"pointing {r['hit_rate']:.3f} vs random {r['random_rate']:.3f} (n={r['pointing_n']}); {r['seconds']:.0f} s"
    )
    if "deletion_diff" in r:
        line += (
            f"\n      deletion guided {r['deletion_guided']:.3f} random {r['deletion_random']:.3f} "
            f"diff {r['deletion_diff']:+.3f} [{r['deletion_lo']:+.3f}, {r['deletion_hi']:+.3f}]; "
            f"insertion guided {r['insertion_guided']:.3f} random {r['insertion_random']:.3f} "
            f"diff {r['insertion_diff']:+.3f} [{r['insertion_lo']:+.3f}, {r['insertion_hi']:+.3f}]"
        )
    print(line, flush=True)


def print_table(rows: list[dict], faith: bool) -> None:
    head = (
        f"| CAM layer | rule | top-5 IoU median | images with a pair > {rows[0]['box_iou']:g} | at 1.000 "
        "| elements | coverage (top-5) | pointing vs random |"
    )
    if faith:
        head += " deletion guided / random (diff) | insertion guided / random (diff) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (
            f"| {r['layer']} | {r['rule']} | {r['median_iou']:.3f} | {r['images_over']:.0%} | {r['score_one']:.0%} "
            f"| {r['n_elements']:.1f} | {r['coverage']:.3f} ({r['coverage_top5']:.3f}) "
            f"| {r['hit_rate']:.3f} vs {r['random_rate']:.3f} |"
        )
        if faith and "deletion_diff" in r:
            line += (
                f" {r['deletion_guided']:.3f} / {r['deletion_random']:.3f} ({r['deletion_diff']:+.3f}) "
                f"| {r['insertion_guided']:.3f} / {r['insertion_random']:.3f} ({r['insertion_diff']:+.3f}) |"
            )
        print(line)


if __name__ == "__main__":
    main()
