"""SAM2 (the ``sam2`` package, SAM 2.1 Hiera checkpoints) behind the same session as SAM.

``sam2`` is an optional extra (``pip install geoquiz[sam2]``; its build pulls a CUDA torch, so it
is not installed by default). Everything is imported lazily: without the package, using a SAM2
segmenter raises :class:`geoquiz.segmentation.base.SegmenterUnavailable` saying what to install,
and :func:`geoquiz.segmentation.segmenter_status` reports it.

The architecture comes from ``sam2.build_sam.build_sam2(<hydra config>, ckpt_path=None)`` and the
weights from the official file (a dict with the state dict under ``"model"``), loaded with
``torch.load(weights_only=True)`` + ``load_state_dict``. ``SAM2ImagePredictor`` keeps its image
embedding in ``_features``; the cached subclass below reuses it per image hash, like the SAM session.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geoquiz.segmentation.base import EmbeddingCache, image_hash
from geoquiz.segmentation.sam import SamSegmenter

#: SAM2 automatic-mask-generator settings (the sam2 package's defaults, min_mask_region_area 16).
SAM2_AMG: dict[str, Any] = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.8,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "min_mask_region_area": 16,
}


def cached_sam2_predictor_class(base: type) -> type:
    """A ``SAM2ImagePredictor`` subclass whose ``set_image`` reuses cached embeddings."""

    class CachedSam2Predictor(base):
        def __init__(self, model: Any, cache: EmbeddingCache, **kwargs: Any) -> None:
            super().__init__(model, **kwargs)
            self.embedding_cache = cache
            self.encoder_runs = 0

        def set_image(self, image: np.ndarray) -> None:
            key = image_hash(np.asarray(image))
            hit = self.embedding_cache.get(key)
            if hit is not None:
                self.reset_predictor()
                self._orig_hw = [np.asarray(image).shape[:2]]
                self._features = hit
                self._is_image_set = True
                self._is_batch = False
                return
            super().set_image(image)
            self.encoder_runs += 1
            self.embedding_cache.put(key, self._features)

    return CachedSam2Predictor


class Sam2Segmenter(SamSegmenter):
    """A lazily loaded SAM2 session (full and attribution-guided automatic mask generation)."""

    _state_key = "model"

    def __init__(self, info, checkpoint: str, device: str = "auto", **amg: Any) -> None:
        super().__init__(info, checkpoint, device, **amg)
        self.amg = {**SAM2_AMG, **amg}

    def _build_architecture(self, package: Any) -> Any:
        from sam2.build_sam import build_sam2

        return build_sam2(self.info.arch, ckpt_path=None, device="cpu", mode="eval")

    def _make_predictor(self) -> Any:
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        area = int(self.amg["min_mask_region_area"])
        cls = cached_sam2_predictor_class(SAM2ImagePredictor)
        return cls(self._model, self.embedding_cache, max_hole_area=area, max_sprinkle_area=area)

    def _make_generator(self, settings: dict[str, Any]) -> Any:
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        generator = SAM2AutomaticMaskGenerator(self._model, output_mode="binary_mask", **settings)
        generator.predictor = self._predictor
        return generator
