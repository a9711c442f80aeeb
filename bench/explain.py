"""Explanation latency per image on the CPU: attribution methods and segmenters vs the raw library calls.

Images are GeoScenes street scenes rendered at ``--image-size`` (224 px, as the dataset), the model a
random-init ResNet (``--arch``, ``--size``; the weights do not change the cost) unless ``--project``
names a project with a trained model (``--model``).

Attribution (one image in, one map out; GeoQuiz's number includes its preprocessing from the uint8
image, target selection, its map post-processing and normalisation; the raw call gets the already
normalised input tensor and, where it needs one, the target index):

==============  ===========================================================  =====================================
method          GeoQuiz                                                      raw library call
==============  ===========================================================  =====================================
Grad-CAM        ``get_attributor("gradcam", lm)(image)``                      ``pytorch_grad_cam.GradCAM(model, [layer])(x, None)``
Grad-CAM++      ``get_attributor("gradcampp", lm)(image)``                    ``GradCAMPlusPlus(...)(x, None)``
Score-CAM       ``get_attributor("scorecam", lm, channels="all")(image)``     ``ScoreCAM(...)(x, None)``, ``batch_size`` the same
Score-CAM k     ``channels=k`` (``--scorecam-channels``): the CPU default subset  (speed-up vs the full raw call)
SmoothGrad      ``get_attributor("smoothgrad", lm)(image)``                   ``NoiseTunnel(Saliency(model)).attribute(x, ...)``
IG              ``get_attributor("ig", lm)(image)``                           ``IntegratedGradients(model).attribute(x, ...)``
==============  ===========================================================  =====================================

Segmentation (one 224 px image in, segments out):

* ``default``: :class:`geoquiz.segmentation.default.DefaultSegmenter` vs the scikit-image calls it is
  built on, as one would write them: ``felzenszwalb`` at each scale, ``rgb2lab`` + ``slic``,
  ``graph.rag_mean_color`` and ``graph.merge_hierarchical`` at each threshold (GeoQuiz builds the
  adjacency graph with numpy instead, then hole-fills, filters and de-duplicates the regions);
* ``tiny random-weight SAM``: a 2-block segment-anything ``Sam`` (``build_tiny_sam``; quality thresholds
  0, since its predicted IoUs are noise and the defaults would drop every mask) saved to a file,
  loaded through GeoQuiz's checkpoint code and run by :class:`geoquiz.segmentation.sam.SamSegmenter`
  (embedding cache off, so every call pays the encoder) vs the package's
  ``SamAutomaticMaskGenerator(sam, **same settings).generate(image)``, full-image (32^2 prompts)
  and attribution-guided (the grid points inside a map's top-20 % region, as ``segment_guided``).
  Its masks mean nothing; only the timing path (prompt grid, mask decoder, post-processing) is real,
  and the masks are checked identical. GeoQuiz runs the package's generator minus its quadratic RLE
  encoding and deep copies (:mod:`geoquiz.segmentation.amg`), hence a ratio below 1. Real SAM weights cannot be
  downloaded here; ``--sam-checkpoint PATH --sam-type vit_b`` times a real one.

Each row: best of ``--repeats`` per image (the two sides run alternately), averaged over ``--images``
images; ``ratio = GeoQuiz / raw`` (goal <= 1.2). The maps of the two sides are also compared
(correlation), so a ratio is never bought by computing something else.

Run: ``python -m bench.explain [--arch resnet18] [--size 224] [--images 2] [--repeats 3] [--skip scorecam]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CLASSES = ("France", "India", "Japan")


def scenes(n: int, size: int) -> list[np.ndarray]:
    """``n`` GeoScenes images (countries in turn, fixed seeds)."""
    from geoquiz.data.geoscenes.scene import render_scene

    return [render_scene(CLASSES[i % 3], 1000 + i, size)[0] for i in range(n)]


def time_pair(
    geoquiz: Callable[[int], object], raw: Callable[[int], object], n_images: int, repeats: int
) -> tuple[float, float, list, list]:
    """Mean over images of the best-of-``repeats`` seconds of each side (run alternately, after a
    warm-up on image 0); also each side's last output per image."""
    geoquiz(0), raw(0)
    best_g, best_r, out_g, out_r = [], [], [], []
    for i in range(n_images):
        tg, tr = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            og = geoquiz(i)
            tg.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            orr = raw(i)
            tr.append(time.perf_counter() - t0)
        best_g.append(min(tg))
        best_r.append(min(tr))
        out_g.append(og)
        out_r.append(orr)
    return float(np.mean(best_g)), float(np.mean(best_r)), out_g, out_r


