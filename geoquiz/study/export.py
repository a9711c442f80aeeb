"""Export the study data as tidy CSVs, a codebook and COCO JSON (pandas; Qt-free).

* One CSV per table (:data:`EXPORTS`; columns and meanings in
  :mod:`geoquiz.study.export_codebook`): ``trials`` (one row per trial), ``guesses`` (one row per
  guess rank), ``cue_boxes`` (one row per box), ``model_predictions``, ``elements``,
  ``faithfulness``, ``agreement``, ``planted_cues``; plus ``codebook.csv``, ``coco_boxes.json``
  (participants' cue boxes and the model's elements) and ``manifest.json``.
* Reading only, inside ONE read transaction on a connection of its own (``BEGIN DEFERRED``; in WAL
  mode a reader never blocks a writer): a quiz running in another process keeps saving answers while
  the export runs, and the export is a consistent snapshot (no trial without its guesses).
* Every file is written atomically: to a temporary file in the same folder, flushed and fsynced,
  then ``os.replace``-d over the target. UTF-8 without BOM; CRLF row ends (RFC 4180), so a text cell
  holding a CR or LF is always quoted and reads back as one cell.
* Text cells a spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab, CR) get
  a leading ``'``; numbers stay numbers (see :func:`neutralise`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoquiz import __version__
from geoquiz.csvio import neutralise, neutralise_frame, write_csv, write_json
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.study.export_codebook import EXPORTS, TABLES, codebook_rows, column_names
from geoquiz.types import CUE_TAGS

COCO_NAME = "coco_boxes.json"
MODEL_CATEGORY = "model_element"


# --------------------------------------------------------------------------- snapshot and writing


@contextlib.contextmanager
def read_snapshot(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    """A connection of its own holding one read transaction (a consistent snapshot) on ``db_path``.

    ``query_only`` makes any write through it an error; the transaction is ``BEGIN DEFERRED`` and the
    snapshot is taken by a first read, so writers in other processes are never blocked (WAL).
    """
    path = Path(db_path)
    if not path.exists():
        raise GeoQuizError(f"cannot export: the project database {path} does not exist")
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA query_only=ON")
        conn.execute("BEGIN DEFERRED")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("COMMIT")
        conn.close()


# ------------------------------------------------------------------------------------ the tables


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}


def _query(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    return pd.read_sql_query(sql, conn, params=list(params))


def _typed(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Columns in codebook order with codebook types (nullable integers stay integers)."""
    cols = TABLES[table]
    out = pd.DataFrame(index=df.index)
    for c in cols:
        series = (
            df[c.name] if c.name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
        )
        if c.type in ("int", "bool"):
            out[c.name] = pd.to_numeric(series, errors="coerce").round().astype("Int64")
        elif c.type == "float":
            out[c.name] = pd.to_numeric(series, errors="coerce").astype("float64")
        else:
            out[c.name] = series.astype(object).where(series.notna(), None)
    return out.reset_index(drop=True)


_TRIAL_JOINS = (
    "JOIN sessions s ON s.id = t.session_id JOIN participants p ON p.id = s.participant_id "
    "JOIN studies st ON st.id = s.study_id"
)
_TRIAL_FROM = "FROM trials t " + _TRIAL_JOINS


def trials_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    df = _query(
        conn,
        "SELECT t.id AS trial_id, st.slug AS study, p.code AS participant, t.session_id, s.seed AS session_seed, "  # noqa: S608 - fragments are constants
        "t.position, t.kind, d.name AS dataset, t.image_id, i.key AS image_key, t.location_id, "
        "l.key AS location_key, t.views_shown, t.true_label, "
        "(SELECT g.label FROM guesses g WHERE g.trial_id = t.id ORDER BY g.rank LIMIT 1) AS guess_1, "
        "(SELECT count(*) FROM guesses g WHERE g.trial_id = t.id) AS n_guesses, "
        "(SELECT min(g.rank) FROM guesses g WHERE g.trial_id = t.id AND g.label = t.true_label) AS correct_rank, "
        "t.confidence, t.response_time_ms, t.timed_out, t.rationale, "
        "COALESCE(cb.n, 0) AS n_cue_boxes, t.shown_at, t.submitted_at "
        f"{_TRIAL_FROM} LEFT JOIN images i ON i.id = t.image_id LEFT JOIN locations l ON l.id = t.location_id "
        # cue_boxes has no index on trial_id: count them in one grouped pass, not once per trial
        "LEFT JOIN (SELECT trial_id, count(*) AS n FROM cue_boxes GROUP BY trial_id) cb ON cb.trial_id = t.id "
        "LEFT JOIN datasets d ON d.id = COALESCE(i.dataset_id, l.dataset_id) ORDER BY t.id",
    )
    rank = pd.to_numeric(df["correct_rank"], errors="coerce")
    df["top1_correct"] = (rank == 1).astype(int)
    df["top5_correct"] = (rank <= 5).astype(int)
    return _typed(df, "trials")


