"""Evaluate a project model on a dataset split, or predict a dataset, and store the results.

``evaluate_model`` predicts every sample (images for single-view models, locations for 4-view
models), writes one ``predictions`` row per sample (replacing that model's earlier prediction for
it) and one ``model_evaluations`` row whose ``metrics_json`` holds :func:`geoquiz.models.metrics.compute_metrics`
plus the sample ids, all in one transaction.

``predict_dataset`` (``geoquiz predict``) only fills the ``predictions`` table, through an engine
(:mod:`geoquiz.engine`: in this process, or on Ray workers that read the images themselves), one
forward per sample so every engine stores the same numbers; samples the model has a prediction for
are skipped unless ``redo``; the driver writes the rows in transactions of up to
:data:`PREDICTION_FLUSH` rows. Both go through :func:`store_predictions`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.types import ImageItem, Location

if TYPE_CHECKING:
    import sqlite_utils

    from geoquiz.project import Project


def evaluate_model(
    project: Project,
    model_name: str,
    dataset: str,
    split: str,
    *,
    reporter: Reporter | None = None,
    embedding: str = "pca",
    batch_size: int = 32,
    device: str = "auto",
) -> dict[str, Any]:
    """Metrics of ``model_name`` on ``dataset``/``split`` (``split="all"`` for every split), stored.

    Returns the metrics dict (see :func:`geoquiz.models.metrics.compute_metrics`) with ``evaluation_id``,
    ``model``, ``dataset``, ``split``, ``kind`` (``image``/``location``) and ``sample_ids``.
    Raises :class:`CheckpointError` when the model's classes differ from the dataset's.
    """
    from geoquiz.data.dataset import get_dataset, read_sample
    from geoquiz.models.checkpoint import check_classes
    from geoquiz.models.jobs import load_samples
    from geoquiz.models.metrics import compute_metrics
    from geoquiz.models.store import get_model, load_project_model

    info = get_model(project.db, model_name)
    ds = get_dataset(project.db, dataset)
    lm = load_project_model(project, model_name, device=device)
    check_classes(lm.path or info.path, lm.spec, ds.classes)
    samples = load_samples(project, dataset, None if split == "all" else split, lm.spec.integration)
    if not samples:
        raise GeoQuizError(f"dataset {dataset!r} has no samples in split {split!r}")
    probs, feats = [], []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        p, f = lm.predict_arrays([read_sample(s) for s in chunk], batch_size, features=True)
        probs.append(p)
        feats.append(f)
        step(reporter, start + len(chunk), len(samples), f"predicting {dataset}/{split}")
    probs_a, feats_a = np.concatenate(probs), np.concatenate(feats)
    labels = np.array([lm.class_index(s.label) for s in samples], dtype=np.int64)
    metrics = compute_metrics(probs_a, labels, lm.spec.classes, features=feats_a, embedding=embedding)
    is_loc = isinstance(samples[0], Location)
    metrics.update(
        {
            "model": model_name,
            "dataset": dataset,
            "split": split,
            "kind": "location" if is_loc else "image",
            "sample_ids": [int(s.id) for s in samples],
        }
    )
    stamp = now()
    db = project.db
    with transaction(db):
        store_predictions(db, info.id, lm.spec.classes, samples, probs_a, stamp=stamp)
        metrics["evaluation_id"] = insert(
            db,
            "model_evaluations",
            {
                "model_id": info.id,
                "dataset_id": ds.id,
                "split": split,
                "metrics_json": json.dumps(metrics),
                "created_at": stamp,
            },
        )
    return metrics


#: Rows per transaction when :func:`predict_dataset` stores predictions as they arrive.
PREDICTION_FLUSH = 256


def store_predictions(
    db: sqlite_utils.Database,
    model_id: int,
    classes: Sequence[str],
    samples: Sequence[ImageItem | Location],
    probs: Sequence[np.ndarray] | np.ndarray,
    *,
    stamp: str | None = None,
) -> int:
    """Write one ``predictions`` row per sample (probabilities in ``classes`` order), replacing the
    model's earlier prediction for that image or location, in one transaction (a savepoint inside an
    enclosing one). Returns the number of rows written."""
    if len(samples) != len(probs):
        raise ValueError(f"{len(samples)} samples but {len(probs)} probability rows")
    stamp = stamp or now()
    rows, by_col = [], {"image_id": [], "location_id": []}
    for s, p in zip(samples, probs):
        is_loc = isinstance(s, Location)
        k = int(np.argmax(p))
        rows.append(
            {
                "model_id": model_id,
                "image_id": None if is_loc else s.id,
                "location_id": s.id if is_loc else None,
                "true_label": s.label,
                "pred_label": classes[k],
                "confidence": float(p[k]),
                "probs_json": json.dumps([round(float(v), 6) for v in p]),
                "created_at": stamp,
            }
        )
        by_col["location_id" if is_loc else "image_id"].append((model_id, s.id))
    with transaction(db):
        for col, keys in by_col.items():
            if keys:
                db.conn.executemany(
                    f"DELETE FROM predictions WHERE model_id = ? AND {col} = ?",  # noqa: S608 - column from code
                    keys,
                )
        insert_many(db, "predictions", rows)
    return len(rows)


def predicted_sample_ids(db: sqlite_utils.Database, model_id: int, *, locations: bool) -> set[int]:
    """Ids of the images (or locations) that model ``model_id`` has a stored prediction for."""
    col = "location_id" if locations else "image_id"
    rows = db.execute(
        f"SELECT {col} FROM predictions WHERE model_id = ? AND {col} IS NOT NULL",  # noqa: S608 - column from code
        [model_id],
    ).fetchall()
    return {int(r[0]) for r in rows}


def predict_dataset(
    project: Project,
    model_name: str,
    dataset: str,
    split: str | None = None,
    *,
    engine: Any = None,
    reporter: Reporter | None = None,
    redo: bool = False,
    device: str = "auto",
) -> dict[str, Any]:
    """Predict every sample of ``dataset``/``split`` (``None`` or ``"all"``: every split) with
    ``model_name`` and store the ``predictions`` rows.

    ``engine``: where the forwards run (default the local engine). Samples with a stored prediction
    of this model are skipped unless ``redo``; a sample that fails (a corrupt image) is listed with
    its error and the run goes on. Returns ``{"model", "dataset", "split", "samples", "predicted",
    "skipped", "failed", "failures", "engine", "top1", "n_labelled", "seconds"}``; ``top1`` is the
    accuracy of the stored predictions of the split's samples (over those with a known label).
    """
    import time

    from geoquiz.data.dataset import get_dataset
    from geoquiz.engine import LocalEngine, run_items
    from geoquiz.engine.base import shifted
    from geoquiz.models.checkpoint import check_classes
    from geoquiz.models.jobs import PredictJob, checkpoint_of, load_samples
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import get_model

    start = time.perf_counter()
    split = None if split in (None, "all") else split
    info = get_model(project.db, model_name)
    ds = get_dataset(project.db, dataset)
    checkpoint, model_hash = checkpoint_of(project, model_name)
    spec = ModelSpec.from_dict(info.metadata["spec"]) if "spec" in info.metadata else None
    if spec is not None:
        check_classes(checkpoint, spec, ds.classes)
    samples = load_samples(project, dataset, split, info.integration)
    if not samples:
        raise GeoQuizError(f"dataset {dataset!r} has no samples in split {split or '(all)'}")
    is_loc = isinstance(samples[0], Location)
    classes = tuple(info.classes)
    engine = engine or LocalEngine(batch_size=32)
    done: set[str] = set()
    if not redo:
        have = predicted_sample_ids(project.db, info.id, locations=is_loc)
        done = {s.key for s in samples if s.id in have}
    job = PredictJob(checkpoint=checkpoint, model_hash=model_hash, device=device)
    if engine.in_process:
        from geoquiz.models.store import load_project_model

        job.loaded = load_project_model(project, model_name, device=device)
    pending: list[tuple[Any, np.ndarray]] = []

    def flush() -> None:
        if pending:
            store_predictions(project.db, info.id, classes, [s for s, _ in pending], [p for _, p in pending])
            pending.clear()

    def store(sample: Any, probs: np.ndarray) -> None:
        pending.append((sample, probs))
        if len(pending) >= PREDICTION_FLUSH:
            flush()

    try:
        summary = run_items(
            engine, job, samples, store=store, done_keys=done, reporter=shifted(reporter, len(done))
        )
    finally:
        flush()  # an interrupted run keeps what it predicted
    step(reporter, len(samples), len(samples), "done")
    col = "location_id" if is_loc else "image_id"
    ids = {s.id for s in samples}
    right = n = 0
    for sid, true, pred in project.db.execute(
        f"SELECT {col}, true_label, pred_label FROM predictions WHERE model_id = ? AND {col} IS NOT NULL",  # noqa: S608
        [info.id],
    ).fetchall():
        if sid in ids and true is not None:
            n += 1
            right += int(true == pred)
    return {
        "model": model_name,
        "dataset": dataset,
        "split": split or "all",
        "samples": len(samples),
        "predicted": summary.done,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "failures": [{"key": k, "error": e} for k, e in summary.failures],
        "engine": summary.engine,
        "top1": right / n if n else None,
        "n_labelled": n,
        "seconds": round(time.perf_counter() - start, 3),
    }


def list_evaluations(db: sqlite_utils.Database, model_name: str | None = None) -> list[dict[str, Any]]:
    """Stored evaluations, newest first: ``{"id", "model", "dataset", "split", "created_at", "top1", "top5", "n"}``."""
    sql = (
        "SELECT e.id, m.name, d.name, e.split, e.created_at, e.metrics_json FROM model_evaluations e "
        "JOIN models m ON m.id = e.model_id LEFT JOIN datasets d ON d.id = e.dataset_id"
    )
    params: list[Any] = []
    if model_name is not None:
        sql += " WHERE m.name = ?"
        params.append(model_name)
    out = []
    for eid, model, ds, split, created, mj in db.execute(sql + " ORDER BY e.id DESC", params).fetchall():
        m = json.loads(mj)
        out.append(
            {
                "id": eid,
                "model": model,
                "dataset": ds,
                "split": split,
                "created_at": created,
                "top1": m.get("top1"),
                "top5": m.get("top5"),
                "n": m.get("n"),
            }
        )
    return out


def load_evaluation(
    db: sqlite_utils.Database,
    model_name: str,
    dataset: str | None = None,
    split: str | None = None,
    *,
    evaluation_id: int | None = None,
) -> dict[str, Any] | None:
    """The newest stored metrics of ``model_name`` (optionally for one dataset/split or one id), or None."""
    sql = (
        "SELECT e.id, e.metrics_json FROM model_evaluations e JOIN models m ON m.id = e.model_id "
        "LEFT JOIN datasets d ON d.id = e.dataset_id WHERE m.name = ?"
    )
    params: list[Any] = [model_name]
    if dataset is not None:
        sql += " AND d.name = ?"
        params.append(dataset)
    if split is not None:
        sql += " AND e.split = ?"
        params.append(split)
    if evaluation_id is not None:
        sql += " AND e.id = ?"
        params.append(int(evaluation_id))
    row = db.execute(sql + " ORDER BY e.id DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    return {**json.loads(row[1]), "evaluation_id": int(row[0])}


def load_predictions(db: sqlite_utils.Database, model_name: str) -> list[dict[str, Any]]:
    """Stored predictions of ``model_name``: image_id, location_id, true/pred label, confidence, probs."""
    rows = db.execute(
        "SELECT p.image_id, p.location_id, p.true_label, p.pred_label, p.confidence, p.probs_json "
        "FROM predictions p JOIN models m ON m.id = p.model_id WHERE m.name = ? ORDER BY p.id",
        [model_name],
    ).fetchall()
    return [
        {
            "image_id": r[0],
            "location_id": r[1],
            "true_label": r[2],
            "pred_label": r[3],
            "confidence": r[4],
            "probs": json.loads(r[5]),
        }
        for r in rows
    ]
