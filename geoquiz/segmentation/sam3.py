"""SAM3 (Segment Anything with Concepts) through Hugging Face Transformers: concept-prompted segments
that carry a name (paper 000, section 4: "the employed concepts are extracted from a Geoguessr
guidebook ... roughly 200 candidate concepts").

A :class:`Sam3Segmenter` segments an image by prompting SAM3 with every concept of a vocabulary
(:mod:`geoquiz.segmentation.concepts`, default ``assets/concepts.toml``):

1. the image is encoded **once** (``Sam3Model.get_vision_features``) and the embedding is kept in an
   LRU keyed by the image's hash, so every concept prompt, and a later call on the same image,
   reuse it (:attr:`Sam3Segmenter.encoder_runs` counts real encoder runs);
2. the vocabulary's text embeddings are computed once per session (``get_text_features``);
3. concepts go through the detector in batches of ``prompt_batch``: the image embedding is expanded
   (not copied) along the batch, one row per concept;
4. a :class:`ConceptScorer` turns each batch's outputs into a score per concept x query in [0, 1]
   -- by default SAM3's own detection score (:class:`Sam3Scorer`: ``sigmoid(pred_logits) *
   sigmoid(presence_logits)``, as in ``Sam3Processor.post_process_instance_segmentation``). The scorer
   is an injectable component: tests give a scorer whose scores are known, since a random-weight
   model's are noise;
5. every query scoring above ``score_threshold`` gives a mask (its probabilities upsampled
   bilinearly to the image and cut at ``mask_threshold``, as the library's post-processing does);
6. masks that several concepts (or queries) found are merged: walking down the scores, a mask whose
   IoU with an already kept mask is at least ``merge_iou`` is dropped, so each kept mask carries its
   **highest-scoring concept** and that concept's cue tag (:attr:`geoquiz.types.Segment.concept`,
   ``.tag``; ``.quality`` = the score).

The model loads lazily from the checkpoint folder (:mod:`geoquiz.segmentation.sam3_checkpoint`) on
the device asked for (``auto``: CUDA when present). SAM3 has no point-prompted guided mode here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from geoquiz.segmentation.base import (
    EmbeddingCache,
    SegmenterInfo,
    SegmenterUnavailable,
    check_image,
    image_hash,
    masks_to_segments,
)
from geoquiz.segmentation.concepts import Concept, Vocabulary, load_vocabulary
from geoquiz.types import Segment

#: Settings of a SAM3 session (keyword params of :class:`Sam3Segmenter`). ``prompt_batch`` changes
#: only the speed and memory, the rest change the segments (and are part of the cache key).
DEFAULTS: dict[str, Any] = {
    "score_threshold": 0.5,
    "mask_threshold": 0.5,
    "merge_iou": 0.8,
    "prompt_batch": 8,
    "dtype": "float32",
}
DTYPES = ("float32", "bfloat16", "float16")


class ConceptScorer(Protocol):
    """Scores of one prompt batch: a float tensor (B, Q) in [0, 1] for the B concepts of the batch
    (in order) and the detector's Q queries. ``name`` enters the cache key."""

    name: str

    def __call__(self, outputs: Any, concepts: Sequence[Concept]) -> Any: ...


class Sam3Scorer:
    """SAM3's detection score: ``sigmoid(pred_logits) * sigmoid(presence_logits)``."""

    name = "sam3"

    def __call__(self, outputs: Any, concepts: Sequence[Concept]) -> Any:
        scores = outputs.pred_logits.float().sigmoid()
        if outputs.presence_logits is not None:
            scores = scores * outputs.presence_logits.float().sigmoid()
        return scores