def guesses_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    df = _query(
        conn,
        "SELECT g.trial_id, st.slug AS study, p.code AS participant, t.kind, g.rank, g.label, t.true_label, "  # noqa: S608 - fragments are constants
        f"CASE WHEN g.label = t.true_label THEN 1 ELSE 0 END AS correct FROM guesses g "
        f"JOIN trials t ON t.id = g.trial_id {_TRIAL_JOINS} ORDER BY g.trial_id, g.rank",
    )
    return _typed(df, "guesses")


def cue_boxes_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    df = _query(
        conn,
        "SELECT c.id AS box_id, c.trial_id, st.slug AS study, p.code AS participant, t.kind, "  # noqa: S608 - fragments are constants
        "COALESCE(t.image_id, vi.id) AS image_id, img.key AS image_key, t.location_id, c.view, c.tag, "
        "c.x0, c.y0, c.x1, c.y1, c.x1 - c.x0 AS width, c.y1 - c.y0 AS height, c.note FROM cue_boxes c "
        f"JOIN trials t ON t.id = c.trial_id {_TRIAL_JOINS} "
        "LEFT JOIN images vi ON vi.location_id = t.location_id AND vi.view = c.view "
        "LEFT JOIN images img ON img.id = COALESCE(t.image_id, vi.id) ORDER BY c.id",
    )
    return _typed(df, "cue_boxes")


def _decode_probs(probs_json: str, classes_json: str) -> dict[str, float]:
    classes = json.loads(classes_json)
    data = json.loads(probs_json)
    if isinstance(data, dict):
        return {str(k): float(v) for k, v in data.items()}
    return {c: float(p) for c, p in zip(classes, data)}


def model_predictions_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    df = _query(
        conn,
        "SELECT pr.id AS prediction_id, m.name AS model, d.name AS dataset, pr.image_id, i.key AS image_key, "
        "pr.location_id, l.key AS location_key, COALESCE(i.split, l.split) AS split, "
        "COALESCE(pr.true_label, i.label, l.label) AS true_label, pr.pred_label, pr.confidence, pr.probs_json, "
        "m.classes_json, pr.created_at FROM predictions pr JOIN models m ON m.id = pr.model_id "
        "LEFT JOIN images i ON i.id = pr.image_id LEFT JOIN locations l ON l.id = pr.location_id "
        "LEFT JOIN datasets d ON d.id = COALESCE(i.dataset_id, l.dataset_id) ORDER BY pr.id",
    )
    extra: dict[str, list[Any]] = {k: [] for k in ("probs_json", "true_prob", "true_rank", "top5", "correct")}
    for probs_json, classes_json, truth, pred in zip(
        df["probs_json"], df["classes_json"], df["true_label"], df["pred_label"]
    ):
        probs = _decode_probs(probs_json, classes_json)
        ranked = sorted(probs, key=lambda c: -probs[c])
        extra["probs_json"].append(json.dumps(probs, ensure_ascii=False))
        extra["true_prob"].append(probs.get(truth) if truth is not None else None)
        extra["true_rank"].append(ranked.index(truth) + 1 if truth in probs else None)
        extra["top5"].append("|".join(ranked[:5]))
        extra["correct"].append(None if truth is None else int(pred == truth))
    for key, values in extra.items():
        df[key] = pd.Series(values, index=df.index, dtype=object)
    rank = pd.to_numeric(df["true_rank"], errors="coerce")
    df["top5_correct"] = np.where(rank.isna(), np.nan, (rank <= 5).astype(float))
    return _typed(df, "model_predictions")


