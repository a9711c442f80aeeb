"""SAM3 concept segmentation: GeoQuiz's session vs the plain library call, per image.

* **raw** -- what the Transformers docs show, once per concept: ``Sam3Processor(images=image,
  text=concept)``, ``Sam3Model(**inputs)``, ``post_process_instance_segmentation`` (the image is
  preprocessed and encoded again for every concept);
* **geoquiz, new image** -- :meth:`geoquiz.segmentation.sam3.Sam3Segmenter.segment` on an image it has
  not seen: the image is encoded once, the vocabulary's text embeddings are reused (computed by an
  earlier call), the concepts go through the detector in batches of ``--prompt-batch``, masks are
  merged and named;
* **geoquiz, cached image** -- the same image again (the embedding cache's hit: the Explainer's
  second method on an image).

Both paths keep every detection above ``--threshold`` (default 0: with random weights the scores are
noise) so they do the same mask work. Printed: seconds per image and the ratio raw / geoquiz, and the
encoder runs. Weights: ``--checkpoint FOLDER`` (the facebook/sam3 folder) for the real model; without
it, a tiny random-weight SAM3 (:func:`geoquiz.segmentation.sam3.build_tiny_sam3`, ``--image-size``
px) saved and loaded through GeoQuiz's checkpoint code -- its timings show the path's overheads,
not SAM3's (whose ViT-L encoder at 1008 px dominates, so the saving grows with the concept count).

Run: ``python -m bench.sam3 [--concepts 32] [--images 3] [--image-size 224] [--checkpoint FOLDER]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _images(n: int, size: int = 224) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        img = np.full((size, size, 3), 110, dtype=np.uint8)
        x, y = rng.integers(0, size // 2, 2)
        img[y : y + size // 3, x : x + size // 3] = rng.integers(0, 255, 3)
        out.append(np.clip(img + rng.integers(0, 30, img.shape), 0, 255).astype(np.uint8))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concepts", type=int, default=32, help="first N concepts of assets/concepts.toml")
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--image-size", type=int, default=224, help="the tiny model's input size (multiple of 14)")
    p.add_argument("--prompt-batch", type=int, default=8)
    p.add_argument("--threshold", type=float, default=0.0)
    p.add_argument("--checkpoint", default="", help="a SAM3 checkpoint folder (default: a tiny random model)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    import torch

    from geoquiz.segmentation import SEGMENTERS
    from geoquiz.segmentation.concepts import Vocabulary, load_vocabulary
    from geoquiz.segmentation.sam3 import TINY_SAM3, Sam3Segmenter, build_tiny_sam3
    from geoquiz.segmentation.sam3_checkpoint import load_checkpoint_dir, save_checkpoint_dir

    vocab = load_vocabulary()
    concepts = vocab.concepts
    if not args.checkpoint:  # the tiny tokenizer has one token per character: 30 fit its 32 positions
        concepts = tuple(c for c in concepts if len(c.text) <= 30)
    vocab = Vocabulary(concepts[: args.concepts], vocab.source)
    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            info, folder, label = SEGMENTERS["sam3"], Path(args.checkpoint), "SAM3"
        else:
            model, processor = build_tiny_sam3(seed=0, image_size=args.image_size)
            folder = save_checkpoint_dir(model, processor, Path(tmp) / "tiny_sam3")
            info, label = TINY_SAM3, f"tiny random SAM3 ({args.image_size} px)"
        model, processor = load_checkpoint_dir(info, folder)
        model = model.to(args.device)
        seg = Sam3Segmenter(
            info,
            str(folder),
            args.device,
            concepts=vocab,
            score_threshold=args.threshold,
            prompt_batch=args.prompt_batch,
        )
        images = _images(args.images)
        seg.segment(_images(1, 96)[0])  # load the model, compute the text embeddings once
        raw_s, new_s, cached_s, n_masks = [], [], [], []
        for image in images:
            t0 = time.perf_counter()
            with torch.inference_mode():
                for concept in vocab.texts:
                    inputs = processor(images=image, text=concept, return_tensors="pt").to(args.device)
                    out = model(**inputs)
                    processor.post_process_instance_segmentation(
                        out, threshold=args.threshold, target_sizes=[image.shape[:2]]
                    )
            t1 = time.perf_counter()
            segments = seg.segment(image)
            t2 = time.perf_counter()
            seg.segment(image)
            t3 = time.perf_counter()
            raw_s.append(t1 - t0)
            new_s.append(t2 - t1)
            cached_s.append(t3 - t2)
            n_masks.append(len(segments))
    raw, new, cached = (float(np.mean(v)) for v in (raw_s, new_s, cached_s))
    print(
        f"{label}, {len(vocab)} concepts, prompt batch {args.prompt_batch}, {args.images} images, {args.device}"
    )
    print(f"  raw library, one call per concept : {raw:8.3f} s/image ({len(vocab)} image encodings)")
    print(
        f"  geoquiz, new image                : {new:8.3f} s/image (1 image encoding)   ratio raw/geoquiz {raw / new:5.2f}"
    )
    print(
        f"  geoquiz, cached image             : {cached:8.3f} s/image (0 image encodings)   ratio raw/geoquiz {raw / cached:5.2f}"
    )
    print(
        f"  encoder runs {seg.encoder_runs} for {args.images + 1} images; named segments per image {np.mean(n_masks):.1f}"
    )
    print("  (the machine may be shared: compare the ratios, not the seconds)")


if __name__ == "__main__":
    main()