def merge_masks(masks: Any, scores: Any, merge_iou: float) -> list[int]:
    """Indices of the masks kept, best score first: a mask whose IoU with an already kept one is
    ``>= merge_iou`` is dropped. ``masks``: bool tensor (N, H, W); ``scores``: (N,). Ties keep the
    lower index."""
    import torch

    n = int(masks.shape[0])
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: (-float(scores[i]), i))
    flat = masks.reshape(n, -1).float()
    areas = flat.sum(dim=1)
    inter = flat @ flat.T
    union = areas[:, None] + areas[None, :] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(inter))
    kept: list[int] = []
    for i in order:
        if areas[i] == 0:
            continue
        if kept and float(iou[i, kept].max()) >= merge_iou:
            continue
        kept.append(i)
    return kept


class Sam3Segmenter:
    """A lazily loaded SAM3 session (see the module docstring). ``concepts``: the vocabulary file
    ('' = ``assets/concepts.toml``) or a :class:`Vocabulary`; ``scorer``: a :class:`ConceptScorer`
    (default :class:`Sam3Scorer`); other keyword params: :data:`DEFAULTS`."""

    supports_guided = False

    def __init__(
        self,
        info: SegmenterInfo,
        checkpoint: str,
        device: str = "auto",
        *,
        concepts: str | Vocabulary = "",
        scorer: ConceptScorer | None = None,
        cache_size: int = 2,
        **settings: Any,
    ) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(
                f"unknown SAM3 setting(s) {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}"
            )
        self.settings = {**DEFAULTS, **settings}
        if self.settings["dtype"] not in DTYPES:
            raise ValueError(f"SAM3 dtype must be one of {', '.join(DTYPES)}, got {self.settings['dtype']!r}")
        if int(self.settings["prompt_batch"]) < 1:
            raise ValueError("SAM3 prompt_batch must be at least 1")
        self.info = info
        self.name = info.name
        self.checkpoint = checkpoint
        self.device_name = device
        self.vocabulary = concepts if isinstance(concepts, Vocabulary) else load_vocabulary(concepts or None)
        self.scorer: ConceptScorer = scorer or Sam3Scorer()
        self.embedding_cache = EmbeddingCache(cache_size)
        self.encoder_runs = 0
        self.prompt_batches = 0
        self._model: Any = None
        self._processor: Any = None
        self._text: Any = None
        self._lock = threading.RLock()

    @property
    def params(self) -> dict[str, Any]:
        """Everything that changes the segments (part of cache keys): the vocabulary's content hash,
        thresholds, scorer and dtype."""
        out = {k: v for k, v in self.settings.items() if k != "prompt_batch"}
        out.update(
            vocabulary=self.vocabulary.digest, n_concepts=len(self.vocabulary), scorer=self.scorer.name
        )
        return out

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Check the checkpoint folder and load the model and processor (once)."""
        with self._lock:
            if self._model is not None:
                return
            try:
                import transformers  # noqa: F401 - the extra's package, checked before any work
            except ImportError as exc:
                raise SegmenterUnavailable(
                    f"{self.name} needs the Python package 'transformers', which is not installed: "
                    f"pip install geoquiz[{self.info.extra}]"
                ) from exc
            import torch

            from geoquiz.device import resolve_device
            from geoquiz.segmentation.sam3_checkpoint import load_checkpoint_dir

            dtype = getattr(torch, self.settings["dtype"])
            model, processor = load_checkpoint_dir(self.info, self.checkpoint, dtype=dtype)
            self._device = resolve_device(self.device_name)
            self._model = model.to(self._device)
            self._processor = processor

    # --- embeddings --------------------------------------------------------------------------
    def _vision(self, image: np.ndarray) -> Any:
        """The image's vision embedding (``Sam3VisionEncoderOutput``, FPN levels only), cached."""
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        key = image_hash(image)
        hit = self.embedding_cache.get(key)
        if hit is not None:
            return hit
        pixels = self._processor(images=image, return_tensors="pt")["pixel_values"]
        out = self._model.get_vision_features(pixel_values=pixels.to(self._device, self._model.dtype))
        embed = Sam3VisionEncoderOutput(
            fpn_hidden_states=tuple(out.fpn_hidden_states),
            fpn_position_encoding=tuple(out.fpn_position_encoding),
        )
        self.encoder_runs += 1
        self.embedding_cache.put(key, embed)
        return embed

    def _text_embeddings(self) -> tuple[Any, Any]:
        """``(embeddings (N, T, D), attention mask (N, T))`` of every concept, computed once."""
        if self._text is None:
            import torch

            length = int(self._model.config.text_config.max_position_embeddings)
            tok = self._processor.tokenizer(
                list(self.vocabulary.texts),
                padding="max_length",
                max_length=length,
                truncation=True,
                return_tensors="pt",
            )
            ids, mask = tok["input_ids"].to(self._device), tok["attention_mask"].to(self._device)
            parts = []
            step = 64
            for start in range(0, len(ids), step):
                out = self._model.get_text_features(
                    input_ids=ids[start : start + step], attention_mask=mask[start : start + step]
                )
                parts.append(out.pooler_output)
            self._text = (torch.cat(parts), mask)
        return self._text

    # --- segmentation ------------------------------------------------------------------------
    def _detect(self, vision: Any, image_hw: tuple[int, int]) -> tuple[Any, Any, Any]:
        """Every (concept, query) scoring above the threshold: ``(masks bool (K, H, W), scores (K,),
        concept indices (K,))``, prompts in batches of ``prompt_batch``."""
        import torch
        import torch.nn.functional as F
        from transformers.modeling_outputs import BaseModelOutputWithPooling
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        embeds, text_mask = self._text_embeddings()
        concepts = self.vocabulary.concepts
        batch = int(self.settings["prompt_batch"])
        masks, scores, which = [], [], []
        for start in range(0, len(concepts), batch):
            stop = min(start + batch, len(concepts))
            b = stop - start
            vision_b = Sam3VisionEncoderOutput(
                fpn_hidden_states=tuple(x.expand(b, -1, -1, -1) for x in vision.fpn_hidden_states),
                fpn_position_encoding=tuple(x.expand(b, -1, -1, -1) for x in vision.fpn_position_encoding),
            )
            out = self._model(
                vision_embeds=vision_b,
                text_embeds=BaseModelOutputWithPooling(pooler_output=embeds[start:stop]),
                attention_mask=text_mask[start:stop],
            )
            self.prompt_batches += 1
            score = self.scorer(out, concepts[start:stop])
            if tuple(score.shape) != tuple(out.pred_logits.shape):
                raise ValueError(
                    f"the concept scorer {self.scorer.name!r} returned shape {tuple(score.shape)}, "
                    f"expected {tuple(out.pred_logits.shape)} (concepts x queries)"
                )
            rows, cols = torch.nonzero(score > float(self.settings["score_threshold"]), as_tuple=True)
            if len(rows) == 0:
                continue
            probs = out.pred_masks[rows, cols].float().sigmoid()[None]  # as the library: sigmoid, resize, cut
            up = F.interpolate(probs, size=image_hw, mode="bilinear", align_corners=False)[0]
            masks.append(up > float(self.settings["mask_threshold"]))
            scores.append(score[rows, cols].float())
            which.append(rows + start)
        if not masks:
            empty = torch.zeros((0, *image_hw), dtype=torch.bool)
            return empty, torch.zeros(0), torch.zeros(0, dtype=torch.long)
        return torch.cat(masks), torch.cat(scores), torch.cat(which)

    def segment(self, image: np.ndarray) -> list[Segment]:
        """Named segments of an RGB uint8 HxWx3 image, best score first (see the module docstring)."""
        import torch

        image = check_image(image)
        self.load()
        with self._lock, torch.inference_mode():
            vision = self._vision(image)
            masks, scores, which = self._detect(vision, image.shape[:2])
            kept = merge_masks(masks, scores, float(self.settings["merge_iou"]))
            concepts = self.vocabulary.concepts
            chosen = [concepts[int(which[i])] for i in kept]
            stack = masks[kept].cpu().numpy() if kept else np.zeros((0, *image.shape[:2]), bool)
            return masks_to_segments(
                list(stack),
                [float(scores[i]) for i in kept],
                [c.text for c in chosen],
                [c.tag for c in chosen],
            )