def time_one(fn: Callable[[int], object], n_images: int, repeats: int) -> float:
    """Mean over images of the best-of-``repeats`` seconds of ``fn(i)`` (after a warm-up)."""
    fn(0)
    return float(np.mean([min(_elapsed(fn, i) for _ in range(repeats)) for i in range(n_images)]))


def _elapsed(fn: Callable[[int], object], i: int) -> float:
    t0 = time.perf_counter()
    fn(i)
    return time.perf_counter() - t0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def row(name: str, t_geo: float, t_raw: float, note: str = "") -> None:
    print(
        f"  {name:<24} GeoQuiz {t_geo * 1000:9.1f} ms   raw {t_raw * 1000:9.1f} ms   "
        f"ratio {t_geo / t_raw:6.3f}{'  ' + note if note else ''}"
    )


# --- attribution --------------------------------------------------------------------------------


def postprocess(attributor, attr) -> np.ndarray:
    """A raw captum attribution turned into a map the way GeoQuiz does it (channel reduce, blur,
    normalise), to check that the GeoQuiz map is the raw call's map and nothing else."""
    from geoquiz.attribution.base import normalise, split_views
    from geoquiz.attribution.gradients import _blur

    raw = _blur(attributor._reduce(attr), float(attributor.params["blur_sigma"]), attributor.spec.integration)
    return normalise(split_views(raw, attributor.spec.integration), attributor.normalisation)[0]


