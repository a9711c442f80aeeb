"""Study export throughput on a large synthetic study, and the ratio to raw pandas reads.

Builds a project with ``--participants`` x ``--trials`` main trials (3 ranked guesses and 2 cue boxes
each), predictions for every image and ``--elements`` elements per image, then times
:func:`geoquiz.study.export.export_all` (every CSV + codebook + COCO JSON) against the raw library
calls it builds on: ``pandas.read_sql_query("SELECT * FROM <table>")`` of trials, guesses, cue_boxes,
predictions and elements plus ``DataFrame.to_csv`` of each. Also times the agreement-free review read
side (:func:`geoquiz.study.review_data.load_answers`) and the dashboard data.

Run: ``python -m bench.export [--participants 200] [--trials 50] [--images 500]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

T = "2024-05-01T10:00:00.000+00:00"
CLASSES = ("France", "India", "Japan")


def build(root: Path, participants: int, trials: int, images: int, elements: int) -> Path:
    from geoquiz.db import insert, transaction
    from geoquiz.project import Project

    rng = np.random.default_rng(0)
    with Project.open(root, create=True) as project:
        db = project.db
        with transaction(db):
            ds = insert(db, "datasets", {"name": "big", "kind": "single", "source": "bench", "created_at": T})
            for i, c in enumerate(CLASSES):
                insert(db, "classes", {"dataset_id": ds, "name": c, "idx": i})
            db.conn.executemany(
                "INSERT INTO images (id, dataset_id, key, path, label, split, width, height) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (i + 1, ds, f"img{i}", f"/none/img{i}.png", CLASSES[i % 3], "test", 224, 224)
                    for i in range(images)
                ],
            )
            m = insert(
                db,
                "models",
                {
                    "name": "m",
                    "path": "m.pt",
                    "arch": "resnet18",
                    "integration": "single",
                    "classes_json": json.dumps(CLASSES),
                    "input_size": 224,
                    "created_at": T,
                },
            )
            probs = rng.dirichlet((1, 1, 1), size=images)
            db.conn.executemany(
                "INSERT INTO predictions (model_id, image_id, true_label, pred_label, confidence, probs_json, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        m,
                        i + 1,
                        CLASSES[i % 3],
                        CLASSES[int(np.argmax(p))],
                        float(p.max()),
                        json.dumps(p.round(4).tolist()),
                        T,
                    )
                    for i, p in enumerate(probs)
                ],
            )
            am_rows, seg_rows, el_rows = [], [], []
            for i in range(images):
                am_rows.append((i + 1, f"am{i}", m, i + 1, "gradcam", CLASSES[i % 3], "x.npy", T))
                seg_rows.append((i + 1, f"sg{i}", i + 1, "default", 5, "x.npz", T))
                for r in range(elements):
                    x, y = int(rng.integers(0, 180)), int(rng.integers(0, 180))
                    el_rows.append(
                        (i + 1, i + 1, "k", r + 1, x, y, x + 40, y + 40, 0.9 - 0.1 * r, 0.5, 0.5, 0.5)
                    )
            db.conn.executemany(
                "INSERT INTO attribution_maps (id, cache_key, model_id, image_id, method, target, path, "
                "created_at) VALUES (?,?,?,?,?,?,?,?)",
                am_rows,
            )
            db.conn.executemany(
                "INSERT INTO segmentations (id, cache_key, image_id, segmenter, n_segments, path, "
                "created_at) VALUES (?,?,?,?,?,?,?)",
                seg_rows,
            )
            db.conn.executemany(
                "INSERT INTO elements (attribution_map_id, segmentation_id, params_key, rank, x0, y0, "
                "x1, y1, score, overlap, mean_attr, centre_attr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                el_rows,
            )
            st = insert(
                db, "studies", {"slug": "big", "title": "Big", "definition_toml": "", "created_at": T}
            )
            trial_rows, guess_rows, box_rows = [], [], []
            tid = 0
            for p in range(participants):
                part = insert(db, "participants", {"study_id": st, "code": f"P{p:05d}", "created_at": T})
                ses = insert(
                    db,
                    "sessions",
                    {
                        "study_id": st,
                        "participant_id": part,
                        "seed": p,
                        "order_json": "{}",
                        "state": "finished",
                        "started_at": T,
                    },
                )
                for pos in range(trials):
                    tid += 1
                    img = int(rng.integers(0, images))
                    trial_rows.append(
                        (
                            tid,
                            ses,
                            pos,
                            "main",
                            img + 1,
                            CLASSES[img % 3],
                            T,
                            T,
                            int(rng.integers(2000, 60000)),
                            "=looks like France" if pos % 7 == 0 else "bollards",
                            int(rng.integers(1, 6)),
                        )
                    )
                    for r, g in enumerate(rng.permutation(CLASSES)):
                        guess_rows.append((tid, r + 1, g))
                    for _ in range(2):
                        x, y = int(rng.integers(0, 180)), int(rng.integers(0, 180))
                        box_rows.append((tid, "signs", x, y, x + 30, y + 30))
            db.conn.executemany(
                "INSERT INTO trials (id, session_id, position, kind, image_id, true_label, shown_at, "
                "submitted_at, response_time_ms, rationale, confidence) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                trial_rows,
            )
            db.conn.executemany("INSERT INTO guesses (trial_id, rank, label) VALUES (?,?,?)", guess_rows)
            db.conn.executemany(
                "INSERT INTO cue_boxes (trial_id, tag, x0, y0, x1, y1) VALUES (?,?,?,?,?,?)", box_rows
            )
    return root


def raw_seconds(db_path: Path, out: Path) -> float:
    import sqlite3

    import pandas as pd

    t0 = time.perf_counter()
    conn = sqlite3.connect(str(db_path))
    for table in ("trials", "guesses", "cue_boxes", "predictions", "elements"):
        pd.read_sql_query(f"SELECT * FROM {table}", conn).to_csv(out / f"raw_{table}.csv", index=False)  # noqa: S608
    conn.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--elements", type=int, default=5)
    args = parser.parse_args(argv)
    from geoquiz.project import Project
    from geoquiz.study.dashboard_data import load_dashboard
    from geoquiz.study.export import export_all
    from geoquiz.study.review_data import load_answers

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        root = build(tmp / "proj", args.participants, args.trials, args.images, args.elements)
        n_trials = args.participants * args.trials
        print(
            f"built {n_trials} trials, {3 * n_trials} guesses, {2 * n_trials} boxes, "
            f"{args.images * args.elements} elements in {time.perf_counter() - t0:.1f} s"
        )
        (tmp / "raw").mkdir()
        raw = raw_seconds(root / "geoquiz.sqlite", tmp / "raw")
        with Project.open(root) as project:
            t0 = time.perf_counter()
            files = export_all(project, tmp / "out")
            full = time.perf_counter() - t0
            t0 = time.perf_counter()
            export_all(
                project,
                tmp / "out2",
                what=["trials", "guesses", "cue_boxes", "model_predictions", "elements"],
            )
            same = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_answers(project.db)
            answers = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_dashboard(project.db, model="m", n_boot=200)
            dash = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in files) / 1e6
        print(f"raw pandas read_sql + to_csv of the 5 tables: {raw:.2f} s")
        print(
            f"export_all, same 5 tables (joins, types, neutralisation): {same:.2f} s  ratio {same / raw:.2f}"
        )
        print(
            f"export_all, everything ({len(files)} files, {size:.1f} MB incl. COCO): {full:.2f} s  "
            f"({n_trials / full:,.0f} trials/s)"
        )
        print(f"review_data.load_answers (all trials): {answers:.2f} s; dashboard data: {dash:.2f} s")


if __name__ == "__main__":
    main()
