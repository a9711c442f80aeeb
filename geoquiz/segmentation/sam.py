"""SAM (segment-anything, vit_b / vit_l / vit_h) and MobileSAM (mobilesam-mirror, vit_t) sessions.

Both packages expose the same API (``sam_model_registry``, ``SamPredictor``,
``SamAutomaticMaskGenerator``); MobileSAM's import name is ``mobile_sam`` and its registry adds
``vit_t`` (a TinyViT encoder). A :class:`SamSegmenter`:

* builds the architecture with the package's registry **without** a checkpoint and loads the
  weights itself with ``torch.load(weights_only=True)`` + ``load_state_dict`` (the packages'
  own loaders unpickle arbitrary objects); a missing or wrong file raises
  :class:`geoquiz.errors.CheckpointError` naming the official file, never a silent fallback;
* loads lazily on the first call and is cached per process by :func:`geoquiz.segmentation.get_segmenter`;
* caches image embeddings per image (keyed by the image's hash) in an LRU, so the full and the
  attribution-guided mode, or several attribution methods, pay the image encoder once;
* ``segment(image)``: the paper's full-image automatic mask generation (``points_per_side``² point
  prompts), by the package's generator minus its bookkeeping overhead
  (:mod:`geoquiz.segmentation.amg`: the same masks in about half the time); ``segment_guided(image, heatmap, top_p)``: the same generator prompted only with the
  grid points inside the heatmap's salient region (see :func:`geoquiz.segmentation.base.guided_points`)
  -- fewer prompts, so the mask decoder and post-processing cost shrink roughly by ``top_p`` %.

Masks come back as :class:`geoquiz.types.Segment` with ``quality`` = SAM's predicted IoU.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from geoquiz.segmentation.base import (
    EmbeddingCache,
    SegmenterInfo,
    SegmenterUnavailable,
    check_image,
    guided_points,
    image_hash,
    load_state_dict_checked,
    masks_to_segments,
)
from geoquiz.types import Segment

#: Automatic-mask-generator settings (segment-anything's defaults, except min_mask_region_area).
DEFAULT_AMG: dict[str, Any] = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "min_mask_region_area": 16,
}


def import_package(info: SegmenterInfo):
    try:
        with warnings.catch_warnings():  # mobile_sam's timm imports warn about deprecated paths
            warnings.simplefilter("ignore")
            return importlib.import_module(info.package)
    except ImportError as exc:
        raise SegmenterUnavailable(
            f"{info.name} needs the Python package '{info.package}', which is not installed: "
            f"pip install geoquiz[{info.extra}]"
        ) from exc


def cached_predictor_class(base: type) -> type:
    """A subclass of a ``SamPredictor`` class whose ``set_image`` reuses cached embeddings."""

    class CachedSamPredictor(base):
        def __init__(self, model: Any, cache: EmbeddingCache) -> None:
            super().__init__(model)
            self.embedding_cache = cache
            self.encoder_runs = 0

        def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
            key = f"{image_format}:{image_hash(image)}"
            hit = self.embedding_cache.get(key)
            if hit is not None:
                self.reset_image()
                self.features, self.original_size, self.input_size = hit
                self.is_image_set = True
                return
            super().set_image(image, image_format)
            self.encoder_runs += 1
            self.embedding_cache.put(key, (self.features, self.original_size, self.input_size))

    return CachedSamPredictor


class SamSegmenter:
    """A lazily loaded SAM / MobileSAM session. ``build`` overrides the architecture factory
    (tests and benchmarks use a tiny random-weight SAM); AMG settings come as keyword params."""

    supports_guided = True

    def __init__(
        self,
        info: SegmenterInfo,
        checkpoint: str,
        device: str = "auto",
        *,
        build: Callable[[], Any] | None = None,
        cache_size: int = 8,
        **amg: Any,
    ) -> None:
        unknown = set(amg) - set(DEFAULT_AMG)
        if unknown:
            raise ValueError(
                f"unknown SAM setting(s) {', '.join(sorted(unknown))}; known: {', '.join(DEFAULT_AMG)}"
            )
        self.info = info
        self.name = info.name
        self.checkpoint = checkpoint
        self.device_name = device
        self._build = build
        self.amg = {**DEFAULT_AMG, **amg}
        self.embedding_cache = EmbeddingCache(cache_size)
        self._model = None
        self._predictor = None
        self._lock = threading.RLock()

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.amg)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Build the model and load the checkpoint (done once; later calls return at once)."""
        with self._lock:
            if self._model is not None:
                return
            package = import_package(self.info)
            from geoquiz.device import resolve_device

            model = self._build() if self._build is not None else self._build_architecture(package)
            load_state_dict_checked(model, self.info, self.checkpoint, key=self._state_key)
            model.to(resolve_device(self.device_name))
            model.eval()
            self._package = package
            self._model = model
            self._predictor = self._make_predictor()

    # hooks that the SAM2 session overrides
    _state_key: str | None = None

    def _build_architecture(self, package: Any) -> Any:
        return package.sam_model_registry[self.info.arch](checkpoint=None)

    def _make_predictor(self) -> Any:
        return cached_predictor_class(self._package.SamPredictor)(self._model, self.embedding_cache)

    def _make_generator(self, settings: dict[str, Any]) -> Any:
        from geoquiz.segmentation.amg import fast_generator_class

        # the package's generator without its RLE / copy overhead: the same masks (geoquiz.segmentation.amg)
        generator = fast_generator_class(self._package.SamAutomaticMaskGenerator)(
            self._model, output_mode="binary_mask", **settings
        )
        generator.predictor = self._predictor  # share the embedding cache
        return generator

    @property
    def encoder_runs(self) -> int:
        """How many times the image encoder ran (the rest were embedding-cache hits)."""
        return 0 if self._predictor is None else self._predictor.encoder_runs

    def _generate(self, image: np.ndarray, point_grid: np.ndarray | None) -> list[Segment]:
        import torch

        self.load()
        settings = dict(self.amg)
        if point_grid is not None:
            settings["points_per_side"] = None
            settings["point_grids"] = [point_grid]
        with self._lock, torch.inference_mode():
            records = self._make_generator(settings).generate(image)
        return masks_to_segments([r["segmentation"] for r in records], [r["predicted_iou"] for r in records])

    def segment(self, image: np.ndarray) -> list[Segment]:
        """Full-image automatic mask generation (paper 000's setting)."""
        return self._generate(check_image(image), None)

    def segment_guided(self, image: np.ndarray, heatmap: np.ndarray, top_p: float = 20.0) -> list[Segment]:
        """Automatic mask generation prompted only inside the heatmap's top-p salient region."""
        image = check_image(image)
        points = guided_points(heatmap, top_p, int(self.amg["points_per_side"]))
        if len(points) == 0:
            return []
        return self._generate(image, points)