def bench_attribution(lm, images: list[np.ndarray], args) -> dict[str, np.ndarray]:
    """Prints one row per method; returns each method's GeoQuiz map of image 0 (for the elements)."""
    import torch
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, ScoreCAM

    from geoquiz.attribution import get_attributor

    model, layer = lm.model, lm.model.target_layer
    xs = [lm.preprocess([im]) for im in images]
    with torch.no_grad():
        targets = [int(model(x).argmax(1)[0]) for x in xs]
    n, r = len(images), args.repeats
    maps: dict[str, np.ndarray] = {}
    print(f"attribution ({lm.spec.arch} {lm.spec.input_size}px, {n} images, best of {r}):")

    def cam_raw(cls, **attrs):
        def run(i: int) -> np.ndarray:
            with cls(model=model, target_layers=[layer]) as cam:
                for k, v in attrs.items():
                    setattr(cam, k, v)
                with contextlib.redirect_stderr(io.StringIO()):  # the package's Score-CAM tqdm bar
                    return cam(xs[i], None)[0]

        return run

    def ours(method: str, **params):
        att = get_attributor(method, lm, **params)
        return lambda i: att(images[i])[0].values

    for method, cls in (("gradcam", GradCAM), ("gradcampp", GradCAMPlusPlus)):
        if method in args.skip:
            continue
        tg, tr, og, orr = time_pair(ours(method), cam_raw(cls), n, r)
        maps[method] = og[0]
        row(method, tg, tr, f"map corr {np.nanmean([_corr(a, b) for a, b in zip(og, orr)]):.4f}")

    if "scorecam" not in args.skip:
        bs = args.scorecam_batch
        rs = max(1, min(r, args.scorecam_repeats))
        tg, tr, og, orr = time_pair(
            ours("scorecam", channels="all", batch_size=bs), cam_raw(ScoreCAM, batch_size=bs), 1, rs
        )
        last = lm.model.target_layer
        c_total = int((last.conv3 if hasattr(last, "conv3") else last.conv2).out_channels)
        row(
            f"scorecam (all {c_total} ch)",
            tg,
            tr,
            f"map corr {_corr(og[0], orr[0]):.4f}  (1 image, best of {rs})",
        )
        for k in args.scorecam_channels:
            att = get_attributor("scorecam", lm, channels=k, batch_size=bs)
            t_k = time_one(lambda i, att=att: att(images[i]), 1, rs)
            maps.setdefault("scorecam", att(images[0])[0].values)
            print(
                f"  {f'scorecam ({k} ch subset)':<24} GeoQuiz {t_k * 1000:9.1f} ms   "
                f"= {t_k / tr:.3f} of the raw all-channel call (speed-up {tr / t_k:.1f}x)"
            )

    sg = get_attributor("smoothgrad", lm)
    ig = get_attributor("ig", lm)
    if "smoothgrad" not in args.skip:
        p = sg.params

        def sg_raw(i: int):
            x = xs[i]
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(p["seed"]))
                return NoiseTunnel(Saliency(model)).attribute(
                    x,
                    nt_type="smoothgrad",
                    nt_samples=int(p["n_samples"]),
                    nt_samples_batch_size=int(p["batch_size"]),
                    stdevs=float(p["noise"]) * float(x.max() - x.min()),
                    target=targets[i],
                )

        tg, tr, og, orr = time_pair(lambda i: sg(images[i])[0].values, sg_raw, n, r)
        maps["smoothgrad"] = og[0]
        corr = np.nanmean([_corr(a, postprocess(sg, b)) for a, b in zip(og, orr)])
        row(
            "smoothgrad",
            tg,
            tr,
            f"{p['n_samples']} samples; map corr {corr:.4f} (raw + GeoQuiz's reduce/blur/scale)",
        )
    if "ig" not in args.skip:
        p = ig.params

        def ig_raw(i: int):
            x = xs[i]
            return IntegratedGradients(model).attribute(
                x,
                baselines=ig.baseline(x),
                target=targets[i],
                n_steps=int(p["n_steps"]),
                internal_batch_size=int(p["batch_size"]),
            )

        tg, tr, og, orr = time_pair(lambda i: ig(images[i])[0].values, ig_raw, n, r)
        maps["ig"] = og[0]
        corr = np.nanmean([_corr(a, postprocess(ig, b)) for a, b in zip(og, orr)])
        row("ig", tg, tr, f"{p['n_steps']} steps; map corr {corr:.4f} (raw + GeoQuiz's reduce/blur/scale)")
    return maps


# --- segmentation -------------------------------------------------------------------------------


def _merge_mean_color(graph, src, dst) -> None:
    graph.nodes[dst]["total color"] = graph.nodes[dst]["total color"] + graph.nodes[src]["total color"]
    graph.nodes[dst]["pixel count"] = graph.nodes[dst]["pixel count"] + graph.nodes[src]["pixel count"]
    graph.nodes[dst]["mean color"] = graph.nodes[dst]["total color"] / graph.nodes[dst]["pixel count"]


def _weight_mean_color(graph, src, dst, n) -> dict:
    diff = graph.nodes[dst]["mean color"] - graph.nodes[n]["mean color"]
    return {"weight": np.linalg.norm(diff)}


def skimage_pipeline(image: np.ndarray, p) -> list[np.ndarray]:
    """The scikit-image calls the default segmenter is built on, as one would write them directly
    (the merge callbacks of scikit-image's own RAG merging example)."""
    from skimage import graph
    from skimage.color import rgb2lab
    from skimage.segmentation import felzenszwalb, slic

    h, w = image.shape[:2]
    min_size = max(8, int(p.min_area_frac * h * w))
    levels = [felzenszwalb(image, scale=s, sigma=p.sigma, min_size=min_size) for s in p.felzenszwalb_scales]
    lab = rgb2lab(image)
    sp = slic(lab, n_segments=p.slic_segments, compactness=p.compactness, start_label=0, convert2lab=False)
    rag = graph.rag_mean_color(lab, sp)
    for t in p.merge_thresholds:
        levels.append(
            graph.merge_hierarchical(
                sp,
                rag,
                thresh=t,
                rag_copy=True,
                in_place_merge=True,
                merge_func=_merge_mean_color,
                weight_func=_weight_mean_color,
            )
        )
    return levels


