"""Storing and reading counterfactual cue importance (tables ``causal_units`` / ``causal_cues``,
migration ``m0140_causal``). Parameterised SQL only; a unit and its cues in one transaction."""

from __future__ import annotations

from typing import Any

from geoquiz.boxes import Box
from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.ground_truth.causal import CausalUnit, CueEffect
from geoquiz.types import ImageItem, Location


def done_keys(db: Any, model_hash: str, dataset_id: int) -> list[str]:
    """Keys of the units already stored for this checkpoint and dataset."""
    rows = db.execute(
        "SELECT unit_key FROM causal_units WHERE model_hash = ? AND dataset_id = ?", [model_hash, dataset_id]
    ).fetchall()
    return [r[0] for r in rows]


def store_unit(db: Any, ids: dict, unit: ImageItem | Location, value: CausalUnit) -> int:
    """Store one unit and its counterfactuals in one transaction (``ids``: ``model_name``,
    ``model_hash``, ``dataset_id``); returns the unit's row id."""
    is_loc = isinstance(unit, Location)
    image_id = unit.ordered()[0].id if is_loc else unit.id
    with transaction(db):
        uid = insert(
            db,
            "causal_units",
            {
                **ids,
                "image_id": image_id,
                "location_id": unit.id if is_loc else None,
                "unit_key": unit.key,
                "label": value.label,
                "true_prob": value.true_prob,
                "pred_label": value.pred_label,
                "n_renders": value.n_renders,
                "created_at": now(),
            },
        )
        insert_many(
            db,
            "causal_cues",
            [
                {
                    "unit_id": uid,
                    "kind": e.kind,
                    "view": e.view,
                    "instance": e.instance,
                    "cue_key": e.cue_key,
                    "tag": e.tag,
                    "detail": e.detail,
                    "x0": e.box.x0 if e.box else None,
                    "y0": e.box.y0 if e.box else None,
                    "x1": e.box.x1 if e.box else None,
                    "y1": e.box.y1 if e.box else None,
                    "true_prob": e.true_prob,
                    "drop_prob": e.drop,
                    "pred_label": e.pred_label,
                    "flipped": int(e.flipped),
                }
                for e in value.effects
            ],
        )
    return uid


def load_units(
    db: Any, model_hash: str, dataset_id: int, keys: list[str] | None = None
) -> dict[str, CausalUnit]:
    """The stored units of a checkpoint and dataset by key (``keys``: only those), effects in the order
    they were stored (objects by view and instance, then tags)."""
    rows = db.execute(
        "SELECT id, unit_key, label, true_prob, pred_label, n_renders FROM causal_units "
        "WHERE model_hash = ? AND dataset_id = ? ORDER BY unit_key",
        [model_hash, dataset_id],
    ).fetchall()
    wanted = None if keys is None else set(keys)
    units: dict[int, CausalUnit] = {}
    for uid, key, label, p, pred, n in rows:
        if wanted is None or key in wanted:
            units[uid] = CausalUnit(key, label, float(p), pred, [], int(n))
    if not units:
        return {}
    cues = db.execute(
        "SELECT c.unit_id, c.kind, c.tag, c.true_prob, c.drop_prob, c.pred_label, c.flipped, c.view, "
        "c.instance, c.cue_key, c.detail, c.x0, c.y0, c.x1, c.y1 FROM causal_cues c "
        "JOIN causal_units u ON u.id = c.unit_id WHERE u.model_hash = ? AND u.dataset_id = ? ORDER BY c.id",
        [model_hash, dataset_id],
    ).fetchall()
    for uid, kind, tag, p, drop, pred, flipped, view, inst, key, detail, x0, y0, x1, y1 in cues:
        if uid in units:
            box = Box(x0, y0, x1, y1) if x0 is not None else None
            units[uid].effects.append(
                CueEffect(kind, tag, float(p), float(drop), pred, bool(flipped), view, inst, key, detail, box)
            )
    return {u.key: u for u in units.values()}


def clear_units(db: Any, model_hash: str, dataset_id: int) -> int:
    """Delete a checkpoint's stored units of a dataset (their cues go with them); returns how many."""
    with transaction(db):
        cur = db.execute(
            "DELETE FROM causal_units WHERE model_hash = ? AND dataset_id = ?", [model_hash, dataset_id]
        )
    return int(cur.rowcount)


__all__ = ["clear_units", "done_keys", "load_units", "store_unit"]
