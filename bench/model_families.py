"""Explain cost per model family vs the raw library call, and zero-shot (CLIP) predict throughput.

Each family's network is built by its GeoQuiz adapter at 224 px with random weights (the weights do
not change the cost): ``resnet18``, ``timm:vit_small_patch16_224``, ``timm:convnext_nano``,
``torchvision:efficientnet_b0`` and a CLIP ViT-B/32 image tower (transformers' default
``CLIPVisionConfig``, 3 prompt classes). Per family and method, one image in, one map out:

==========  =============================================  ==================================================
method      GeoQuiz                                        raw library call (same network, same target layer)
==========  =============================================  ==================================================
Grad-CAM    ``get_attributor("gradcam", lm)(image)``        ``GradCAM(net, [layer], reshape_transform)(x, None)``
SmoothGrad  ``get_attributor("smoothgrad", lm, ...)(image)``  ``NoiseTunnel(Saliency(net)).attribute(x, ...)``
==========  =============================================  ==================================================

GeoQuiz's time includes preprocessing the uint8 image, target selection and map post-processing;
the raw call gets the normalised tensor. ``ratio = GeoQuiz / raw`` (goal <= 1.2); best of
``--repeats``, the two sides alternating. Zero-shot throughput: ``LoadedModel.predict_arrays`` on
``--batch`` images (uint8 in, probabilities out) vs the bare image tower + head on the already
normalised batch. The machine may be shared: compare ratios, not seconds.

Run: ``python -m bench.model_families [--repeats 3] [--batch 16] [--skip clip]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

CLASSES = ("France", "India", "Japan")
FAMILIES = {
    "resnet": "resnet18",
    "timm-vit": "timm:vit_small_patch16_224",
    "timm-convnext": "timm:convnext_nano",
    "torchvision": "torchvision:efficientnet_b0",
    "clip": "clip:vit-b-32",
}


def _loaded(arch: str):
    import torch

    from geoquiz.models.families import family_for
    from geoquiz.models.predictor import LoadedModel
    from geoquiz.models.spec import ModelSpec

    options = {}
    if arch.startswith("clip:"):
        from transformers import CLIPVisionConfig

        vision = CLIPVisionConfig().to_dict()
        vision["projection_dim"] = 512
        options = {"backend": "transformers", "vision_config": vision}
    torch.manual_seed(0)
    spec = ModelSpec(arch, "single", CLASSES, 224, options=options)
    return LoadedModel(family_for(arch).build(spec), spec, "cpu")


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _pair(ours, raw, repeats: int) -> tuple[float, float]:
    ours(), raw()  # warm-up
    a = b = float("inf")
    for _ in range(repeats):
        a = min(a, _best(ours, 1))
        b = min(b, _best(raw, 1))
    return a, b


def explain_rows(
    lm, image: np.ndarray, repeats: int, n_samples: int
) -> list[tuple[str, float, float, float]]:
    """``(method, geoquiz s, raw s, map correlation)`` for Grad-CAM and SmoothGrad."""
    import torch
    from captum.attr import NoiseTunnel, Saliency
    from pytorch_grad_cam import GradCAM

    from geoquiz.attribution import get_attributor

    net = lm.model
    x = lm.preprocess([image])
    rows = []
    att = get_attributor("gradcam", lm)
    maps = {}

    def ours_cam():
        maps["ours"] = att(image)[0].values

    def raw_cam():
        with GradCAM(
            model=net, target_layers=[net.target_layer], reshape_transform=net.reshape_transform
        ) as cam:
            maps["raw"] = cam(x, None)[0]

    a, b = _pair(ours_cam, raw_cam, repeats)
    rows.append(("gradcam", a, b, float(np.corrcoef(maps["ours"].ravel(), maps["raw"].ravel())[0, 1])))
    sg = get_attributor("smoothgrad", lm, n_samples=n_samples, batch_size=n_samples, blur_sigma=0.0)
    with torch.no_grad():
        target = int(net(x).argmax(1)[0])
    sigma = 0.15 * float(x.max() - x.min())

    def ours_sg():
        sg(image)

    def raw_sg():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            NoiseTunnel(Saliency(net)).attribute(
                x,
                nt_type="smoothgrad",
                nt_samples=n_samples,
                nt_samples_batch_size=n_samples,
                stdevs=sigma,
                target=target,
            )

    a, b = _pair(ours_sg, raw_sg, repeats)
    rows.append(("smoothgrad", a, b, float("nan")))
    return rows


def zero_shot_throughput(lm, batch: int, repeats: int) -> tuple[float, float]:
    """Images per second: ``predict_arrays`` on uint8 images vs the bare tower + head on tensors."""
    import torch

    rng = np.random.default_rng(0)
    images = [(rng.random((256, 320, 3)) * 255).astype(np.uint8) for _ in range(batch)]
    x = lm.preprocess(images)

    def ours():
        lm.predict_arrays(images, batch_size=batch)

    def raw():
        with torch.inference_mode():
            torch.softmax(lm.model.head(lm.model.backbone(x)), dim=1)

    a, b = _pair(ours, raw, repeats)
    return batch / a, batch / b


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=16, help="zero-shot throughput batch")
    p.add_argument("--smoothgrad-samples", type=int, default=8)
    p.add_argument("--skip", nargs="*", default=[], choices=list(FAMILIES))
    args = p.parse_args(argv)
    from geoquiz.data.geoscenes.scene import render_scene

    image = render_scene("Japan", 1003, 224)[0]
    print(
        f"{'family':<14} {'arch':<30} {'method':<11} {'geoquiz s':>10} {'raw s':>9} {'ratio':>6} {'corr':>6}"
    )
    for key, arch in FAMILIES.items():
        if key in args.skip:
            continue
        needs = {"timm-vit": "timm", "timm-convnext": "timm", "clip": "transformers"}.get(key)
        if needs and importlib.util.find_spec(needs) is None:
            print(f"{key:<14} skipped: {needs} is not installed")
            continue
        lm = _loaded(arch)
        for method, a, b, corr in explain_rows(lm, image, args.repeats, args.smoothgrad_samples):
            print(
                f"{key:<14} {arch:<30} {method:<11} {a:>10.3f} {b:>9.3f} {a / b:>6.2f} {corr:>6.3f}",
                flush=True,
            )
        if key == "clip":
            ours, raw = zero_shot_throughput(lm, args.batch, args.repeats)
            print(
                f"zero-shot predict ({arch}, batch {args.batch}): {ours:.1f} images/s from uint8 images "
                f"(raw tower + head on tensors: {raw:.1f} images/s, ratio {raw / ours:.2f})"
            )


if __name__ == "__main__":
    main()