def tiny_sam_checkpoint(folder: Path) -> Path:
    """A tiny random-weight segment-anything model saved as a plain state dict."""
    import torch

    from geoquiz.segmentation.sam import build_tiny_sam

    path = folder / "tiny_random_sam.pth"
    torch.save(build_tiny_sam(seed=0).state_dict(), path)
    return path


def sam_session(args, folder: Path, *, cache_size: int = 0):
    """``(segmenter, label)``: a real SAM from ``--sam-checkpoint``, else the tiny random-weight one,
    both loaded through GeoQuiz's checkpoint code."""
    from geoquiz.segmentation import SEGMENTERS
    from geoquiz.segmentation.sam import TINY_SAM, SamSegmenter, build_tiny_sam

    if args.sam_checkpoint:
        info = SEGMENTERS[f"sam_{args.sam_type}"]
        seg = SamSegmenter(info, str(args.sam_checkpoint), "cpu", cache_size=cache_size)
        label = f"SAM {args.sam_type} ({Path(args.sam_checkpoint).name})"
    else:
        # its predicted IoUs are noise: quality thresholds 0, so masks reach the post-processing
        seg = SamSegmenter(
            TINY_SAM,
            str(tiny_sam_checkpoint(folder)),
            "cpu",
            build=build_tiny_sam,
            cache_size=cache_size,
            pred_iou_thresh=0.0,
            stability_score_thresh=0.0,
        )
        label = "tiny random-weight SAM, quality thresholds 0 (timing path only; masks meaningless)"
    seg.load()
    return seg, label


def bench_segmentation(images: list[np.ndarray], args) -> list:
    """Prints one row per segmenter; returns the default segmenter's segments of image 0."""
    from geoquiz.segmentation.default import DefaultSegmenter

    n, r = len(images), args.repeats
    print(f"segmentation ({images[0].shape[1]}x{images[0].shape[0]} px, {n} images, best of {r}):")
    from geoquiz.segmentation.default import _label_levels

    seg = DefaultSegmenter()
    tg, tr, og, orr = time_pair(
        lambda i: seg.segment(images[i]), lambda i: skimage_pipeline(images[i], seg._p), n, r
    )
    same = all(
        all(np.array_equal(a, b) for a, b in zip(_label_levels(images[i], seg._p), orr[i])) for i in range(n)
    )
    row(
        "default",
        tg,
        tr,
        f"{np.mean([len(s) for s in og]):.0f} segments/image; same label maps as raw: {same}",
    )
    if "sam" in args.skip:
        return og[0]
    import torch

    with tempfile.TemporaryDirectory(prefix="bench_explain_") as tmp:
        sam, label = sam_session(args, Path(tmp))
        generator_cls = sam._package.SamAutomaticMaskGenerator

        def raw(i: int):
            with torch.inference_mode():
                return generator_cls(sam._model, output_mode="binary_mask", **sam.amg).generate(images[i])

        tg, tr, og_sam, orr = time_pair(lambda i: sam.segment(images[i]), raw, n, max(1, min(r, 2)))
        same = all(_same_masks(a, b) for a, b in zip(og_sam, orr))
        n_masks = np.mean([len(a) for a in og_sam])
        row(
            "sam (automatic)",
            tg,
            tr,
            f"{label}; {sam.amg['points_per_side']}^2 prompts; {n_masks:.0f} masks/image, identical to raw: {same}",
        )
        # attribution-guided prompting: the grid points inside a map's top-20 % region
        from geoquiz.segmentation.base import guided_points

        heat = [blob_map(im.shape[:2], i) for i, im in enumerate(images)]

        def raw_guided(i: int):
            grid = guided_points(heat[i], 20.0, int(sam.amg["points_per_side"]))
            settings = {**sam.amg, "points_per_side": None, "point_grids": [grid]}
            with torch.inference_mode():
                return generator_cls(sam._model, output_mode="binary_mask", **settings).generate(images[i])

        tg, tr, og_g, orr_g = time_pair(
            lambda i: sam.segment_guided(images[i], heat[i], 20.0), raw_guided, n, max(1, min(r, 2))
        )
        same = all(_same_masks(a, b) for a, b in zip(og_g, orr_g))
        n_points = len(guided_points(heat[0], 20.0, int(sam.amg["points_per_side"])))
        row("sam (guided, top-20 %)", tg, tr, f"{n_points} prompts; identical to raw: {same}")
    return og[0]