def elements_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    """The model's elements. geoquiz.explain computes them at the model's input resolution S x S
    (``input_x0`` ...); ``x0`` ... are the same boxes in the image's own pixels (scaled by
    ``width / S`` and ``height / S``, rounded outwards, clipped), the frame of the cue boxes."""
    df = _query(
        conn,
        "SELECT e.id AS element_id, m.name AS model, am.image_id, i.key AS image_key, i.location_id, "
        "COALESCE(am.view, i.view) AS view, am.method, am.target, sg.segmenter, e.params_key, e.rank, "
        "e.x0 AS input_x0, e.y0 AS input_y0, e.x1 AS input_x1, e.y1 AS input_y1, m.input_size, i.path, "
        "i.width AS image_width, i.height AS image_height, "
        "e.score, e.overlap, e.mean_attr, e.centre_attr, e.concept, e.tag, e.concept_score FROM elements e "
        "JOIN attribution_maps am ON am.id = e.attribution_map_id "
        "JOIN segmentations sg ON sg.id = e.segmentation_id LEFT JOIN models m ON m.id = am.model_id "
        "LEFT JOIN images i ON i.id = am.image_id ORDER BY e.id",
    )
    sizes: dict[str, tuple[int, int]] = {}
    for path, w, h in zip(df["path"], df["image_width"], df["image_height"]):
        if (pd.isna(w) or pd.isna(h)) and isinstance(path, str) and path not in sizes:
            sizes[path] = _image_size(path)
    width = pd.Series(
        [sizes[p][0] if p in sizes else w for p, w in zip(df["path"], df["image_width"])], index=df.index
    )
    height = pd.Series(
        [sizes[p][1] if p in sizes else h for p, h in zip(df["path"], df["image_height"])], index=df.index
    )
    width, height = pd.to_numeric(width, errors="coerce"), pd.to_numeric(height, errors="coerce")
    size = pd.to_numeric(df["input_size"], errors="coerce")
    known = size.notna() & width.gt(0) & height.gt(0)
    sx, sy = (width / size).where(known, 1.0), (height / size).where(known, 1.0)
    w_lim, h_lim = width.where(known, np.inf), height.where(known, np.inf)
    df["x0"] = np.floor(df["input_x0"] * sx).clip(lower=0)
    df["y0"] = np.floor(df["input_y0"] * sy).clip(lower=0)
    df["x1"] = np.minimum(np.ceil(df["input_x1"] * sx), w_lim)
    df["y1"] = np.minimum(np.ceil(df["input_y1"] * sy), h_lim)
    return _typed(df, "elements")


def faithfulness_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    res, runs = _columns(conn, "evaluation_results"), _columns(conn, "evaluation_runs")
    loc = "r.location_id" if "location_id" in res else "NULL AS location_id"
    kind = "u.kind AS run_kind" if "kind" in runs else "'grid' AS run_kind"
    segs = (
        "r.n_segments, r.segment_coverage"
        if "n_segments" in res
        else "NULL AS n_segments, NULL AS segment_coverage"
    )
    df = _query(
        conn,
        "SELECT r.id AS result_id, r.run_id, m.name AS model, d.name AS dataset, u.split, r.image_id, "  # noqa: S608 - fragments are constants
        "i.key AS image_key, r.method, r.segmenter, r.test, r.selection, r.fill, r.repeat, r.seed, r.n_boxes, "
        f"r.coverage, r.correct, r.true_prob, r.base_correct, r.base_true_prob, {loc}, {kind}, {segs} "
        "FROM evaluation_results r JOIN evaluation_runs u ON u.id = r.run_id "
        "LEFT JOIN models m ON m.id = u.model_id LEFT JOIN datasets d ON d.id = u.dataset_id "
        "LEFT JOIN images i ON i.id = r.image_id ORDER BY r.id",
    )
    return _typed(df, "faithfulness")


