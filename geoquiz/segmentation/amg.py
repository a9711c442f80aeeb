"""SAM's automatic mask generator without its bookkeeping overhead: same masks, about half the time.

Profiling ``SamAutomaticMaskGenerator.generate`` (segment-anything 1.0; MobileSAM's copy is the same
code) on a 224 px image with 32^2 prompts shows that the model is the smaller part of the cost:

* ``utils.amg.mask_to_rle_pytorch`` (every candidate mask of every batch is run-length encoded for
  storage) finds each mask's runs with ``change_indices[change_indices[:, 0] == i]``, a scan of the
  whole batch's change list per mask: quadratic in the batch, ~55-60 % of ``generate``;
* ``utils.amg.MaskData.cat`` deep-copies each batch's list of RLE dicts (Python lists of run
  lengths, millions of ints) when it appends it to the crop's data: ~25-30 %.

:func:`fast_generator_class` subclasses a package's generator and overrides the two methods that
call them, ``_process_batch`` and ``_process_crop``, with the package's own code except for those two
calls: the RLE is computed in one vectorised pass (:func:`mask_to_rle`, identical output: the same
``{"size", "counts"}`` dicts, the same Python ints), and batches are appended without the deep copy
(the batch's data is a fresh object that nothing else holds). Everything else -- thresholds,
stability score, box NMS, hole/island removal, the order of the records -- is the package's, so
``generate`` returns exactly what the package's generator returns (tests compare them mask by mask).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import numpy as np


def mask_to_rle(tensor: Any) -> list[dict[str, Any]]:
    """``segment_anything.utils.amg.mask_to_rle_pytorch`` in one pass: bool ``(B, H, W)`` masks ->
    uncompressed RLEs (column-major runs starting with a run of zeros), the same lists of ints."""
    b, h, w = tensor.shape
    flat = tensor.permute(0, 2, 1).flatten(1)
    change = (flat[:, 1:] ^ flat[:, :-1]).nonzero().cpu().numpy()
    starts = flat[:, 0].cpu().numpy()
    # change is sorted by mask, then position: cut it into one slice of run boundaries per mask
    bounds = np.searchsorted(change[:, 0], np.arange(b + 1))
    positions = change[:, 1] + 1
    out = []
    for i in range(b):
        edges = np.concatenate(([0], positions[bounds[i] : bounds[i + 1]], [h * w]))
        counts = [] if not starts[i] else [0]
        counts.extend(np.diff(edges).tolist())
        out.append({"size": [h, w], "counts": counts})
    return out


def _cat(data: Any, new: Any, torch: Any) -> None:
    """``MaskData.cat`` without deep-copying ``new``'s lists (``new`` is discarded afterwards)."""
    for k, v in new.items():
        old = data._stats.get(k)
        if old is None:
            data[k] = v
        elif isinstance(v, torch.Tensor):
            data[k] = torch.cat([old, v], dim=0)
        elif isinstance(v, np.ndarray):
            data[k] = np.concatenate([old, v], axis=0)
        elif isinstance(v, list):
            data[k] = old + v
        else:
            raise TypeError(f"MaskData key {k} has an unsupported type {type(v)}.")


@functools.cache
def fast_generator_class(base: type) -> type:
    """A subclass of a package's ``SamAutomaticMaskGenerator`` (segment-anything or MobileSAM) with
    the vectorised RLE and the copy-free append (see the module docstring)."""
    import torch
    from torchvision.ops.boxes import batched_nms

    amg = importlib.import_module(base.__module__.rsplit(".", 1)[0] + ".utils.amg")

    class FastAutomaticMaskGenerator(base):
        def _process_crop(self, image, crop_box, crop_layer_idx, orig_size):
            # the package's _process_crop, with _cat instead of MaskData.cat
            x0, y0, x1, y1 = crop_box
            cropped_im = image[y0:y1, x0:x1, :]
            cropped_im_size = cropped_im.shape[:2]
            self.predictor.set_image(cropped_im)
            points_scale = np.array(cropped_im_size)[None, ::-1]
            points_for_image = self.point_grids[crop_layer_idx] * points_scale
            data = amg.MaskData()
            for (points,) in amg.batch_iterator(self.points_per_batch, points_for_image):
                _cat(data, self._process_batch(points, cropped_im_size, crop_box, orig_size), torch)
            self.predictor.reset_image()
            keep_by_nms = batched_nms(
                data["boxes"].float(),
                data["iou_preds"],
                torch.zeros(len(data["boxes"])),
                iou_threshold=self.box_nms_thresh,
            )
            data.filter(keep_by_nms)
            data["boxes"] = amg.uncrop_boxes_xyxy(data["boxes"], crop_box)
            data["points"] = amg.uncrop_points(data["points"], crop_box)
            data["crop_boxes"] = torch.tensor([crop_box for _ in range(len(data["rles"]))])
            return data

        def _process_batch(self, points, im_size, crop_box, orig_size):
            # the package's _process_batch, with mask_to_rle instead of mask_to_rle_pytorch
            orig_h, orig_w = orig_size
            transformed_points = self.predictor.transform.apply_coords(points, im_size)
            in_points = torch.as_tensor(transformed_points, device=self.predictor.device)
            in_labels = torch.ones(in_points.shape[0], dtype=torch.int, device=in_points.device)
            masks, iou_preds, _ = self.predictor.predict_torch(
                in_points[:, None, :], in_labels[:, None], multimask_output=True, return_logits=True
            )
            data = amg.MaskData(
                masks=masks.flatten(0, 1),
                iou_preds=iou_preds.flatten(0, 1),
                points=torch.as_tensor(points.repeat(masks.shape[1], axis=0)),
            )
            del masks
            if self.pred_iou_thresh > 0.0:
                data.filter(data["iou_preds"] > self.pred_iou_thresh)
            data["stability_score"] = amg.calculate_stability_score(
                data["masks"], self.predictor.model.mask_threshold, self.stability_score_offset
            )
            if self.stability_score_thresh > 0.0:
                data.filter(data["stability_score"] >= self.stability_score_thresh)
            data["masks"] = data["masks"] > self.predictor.model.mask_threshold
            data["boxes"] = amg.batched_mask_to_box(data["masks"])
            keep_mask = ~amg.is_box_near_crop_edge(data["boxes"], crop_box, [0, 0, orig_w, orig_h])
            if not torch.all(keep_mask):
                data.filter(keep_mask)
            data["masks"] = amg.uncrop_masks(data["masks"], crop_box, orig_h, orig_w)
            data["rles"] = mask_to_rle(data["masks"])
            del data["masks"]
            return data

    FastAutomaticMaskGenerator.__qualname__ = f"Fast{base.__name__}"
    return FastAutomaticMaskGenerator


__all__ = ["fast_generator_class", "mask_to_rle"]