# --- tiny random-weight models for tests and benchmarks (their masks mean nothing) --------------


def build_tiny_sam(seed: int = 0, img_size: int = 256, embed_dim: int = 32):
    """A segment-anything ``Sam`` with a 2-block ViT encoder (~0.2 M parameters), random weights."""
    from functools import partial

    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(seed)
    dim = 32
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size,
            patch_size=16,
            embed_dim=embed_dim,
            depth=2,
            num_heads=2,
            mlp_ratio=2.0,
            out_chans=dim,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True,
            window_size=4,
            global_attn_indexes=(1,),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=dim,
            image_embedding_size=(img_size // 16, img_size // 16),
            input_image_size=(img_size, img_size),
            mask_in_chans=4,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=dim, mlp_dim=64, num_heads=2),
            transformer_dim=dim,
            iou_head_depth=2,
            iou_head_hidden_dim=dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def build_tiny_mobilesam(seed: int = 0):
    """A MobileSAM ``Sam`` with a minimal TinyViT encoder (TinyViT fixes the input at 1024 px and
    the embedding at 256 x 64 x 64), random weights."""
    import torch

    with warnings.catch_warnings():  # timm deprecation warnings from mobile_sam's imports
        warnings.simplefilter("ignore")
        from mobile_sam.modeling import MaskDecoder, PromptEncoder, Sam, TinyViT, TwoWayTransformer

    torch.manual_seed(seed)
    sam = Sam(
        image_encoder=TinyViT(
            img_size=1024,
            in_chans=3,
            num_classes=10,
            embed_dims=[8, 16, 16, 320],
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 1, 2],
            window_sizes=[7, 7, 7, 7],
            mlp_ratio=2.0,
            drop_rate=0.0,
            drop_path_rate=0.0,
            use_checkpoint=False,
            mbconv_expand_ratio=2.0,
            local_conv_size=3,
            layer_lr_decay=0.8,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_chans=4
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=256, mlp_dim=64, num_heads=2),
            transformer_dim=256,
            iou_head_depth=2,
            iou_head_hidden_dim=32,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


TINY_SAM = SegmenterInfo(
    name="tiny_random_sam",
    family="sam",
    arch="tiny",
    official_file="(none: a random-weight test model)",
    package="segment_anything",
    extra="sam",
    source="built by geoquiz.segmentation.sam.build_tiny_sam",
    description="2-block random-weight SAM for tests and benchmarks",
)

TINY_MOBILESAM = SegmenterInfo(
    name="tiny_random_mobilesam",
    family="mobilesam",
    arch="tiny",
    official_file="(none: a random-weight test model)",
    package="mobile_sam",
    extra="mobilesam",
    source="built by geoquiz.segmentation.sam.build_tiny_mobilesam",
    description="minimal random-weight MobileSAM for tests and benchmarks",
)
