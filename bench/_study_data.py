"""A large synthetic study for bench.export and the export / query-plan tests (deterministic).

:func:`build` fills a new project with:

* the main part, sized by the arguments: dataset ``big`` (``images`` single images, 224 x 224 px,
  every fourth 320 x 240), model ``m`` (input 224 px) with a prediction for every image, one
  Grad-CAM map, one segmentation and ``elements`` elements per image, and study ``big`` with
  ``participants`` x ``trials`` main trials (3 ranked guesses and 2 cue boxes each);
* a small fixed "extras" part that reaches every column and corner the export handles: a 4-view
  dataset ``big4`` with model ``m4`` (predictions by location, one as a ``{class: prob}`` object,
  one without a true label; elements per view on a 32 px grid), images with unknown size, a study
  ``big4`` with practice and attention trials, timed-out trials without guesses, rationales and notes
  a spreadsheet would run as formulas, UTF-8 with quotes, commas and newlines, planted cues, session
  events (a pause, a picture not shown), a faithfulness run, an agreement run and a stored model evaluation.

Image paths point nowhere (``/none/...``): nothing reads pixels. Run as ``python -m bench._study_data
DIR [--participants N ...]`` to build a project on its own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

T = "2024-05-01T10:00:00.000+00:00"
CLASSES = ("France", "India", "Japan")
VIEWS = ("north", "east", "south", "west")
TRICKY = (
    '=HYPERLINK("http://example.com","click")',
    "+44 bollards everywhere",
    "-driving on the left",
    "@SUM(A1:A2)",
    "\tTabbed start",
    "\rCarriage return",
    'Unicode: 日本の標識 – "quoted", with comma\nand a newline',
    "plain text",
    "",
)


def image_size(i: int) -> tuple[int, int]:
    """Width and height of main image ``i`` (0-based)."""
    return (320, 240) if i % 4 == 3 else (224, 224)


def build(root: Path, participants: int, trials: int, images: int, elements: int) -> Path:
    """Create the project at ``root`` (see the module docstring); returns ``root``."""
    from geoquiz.db import transaction
    from geoquiz.project import Project

    with Project.open(root, create=True) as project:
        with transaction(project.db):
            _main(project.db, participants, trials, images, elements)
        with transaction(project.db):
            _extras(project.db)
    return root


def _insert(db, table: str, row: dict) -> int:
    from geoquiz.db import insert

    return insert(db, table, row)


def _model(db, name: str, integration: str, size: int, dataset: int) -> int:
    row = {
        "name": name,
        "path": f"{name}.pt",
        "arch": "resnet18",
        "integration": integration,
        "classes_json": json.dumps(CLASSES),
        "input_size": size,
        "dataset_id": dataset,
        "created_at": T,
    }
    return _insert(db, "models", row)


def _main(db, participants: int, trials: int, images: int, elements: int) -> None:
    rng = np.random.default_rng(0)
    conn = db.conn
    ds = _insert(db, "datasets", {"name": "big", "kind": "single", "source": "bench", "created_at": T})
    for i, c in enumerate(CLASSES):
        _insert(db, "classes", {"dataset_id": ds, "name": c, "idx": i})
    conn.executemany(
        "INSERT INTO images (id, dataset_id, key, path, label, split, width, height) VALUES (?,?,?,?,?,?,?,?)",
        [
            (i + 1, ds, f"img{i}", f"/none/img{i}.png", CLASSES[i % 3], "test", *image_size(i))
            for i in range(images)
        ],
    )
    m = _model(db, "m", "single", 224, ds)
    probs = rng.dirichlet((1, 1, 1), size=images)
    conn.executemany(
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
            el_rows.append((i + 1, i + 1, "k", r + 1, x, y, x + 40, y + 40, 0.9 - 0.1 * r, 0.5, 0.5, 0.5))
    conn.executemany(
        "INSERT INTO attribution_maps (id, cache_key, model_id, image_id, method, target, path, created_at) "
        "VALUES (?,?,?,?,?,?,?,?)",
        am_rows,
    )
    conn.executemany(
        "INSERT INTO segmentations (id, cache_key, image_id, segmenter, n_segments, path, created_at) "
        "VALUES (?,?,?,?,?,?,?)",
        seg_rows,
    )
    conn.executemany(
        "INSERT INTO elements (attribution_map_id, segmentation_id, params_key, rank, x0, y0, x1, y1, score, "
        "overlap, mean_attr, centre_attr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        el_rows,
    )
    st = _insert(db, "studies", {"slug": "big", "title": "Big", "definition_toml": "", "created_at": T})
    trial_rows, guess_rows, box_rows = [], [], []
    tid = 0
    for p in range(participants):
        part = _insert(db, "participants", {"study_id": st, "code": f"P{p:05d}", "created_at": T})
        session = {
            "study_id": st,
            "participant_id": part,
            "seed": p,
            "order_json": "{}",
            "state": "finished",
            "started_at": T,
        }
        ses = _insert(db, "sessions", session)
        for pos in range(trials):
            tid += 1
            img = int(rng.integers(0, images))
            rationale = "=looks like France" if pos % 7 == 0 else "bollards"
            rt, conf = int(rng.integers(2000, 60000)), int(rng.integers(1, 6))
            trial_rows.append((tid, ses, pos, "main", img + 1, CLASSES[img % 3], T, T, rt, rationale, conf))
            for r, g in enumerate(rng.permutation(CLASSES)):
                guess_rows.append((tid, r + 1, g))
            for _ in range(2):
                x, y = int(rng.integers(0, 180)), int(rng.integers(0, 180))
                box_rows.append((tid, "signs", x, y, x + 30, y + 30))
    conn.executemany(
        "INSERT INTO trials (id, session_id, position, kind, image_id, true_label, shown_at, submitted_at, "
        "response_time_ms, rationale, confidence) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        trial_rows,
    )
    conn.executemany("INSERT INTO guesses (trial_id, rank, label) VALUES (?,?,?)", guess_rows)
    conn.executemany("INSERT INTO cue_boxes (trial_id, tag, x0, y0, x1, y1) VALUES (?,?,?,?,?,?)", box_rows)


def _trial(db, session: int, position: int, kind: str, truth: str, guesses, boxes=(), **extra) -> int:
    row = {
        "session_id": session,
        "position": position,
        "kind": kind,
        "true_label": truth,
        "shown_at": T,
        "submitted_at": "2024-05-01T10:00:07.250+00:00",
        "response_time_ms": 7250,
        **extra,
    }
    tid = _insert(db, "trials", row)
    for rank, label in enumerate(guesses, 1):
        _insert(db, "guesses", {"trial_id": tid, "rank": rank, "label": label})
    for view, tag, (x0, y0, x1, y1), note in boxes:
        box = {
            "trial_id": tid,
            "view": view,
            "tag": tag,
            "x0": x0,
            "y0": y0,
            "x1": x1,
            "y1": y1,
            "note": note,
        }
        _insert(db, "cue_boxes", box)
    return tid


def _elements(db, model: int, image: int, view: str | None, target: str, boxes, key: str) -> None:
    am = {
        "cache_key": f"am-{key}",
        "model_id": model,
        "image_id": image,
        "view": view,
        "method": "gradcampp",
        "target": target,
        "path": "x.npy",
        "created_at": T,
    }
    seg = {
        "cache_key": f"sg-{key}",
        "image_id": image,
        "segmenter": "sam_vit_b",
        "n_segments": 4,
        "path": "x.npz",
    }
    am_id, seg_id = (
        _insert(db, "attribution_maps", am),
        _insert(db, "segmentations", {**seg, "created_at": T}),
    )
    for rank, (x0, y0, x1, y1) in enumerate(boxes, 1):
        el = {"attribution_map_id": am_id, "segmentation_id": seg_id, "params_key": "top_p=0.2", "rank": rank}
        el.update(
            x0=x0, y0=y0, x1=x1, y1=y1, score=1 / (rank + 2), overlap=0.25, mean_attr=1e-5, centre_attr=-0.0
        )
        _insert(db, "elements", el)


def _extras(db) -> None:
    """The small fixed part (see the module docstring)."""
    ds = db.execute("SELECT id FROM datasets WHERE name = 'big'").fetchone()[0]
    m = db.execute("SELECT id FROM models WHERE name = 'm'").fetchone()[0]
    images = [
        r[0] for r in db.execute("SELECT id FROM images WHERE dataset_id = ? ORDER BY id LIMIT 6", [ds])
    ]
    for n, (w, h) in enumerate(((None, None), (300, None))):
        row = {"dataset_id": ds, "key": f"nosize{n}", "path": f"/none/nosize{n}.png", "label": CLASSES[n]}
        img = _insert(db, "images", {**row, "split": "val", "width": w, "height": h})
        _elements(db, m, img, None, CLASSES[n], [(-3, 2, 250, 260)], f"nosize{n}")
    _elements(db, m, images[3], None, "Japan", [(0, 0, 224, 224), (10, 20, 31, 41)], "scaled")
    ds4 = _insert(db, "datasets", {"name": "big4", "kind": "4view", "source": "bench", "created_at": T})
    m4 = _model(db, "m4", "early", 32, ds4)
    locations, views = [], {}
    for n in range(6):
        loc = {
            "dataset_id": ds4,
            "key": f"loc{n}",
            "label": CLASSES[n % 3],
            "split": "test",
            "latitude": 48.5 + n,
        }
        locations.append(_insert(db, "locations", {**loc, "longitude": -2.25 * n}))
        for view in VIEWS:
            row = {
                "dataset_id": ds4,
                "key": f"loc{n}_{view}",
                "path": f"/none/loc{n}_{view}.png",
                "label": loc["label"],
            }
            row.update(split="test", location_id=locations[-1], view=view, width=64, height=48)
            views[(n, view)] = _insert(db, "images", row)
            if view in ("north", "east"):
                box = [(0, 0, 8, 16), (20, 0, 32, 8)] if view == "east" else [(3, 3, 29, 29)]
                _elements(db, m4, views[(n, view)], view, CLASSES[n % 3], box, f"loc{n}_{view}")
        probs = [0.2, 0.3, 0.5] if n % 2 else [0.6, 0.25, 0.15]
        stored = json.dumps(dict(zip(CLASSES, probs))) if n == 0 else json.dumps(probs)
        pred = {
            "model_id": m4,
            "location_id": locations[-1],
            "true_label": None if n == 1 else CLASSES[n % 3],
        }
        pred.update(pred_label=CLASSES[int(np.argmax(probs))], confidence=max(probs), probs_json=stored)
        _insert(db, "predictions", {**pred, "created_at": T})
    for n, img in enumerate(images[:5]):
        cue = {
            "image_id": img,
            "tag": "bollards" if n % 2 else "signs",
            "detail": TRICKY[n],
            "x0": 0,
            "y0": 1,
        }
        _insert(db, "planted_cues", {**cue, "x1": 16 + n, "y1": 24})
    _insert(
        db,
        "planted_cues",
        {"image_id": views[(0, "east")], "tag": "poles", "x0": 8, "y0": 8, "x1": 24, "y1": 24},
    )
    st = _insert(
        db, "studies", {"slug": "big4", "title": "Big 4-view", "definition_toml": "", "created_at": T}
    )
    for p, code in enumerate(("Q0-AAAA", "Q1-BBBB", "=Q2-CCCC", "Q3-DDDD")):
        part = _insert(db, "participants", {"study_id": st, "code": code, "created_at": T})
        session = {"study_id": st, "participant_id": part, "seed": -p, "order_json": "{}", "started_at": T}
        ses = _insert(db, "sessions", {**session, "state": "finished" if p else "running"})
        _trial(db, ses, 0, "practice", "India", ["India"], image_id=images[1], confidence=None)
        for pos in range(1, 5):
            n = (p + pos) % 6
            truth = CLASSES[n % 3]
            guesses = (
                [] if (p, pos) == (1, 2) else [CLASSES[(n + p) % 3], CLASSES[(n + p + 1) % 3]][: 1 + pos % 2]
            )
            boxes = [
                ("east", "poles", (p, pos, 16 + p, 20), TRICKY[(p + pos) % len(TRICKY)]),
                ("south", "script" if pos % 2 else "unknown_tag", (40, 30, 60, 44), ""),
            ][: pos % 3]
            extra = {"location_id": locations[n], "views_shown": "north,east" if pos % 2 else ",".join(VIEWS)}
            extra.update(rationale=TRICKY[(3 * p + pos) % len(TRICKY)], confidence=None if pos == 3 else pos)
            extra.update(timed_out=int(not guesses), response_time_ms=1500 * pos + p)
            _trial(db, ses, pos, "main", truth, guesses, boxes, **extra)
        _trial(db, ses, 5, "attention", "France", ["France", "Japan"], image_id=images[0], confidence=2)
        if p == 2:  # session events: a pause of the trial clock and a picture that could not be shown
            event = {"session_id": ses, "position": 1, "kind": "pause", "started_at": T, "ended_at": T}
            _insert(db, "session_events", {**event, "duration_ms": 4250, "detail_json": "{}"})
            detail = json.dumps({"path": "/none/loc2_east.png", "error": "=cannot identify image file"})
            event = {"session_id": ses, "position": 3, "kind": "image_error", "started_at": T}
            _insert(db, "session_events", {**event, "detail_json": detail})
    _faithfulness(db, m, ds, images[:3], locations[0])
    _agreement(db, m, st, images[:2], locations[:2])
    metrics = {
        "n": 6,
        "classes": list(CLASSES),
        "confusion": [[2, 0, 0], [0, 2, 0], [0, 2, 0]],
        "roc": {c: {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.75, 1.0], "auc": 0.625} for c in CLASSES},
        "embedding": {"method": "pca", "coords": [[0.1, 0.2], [-0.5, 0.1], [0.3, -0.4]], "labels": [0, 1, 2]},
    }
    evaluation = {"model_id": m, "dataset_id": ds, "split": "test", "metrics_json": json.dumps(metrics)}
    _insert(db, "model_evaluations", {**evaluation, "created_at": T})


def _faithfulness(db, model: int, dataset: int, images, location: int) -> None:
    for kind in ("p_sweep", "grid"):
        run = {
            "model_id": model,
            "dataset_id": dataset,
            "split": "test",
            "config_json": "{}",
            "status": "done",
        }
        run_id = _insert(db, "evaluation_runs", {**run, "kind": kind, "created_at": T})
    for i, img in enumerate(images):
        for test in ("deletion", "insertion"):
            for selection in ("guided", "random"):
                row = {
                    "run_id": run_id,
                    "image_id": img,
                    "method": "gradcam",
                    "segmenter": "default",
                    "test": test,
                }
                row.update(
                    selection=selection, fill="blur", repeat=i % 2, seed=-3 if selection == "random" else None
                )
                row.update(
                    n_boxes=i + 1, coverage=0.1 * (i + 1), correct=int(test == "insertion"), true_prob=1 / 3
                )
                row.update(base_correct=None if i == 2 else 1, base_true_prob=None if i == 2 else 0.7)
                row.update(location_id=location if i == 1 else None)
                _insert(db, "evaluation_results", row)


def _agreement(db, model: int, study: int, images, locations) -> None:
    run = {
        "model_id": model,
        "study_id": study,
        "method": "gradcam",
        "segmenter": "default",
        "params_key": "k",
    }
    run_id = _insert(db, "agreement_runs", {**run, "created_at": T})
    rows = []
    for img in images:
        rows.append(
            {"scope": "item", "image_id": img, "reference": "human", "metric": "mask_iou", "value": 0.25}
        )
        rows.append(
            {"scope": "item", "image_id": img, "reference": "", "metric": "top1_human", "value": None}
        )
    for loc in locations:
        rows.append(
            {
                "scope": "item",
                "location_id": loc,
                "reference": "planted",
                "metric": "tag_overlap",
                "tag": "=x",
            }
        )
    rows.append(
        {"scope": "class", "label": "India", "reference": "human", "metric": "mask_iou", "value": 0.5}
    )
    rows.append(
        {
            "scope": "overall",
            "metric": "fleiss_kappa",
            "value": -0.125,
            "n": 7,
            "ci_low": -0.5,
            "ci_high": 0.25,
        }
    )
    for row in rows:
        _insert(db, "agreement", {"run_id": run_id, **row})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._study_data")
    parser.add_argument("root", type=Path)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--elements", type=int, default=5)
    args = parser.parse_args(argv)
    build(args.root, args.participants, args.trials, args.images, args.elements)


if __name__ == "__main__":
    main()