def blob_map(shape: tuple[int, int], i: int) -> np.ndarray:
    """A smooth attribution-like map with one peak (a different place per image)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = h * (0.4 + 0.1 * (i % 3)), w * (0.6 - 0.1 * (i % 2))
    return np.exp(-(((yy - cy) / (0.2 * h)) ** 2 + ((xx - cx) / (0.2 * w)) ** 2)).astype(np.float32)


def _same_masks(segments, records) -> bool:
    return len(segments) == len(records) and all(
        np.array_equal(s.mask, r["segmentation"]) for s, r in zip(segments, records)
    )


def bench_elements(maps: dict[str, np.ndarray], segments: list, repeats: int) -> None:
    from geoquiz.elements import extract_elements

    print("elements (pure numpy: score, rank, de-duplicate, pad; no library counterpart):")
    for method, values in maps.items():
        t = min(_elapsed(lambda _i, v=values: extract_elements(v, segments), 0) for _ in range(repeats))
        k = len(extract_elements(values, segments))
        print(f"  {method:<24} {t * 1000:9.1f} ms for {len(segments)} segments -> {k} elements")


def load_model(args):
    import torch

    from geoquiz.models.predictor import LoadedModel
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec

    if args.project:
        from geoquiz.models.store import load_project_model
        from geoquiz.project import Project

        with Project.open(args.project) as project:
            return load_project_model(project, args.model, device="cpu")
    torch.manual_seed(0)
    spec = ModelSpec(args.arch, "single", CLASSES, input_size=args.size)
    return LoadedModel(build_model(spec, "scratch"), spec, "cpu")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.explain", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=224, help="model input size")
    parser.add_argument("--project", type=Path, default=None, help="use this project's model instead")
    parser.add_argument("--model", default="demo-resnet10")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--scorecam-channels",
        default="256,64",
        help="comma-separated channel subsets (256 = the CPU default)",
    )
    parser.add_argument("--scorecam-batch", type=int, default=32)
    parser.add_argument("--scorecam-repeats", type=int, default=1)
    parser.add_argument("--sam-checkpoint", type=Path, default=None, help="a real SAM checkpoint")
    parser.add_argument("--sam-type", default="vit_b", choices=("vit_b", "vit_l", "vit_h"))
    parser.add_argument(
        "--skip", default="", help="comma-separated: gradcam,gradcampp,scorecam,smoothgrad,ig,sam"
    )
    args = parser.parse_args(argv)
    args.skip = set(filter(None, args.skip.split(",")))
    args.scorecam_channels = [int(c) for c in args.scorecam_channels.split(",") if c]

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    lm = load_model(args)
    images = scenes(args.images, args.image_size)
    maps = bench_attribution(lm, images, args)
    segments = bench_segmentation(images, args)
    # maps are at the model's input size; segment there too for the element step
    if maps:
        s = lm.spec.input_size
        if s != images[0].shape[0]:
            from geoquiz.segmentation.default import DefaultSegmenter

            segments = DefaultSegmenter().segment(lm.input_images([images[0]])[0][0])
        bench_elements(maps, segments, args.repeats)


if __name__ == "__main__":
    main()