def agreement_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "agreement" not in tables:
        return _typed(pd.DataFrame(), "agreement")
    df = _query(
        conn,
        "SELECT a.run_id, m.name AS model, s.slug AS study, r.method, r.segmenter, r.params_key, a.scope, "
        "a.image_id, i.key AS image_key, a.location_id, l.key AS location_key, a.label, a.reference, a.metric, "
        "a.tag, a.value, a.n, a.ci_low, a.ci_high FROM agreement a JOIN agreement_runs r ON r.id = a.run_id "
        "LEFT JOIN models m ON m.id = r.model_id LEFT JOIN studies s ON s.id = r.study_id "
        "LEFT JOIN images i ON i.id = a.image_id LEFT JOIN locations l ON l.id = a.location_id "
        "ORDER BY a.run_id, a.id",
    )
    return _typed(df, "agreement")


def planted_cues_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    df = _query(
        conn,
        "SELECT c.id AS cue_id, d.name AS dataset, c.image_id, i.key AS image_key, i.location_id, i.view, c.tag, "
        "c.detail, c.x0, c.y0, c.x1, c.y1 FROM planted_cues c JOIN images i ON i.id = c.image_id "
        "JOIN datasets d ON d.id = i.dataset_id ORDER BY c.id",
    )
    return _typed(df, "planted_cues")


FRAMES: dict[str, Callable[[sqlite3.Connection], pd.DataFrame]] = {
    "trials": trials_frame,
    "guesses": guesses_frame,
    "cue_boxes": cue_boxes_frame,
    "model_predictions": model_predictions_frame,
    "elements": elements_frame,
    "faithfulness": faithfulness_frame,
    "agreement": agreement_frame,
    "planted_cues": planted_cues_frame,
}


# ------------------------------------------------------------------------------------------ COCO


def _image_size(path: str | None) -> tuple[int, int]:
    if not path:
        return (0, 0)
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError):
        return (0, 0)