def build_sam3(info: SegmenterInfo, checkpoint: str, device: str = "auto", **params: Any) -> Sam3Segmenter:
    """Registry builder (:data:`geoquiz.segmentation.SEGMENTERS`)."""
    return Sam3Segmenter(info, checkpoint, device, **params)


# --- a tiny random-weight model for tests and benchmarks (its masks and scores mean nothing) -----


def build_tiny_sam3(
    seed: int = 0, image_size: int = 112, queries: int = 8, *, detections: bool = False
) -> tuple[Any, Any]:
    """``(Sam3Model, Sam3Processor)``: the real Transformers classes with a small config (a 2-layer
    ViT of width 32 on ``image_size`` px, 1-layer text / DETR encoder and decoder, ``queries``
    object queries; ~0.3 M parameters) and random weights, plus a byte-level CLIP tokenizer (no merges).

    ``detections``: make SAM3's own scores clear the default threshold now and then, as a trained
    model's do (the presence head's output bias is set high and the query projection scaled up, so
    the detection scores spread over (0, 1) with the concept and the query); the detections are
    still random. For app tests and benchmarks that run the default scorer."""
    import torch
    from tokenizers import pre_tokenizers
    from transformers import (
        CLIPTokenizer,
        Sam3Config,
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3ImageProcessor,
        Sam3MaskDecoderConfig,
        Sam3Model,
        Sam3Processor,
        Sam3VisionConfig,
        Sam3ViTConfig,
    )

    torch.manual_seed(seed)
    small = {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64}
    grid = image_size // 14
    config = Sam3Config(
        vision_config=Sam3VisionConfig(
            backbone_config=Sam3ViTConfig(
                **small,
                num_hidden_layers=2,
                image_size=image_size,
                patch_size=14,
                window_size=4,
                global_attn_indexes=[1],
                pretrain_image_size=image_size // 2,
            ),
            fpn_hidden_size=32,
            backbone_feature_sizes=[[grid * 4, grid * 4], [grid * 2, grid * 2], [grid, grid]],
        ),
        text_config={
            **small,
            "vocab_size": 600,
            "projection_dim": 32,
            "num_hidden_layers": 1,
            "max_position_embeddings": 32,
            "hidden_act": "gelu",
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        geometry_encoder_config=Sam3GeometryEncoderConfig(**small, num_layers=1),
        detr_encoder_config=Sam3DETREncoderConfig(**small, num_layers=1),
        detr_decoder_config=Sam3DETRDecoderConfig(**small, num_layers=1, num_queries=queries),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=32, num_attention_heads=4),
    )
    model = Sam3Model(config).eval()
    if detections:
        with torch.no_grad():
            model.detr_decoder.presence_head.layer3.bias.fill_(10.0)
            model.dot_product_scoring.query_proj.weight.mul_(60.0)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in pre_tokenizers.ByteLevel.alphabet():
            vocab.setdefault(ch + suffix, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    processor = Sam3Processor(
        image_processor=Sam3ImageProcessor(
            size={"height": image_size, "width": image_size},
            mask_size={"height": grid * 4, "width": grid * 4},
        ),
        tokenizer=tokenizer,
    )
    return model, processor


TINY_SAM3 = SegmenterInfo(
    name="tiny_random_sam3",
    family="sam3",
    arch="tiny",
    official_file="(none: a random-weight test model)",
    package="transformers",
    extra="sam3",
    source="built by geoquiz.segmentation.sam3.build_tiny_sam3",
    description="tiny random-weight SAM3 for tests and benchmarks",
    builder="geoquiz.segmentation.sam3:build_sam3",
    checkpoint_kind="directory",
    check="geoquiz.segmentation.sam3_checkpoint:check_checkpoint_dir",
    concepts=True,
)