def coco_document(conn: sqlite3.Connection, boxes: pd.DataFrame, elements: pd.DataFrame) -> dict[str, Any]:
    """COCO detection JSON of the participants' cue boxes and the model's elements.

    Categories: one per cue tag (ids 1..9 in CUE_TAGS order, supercategory ``cue``) and
    ``model_element`` (supercategory ``model``). ``bbox`` is ``[x, y, width, height]`` in pixels;
    ``attributes.source`` is ``human`` or ``model`` and links back to cue_boxes.csv / elements.csv.
    """
    categories = [{"id": i + 1, "name": t, "supercategory": "cue"} for i, t in enumerate(CUE_TAGS)]
    categories.append({"id": len(CUE_TAGS) + 1, "name": MODEL_CATEGORY, "supercategory": "model"})
    cat_id = {c["name"]: c["id"] for c in categories}
    image_ids = sorted({int(i) for i in pd.concat([boxes["image_id"], elements["image_id"]]).dropna()})
    images = []
    for chunk in (image_ids[i : i + 900] for i in range(0, len(image_ids), 900)):
        marks = ",".join("?" * len(chunk))
        for iid, key, path, width, height, view, loc in conn.execute(
            f"SELECT id, key, path, width, height, view, location_id FROM images WHERE id IN ({marks})",  # noqa: S608
            chunk,
        ):
            if not width or not height:
                width, height = _image_size(path)
            images.append(
                {
                    "id": iid,
                    "file_name": path,
                    "width": width,
                    "height": height,
                    "geoquiz_key": key,
                    "view": view,
                    "location_id": loc,
                }
            )
    annotations: list[dict[str, Any]] = []

    def bbox(r: Any) -> list[int]:
        return [int(r.x0), int(r.y0), int(r.x1 - r.x0), int(r.y1 - r.y0)]

    for r in boxes.dropna(subset=["image_id"]).itertuples(index=False):
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": int(r.image_id),
                "category_id": cat_id.get(r.tag, cat_id["other"]),
                "bbox": bbox(r),
                "area": int((r.x1 - r.x0) * (r.y1 - r.y0)),
                "iscrowd": 0,
                "attributes": {
                    "source": "human",
                    "box_id": int(r.box_id),
                    "trial_id": int(r.trial_id),
                    "study": r.study,
                    "participant": r.participant,
                    "kind": r.kind,
                    "note": r.note,
                },
            }
        )
    for r in elements.dropna(subset=["image_id"]).itertuples(index=False):
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": int(r.image_id),
                "category_id": cat_id[MODEL_CATEGORY],
                "bbox": bbox(r),
                "area": int((r.x1 - r.x0) * (r.y1 - r.y0)),
                "iscrowd": 0,
                "score": float(r.score),
                "attributes": {
                    "source": "model",
                    "element_id": int(r.element_id),
                    "model": r.model,
                    "method": r.method,
                    "segmenter": r.segmenter,
                    "params_key": r.params_key,
                    "rank": int(r.rank),
                    "target": r.target,
                },
            }
        )
    return {
        "info": {
            "description": "GeoQuiz: participants' cue boxes and the model's elements",
            "version": __version__,
            "date_created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "licenses": [],
        "images": images,
        "categories": categories,
        "annotations": annotations,
    }


# ---------------------------------------------------------------------------------------- export


def build_frames(conn: sqlite3.Connection, what: Sequence[str] = EXPORTS) -> dict[str, pd.DataFrame]:
    """The tidy tables named in ``what`` (CSV names only) from an open (snapshot) connection."""
    return {name: FRAMES[name](conn) for name in what if name in FRAMES}


def _check_what(what: Sequence[str] | None) -> list[str]:
    chosen = list(EXPORTS) if not what else list(dict.fromkeys(what))
    unknown = [w for w in chosen if w not in EXPORTS]
    if unknown:
        raise GeoQuizError(f"cannot export {', '.join(unknown)}: choose from {', '.join(EXPORTS)}")
    return chosen


def default_export_dir(project: Any) -> Path:
    """``<project>/exports/study-YYYYmmdd-HHMMSS`` (UTC)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(project.root) / "exports" / f"study-{stamp}"


def export_all(
    project: Any,
    out_dir: str | Path | None = None,
    *,
    what: Sequence[str] | None = None,
    reporter: Reporter | None = None,
) -> list[Path]:
    """Export the project's study data to ``out_dir`` (default :func:`default_export_dir`).

    ``what`` picks among :data:`EXPORTS` (default: all). Returns the files written: the chosen CSVs,
    ``codebook.csv``, ``coco_boxes.json`` when chosen, and ``manifest.json``. Raises GeoQuizError
    for an unknown choice or an unwritable folder; files already in ``out_dir`` are only ever
    replaced whole.
    """
    chosen = _check_what(what)
    out = Path(out_dir) if out_dir is not None else default_export_dir(project)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GeoQuizError(f"cannot create the export folder {out}: {exc.strerror or exc}") from exc
    csv_names = [w for w in chosen if w in FRAMES]
    total = 2 * len(csv_names) + 3
    step(reporter, 0, total, "reading the database")
    with read_snapshot(project.db_path) as conn:
        frames = {}
        for i, name in enumerate(csv_names):
            step(reporter, i + 1, total, f"reading {name}")
            frames[name] = FRAMES[name](conn)
        coco = None
        if "coco" in chosen:
            step(reporter, len(csv_names) + 1, total, "collecting boxes")
            boxes = frames.get("cue_boxes")
            boxes = cue_boxes_frame(conn) if boxes is None else boxes
            elements = frames.get("elements")
            elements = elements_frame(conn) if elements is None else elements
            coco = coco_document(conn, boxes, elements)
    written: list[Path] = []
    try:
        for i, (name, df) in enumerate(frames.items()):
            step(reporter, len(csv_names) + 2 + i, total, f"writing {name}.csv")
            written.append(write_csv(df, out / f"{name}.csv"))
        written.append(write_csv(pd.DataFrame(codebook_rows(csv_names)), out / "codebook.csv"))
        if coco is not None:
            written.append(write_json(coco, out / COCO_NAME))
        manifest = {
            "geoquiz_version": __version__,
            "project": str(project.root),
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
            "rows": {name: len(df) for name, df in frames.items()},
            "coco_annotations": None if coco is None else len(coco["annotations"]),
            "files": [p.name for p in written] + ["manifest.json"],
        }
        written.append(write_json(manifest, out / "manifest.json"))
    except OSError as exc:
        raise GeoQuizError(f"cannot write the export to {out}: {exc.strerror or exc}") from exc
    step(reporter, total, total, f"exported to {out}")
    return written


__all__ = [
    "EXPORTS",
    "build_frames",
    "coco_document",
    "column_names",
    "export_all",
    "neutralise",
    "neutralise_frame",
    "read_snapshot",
    "write_csv",
]
