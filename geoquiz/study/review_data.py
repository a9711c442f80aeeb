"""Read side of the researcher review: who answered what on which item, and what the model said.

Qt-free, torch-free. Everything takes a ``sqlite_utils.Database``, anything with ``.db`` (a
Project), or a plain ``sqlite3.Connection`` (e.g. :func:`geoquiz.study.snapshot.read_snapshot`).

Reads only what is shown, through indexes (migration 0110): :func:`reviewable_items` is one grouped
query (the item list), :func:`load_answers` with a ``ref``, :func:`load_prediction` and
:func:`item_agreement` read one item's rows (the selected item), so the Review tab opens and moves
between items in the same time on 100,000 trials as on 100.

An *item* of a study is what one trial showed: one image (single-view studies) or one 4-view
location. It is named by an :class:`ItemRef` ``(kind, id)`` with ``kind`` ``"image"`` (``images.id``)
or ``"location"`` (``locations.id``). Only ``main`` trials count as answers (practice and attention
trials are left out). Participants' cue boxes are in the pixel frame of the image they were drawn
on (the view's image for 4-view trials).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import sqlite_utils

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.types import CUE_TAGS, CueBox, Prediction


class ItemRef(NamedTuple):
    """One quiz item: ``kind`` is ``"image"`` or ``"location"``, ``id`` the row id."""

    kind: str
    id: int

    @property
    def column(self) -> str:
        return "image_id" if self.kind == "image" else "location_id"


@dataclass(frozen=True)
class HumanAnswer:
    """One participant's main trial on an item: ranked guesses, cue boxes and rationale."""

    trial_id: int
    session_id: int
    participant: str
    study: str
    true_label: str
    guesses: tuple[str, ...]
    cues: tuple[CueBox, ...]
    rationale: str = ""
    confidence: int | None = None
    response_time_ms: int = 0
    timed_out: bool = False
    views_shown: tuple[str, ...] = ()  # 4-view trials: the views on screen (empty: all / single view)

    @property
    def top1(self) -> str | None:
        return self.guesses[0] if self.guesses else None


@dataclass(frozen=True)
class ItemSummary:
    """An item with answers: its key, dataset, true label and how many main trials it got."""

    ref: ItemRef
    key: str
    dataset: str
    label: str
    n_trials: int
    n_participants: int
    views: tuple[str, ...] = field(default=())


def _db(db_or_project: Any) -> sqlite_utils.Database:
    return getattr(db_or_project, "db", db_or_project)


def study_id(db: sqlite_utils.Database, slug: str | None) -> int | None:
    """The id of study ``slug`` (None for None); raises GeoQuizError naming the known studies."""
    if slug is None:
        return None
    db = _db(db)
    row = db.execute("SELECT id FROM studies WHERE slug = ?", [slug]).fetchone()
    if row is None:
        known = [r[0] for r in db.execute("SELECT slug FROM studies ORDER BY slug")]
        raise GeoQuizError(f"no study {slug!r} in this project (studies: {', '.join(known) or 'none'})")
    return int(row[0])


def model_row(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """The ``models`` row of model ``name`` with ``classes`` decoded; GeoQuizError if unknown."""
    db = _db(db)
    row = db.execute(
        "SELECT id, name, integration, classes_json, input_size FROM models WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        known = [r[0] for r in db.execute("SELECT name FROM models ORDER BY name")]
        raise GeoQuizError(f"no model named {name!r} in this project (models: {', '.join(known) or 'none'})")
    return {
        "id": int(row[0]),
        "name": row[1],
        "integration": row[2],
        "classes": tuple(json.loads(row[3])),
        "input_size": int(row[4]),
    }


def list_model_names(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in _db(db).execute("SELECT name FROM models ORDER BY name")]


def list_study_slugs(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in _db(db).execute("SELECT slug FROM studies ORDER BY slug")]


def _normal_box(x0: int, y0: int, x1: int, y1: int) -> Box:
    return Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _trial_filter(study: str | None, db: sqlite_utils.Database) -> tuple[str, list[Any]]:
    sid = study_id(db, study)
    return ("", []) if sid is None else (" AND s.study_id = ?", [sid])


def reviewable_items(db: sqlite_utils.Database, *, study: str | None = None) -> list[ItemSummary]:
    """Every item with at least one main trial (of ``study``, or of any study), ordered by dataset
    and key: one grouped query over the trials, joined to the items' key, label, dataset and views."""
    db = _db(db)
    where, params = _trial_filter(study, db)
    counts = (
        "SELECT t.image_id, t.location_id, count(*) AS n, count(DISTINCT s.participant_id) AS n_part "  # noqa: S608 - constant fragments
        f"FROM trials t JOIN sessions s ON s.id = t.session_id WHERE t.kind = 'main'{where} "
        "GROUP BY t.image_id, t.location_id"
    )
    sql = (
        "SELECT c.image_id, c.location_id, c.n, c.n_part, COALESCE(l.key, i.key), d.name, "  # noqa: S608 - constant fragments
        "COALESCE(l.label, i.label), (SELECT group_concat(w.view, ',') FROM "
        "(SELECT v.view FROM images v WHERE v.location_id = c.location_id ORDER BY v.id) w) "
        f"FROM ({counts}) c LEFT JOIN locations l ON l.id = c.location_id "
        "LEFT JOIN images i ON i.id = c.image_id AND c.location_id IS NULL "
        "JOIN datasets d ON d.id = COALESCE(l.dataset_id, i.dataset_id)"
    )
    out = []
    for image_id, location_id, n, n_part, key, dataset, label, views in db.execute(sql, params):
        if location_id is not None:
            ref, shown = (
                ItemRef("location", int(location_id)),
                tuple((views or "").split(",")) if views else (),
            )
        else:
            ref, shown = ItemRef("image", int(image_id)), ()
        out.append(ItemSummary(ref, key, dataset, label, int(n), int(n_part), shown))
    return sorted(out, key=lambda s: (s.dataset, s.key))


def load_answers(
    db: sqlite_utils.Database, ref: ItemRef | None = None, *, study: str | None = None
) -> dict[ItemRef, list[HumanAnswer]]:
    """Main-trial answers grouped by item (all items, or only ``ref``), trials in id order.

    Three queries, each through an index: the trials (one item: ``trials (image_id)`` /
    ``(location_id)``), then their guesses and cue boxes by trial."""
    db = _db(db)
    where, params = _trial_filter(study, db)
    if ref is not None:
        where += f" AND t.{ref.column} = ?"
        params.append(ref.id)
    source = (
        "FROM trials t JOIN sessions s ON s.id = t.session_id JOIN participants p ON p.id = s.participant_id "
        f"JOIN studies st ON st.id = s.study_id WHERE t.kind = 'main'{where}"
    )
    trials = db.execute(
        "SELECT t.id, t.session_id, p.code, st.slug, t.true_label, t.image_id, t.location_id, t.rationale, "
        f"t.confidence, t.response_time_ms, t.timed_out, t.views_shown {source} ORDER BY t.id",
        params,
    ).fetchall()
    guesses: dict[int, list[str]] = defaultdict(list)
    cues: dict[int, list[CueBox]] = defaultdict(list)
    for trial_id, label in db.execute(
        f"SELECT g.trial_id, g.label FROM guesses g WHERE g.trial_id IN (SELECT t.id {source}) "  # noqa: S608 - constant fragments
        "ORDER BY g.trial_id, g.rank",
        params,
    ):
        guesses[trial_id].append(label)
    for trial_id, view, tag, x0, y0, x1, y1, note in db.execute(
        "SELECT c.trial_id, c.view, c.tag, c.x0, c.y0, c.x1, c.y1, c.note FROM cue_boxes c "  # noqa: S608 - constant fragments
        f"WHERE c.trial_id IN (SELECT t.id {source}) ORDER BY c.trial_id, c.id",
        params,
    ):
        box = _normal_box(x0, y0, x1, y1)
        cues[trial_id].append(CueBox(box, tag if tag in CUE_TAGS else "other", view or None, note or ""))
    out: dict[ItemRef, list[HumanAnswer]] = defaultdict(list)
    for tid, sid, code, slug, truth, image_id, location_id, rationale, conf, rt, timed_out, shown in trials:
        if location_id is not None:
            item = ItemRef("location", int(location_id))
        elif image_id is not None:
            item = ItemRef("image", int(image_id))
        else:
            continue
        out[item].append(
            HumanAnswer(
                trial_id=int(tid),
                session_id=int(sid),
                participant=code,
                study=slug,
                true_label=truth,
                guesses=tuple(guesses.get(tid, ())),
                cues=tuple(cues.get(tid, ())),
                rationale=rationale or "",
                confidence=None if conf is None else int(conf),
                response_time_ms=int(rt),
                timed_out=bool(timed_out),
                views_shown=tuple(v for v in (shown or "").split(",") if v),
            )
        )
    return dict(out)


def decode_probs(probs_json: str, classes: tuple[str, ...]) -> Prediction:
    """A stored ``predictions.probs_json`` as a Prediction: a JSON list in the model's class order,
    or an object ``{class: prob}``; classes missing from the object get 0."""
    data = json.loads(probs_json)
    if isinstance(data, dict):
        probs = np.array([float(data.get(c, 0.0)) for c in classes], dtype=np.float32)
    else:
        probs = np.asarray(data, dtype=np.float32)
        if probs.shape != (len(classes),):
            raise GeoQuizError(f"stored prediction has {probs.size} probabilities for {len(classes)} classes")
    return Prediction(classes, probs)


def load_predictions(db: sqlite_utils.Database, model: str) -> dict[ItemRef, Prediction]:
    """The model's stored predictions (``predictions`` table) by item."""
    db = _db(db)
    info = model_row(db, model)
    out = {}
    for image_id, location_id, probs_json in db.execute(
        "SELECT image_id, location_id, probs_json FROM predictions WHERE model_id = ? ORDER BY id",
        [info["id"]],
    ):
        ref = (
            ItemRef("location", int(location_id))
            if location_id is not None
            else ItemRef("image", int(image_id))
        )
        out[ref] = decode_probs(probs_json, info["classes"])
    return out


def load_prediction(db: sqlite_utils.Database, model: str, ref: ItemRef) -> Prediction | None:
    """The model's stored prediction for one item, or None (one indexed row, not the whole table)."""
    db = _db(db)
    info = model_row(db, model)
    image, location = (ref.id, None) if ref.kind == "image" else (None, ref.id)
    row = db.execute(
        "SELECT probs_json FROM predictions WHERE model_id = ? AND image_id IS ? AND location_id IS ? "
        "ORDER BY id LIMIT 1",
        [info["id"], image, location],
    ).fetchone()
    return None if row is None else decode_probs(row[0], info["classes"])


#: Columns of an agreement row as :func:`item_agreement` returns them (those of ``agreement``).
AGREEMENT_COLUMNS = (
    "run_id",
    "scope",
    "image_id",
    "location_id",
    "label",
    "reference",
    "metric",
    "tag",
    "value",
    "n",
    "ci_low",
    "ci_high",
)


def latest_agreement_run(
    db: sqlite_utils.Database,
    model: str,
    *,
    method: str | None = None,
    segmenter: str | None = None,
    study: str | None = None,
) -> int | None:
    """The newest agreement run of ``model`` (with that method / segmenter / study when given; a run
    over all studies has study NULL and only matches ``study=None``), or None."""
    sql = (
        "SELECT r.id FROM agreement_runs r JOIN models m ON m.id = r.model_id "
        "LEFT JOIN studies st ON st.id = r.study_id WHERE m.name = ?"
    )
    params: list[Any] = [model]
    for column, value in (("st.slug", study), ("r.method", method), ("r.segmenter", segmenter)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    row = _db(db).execute(sql + " ORDER BY r.id DESC LIMIT 1", params).fetchone()
    return None if row is None else int(row[0])


def item_agreement(db: sqlite_utils.Database, run_id: int, ref: ItemRef) -> list[dict[str, Any]]:
    """The stored per-item agreement rows of run ``run_id`` for ``ref`` (dicts keyed by
    :data:`AGREEMENT_COLUMNS`), in the order they were stored."""
    sql = (
        f"SELECT {', '.join(AGREEMENT_COLUMNS)} FROM agreement "  # noqa: S608 - constant columns
        f"WHERE run_id = ? AND scope = 'item' AND {ref.column} = ? ORDER BY id"
    )
    return [dict(zip(AGREEMENT_COLUMNS, r)) for r in _db(db).execute(sql, [run_id, ref.id])]


def load_item(db: sqlite_utils.Database, ref: ItemRef):
    """The ImageItem or Location behind ``ref`` (planted cues included), via geoquiz.data.dataset."""
    from geoquiz.data import dataset

    db = _db(db)
    return dataset.get_item(db, ref.id) if ref.kind == "image" else dataset.get_location(db, ref.id)


def guess_distribution(answers: list[HumanAnswer], *, rank: int | None = 1) -> dict[str, float]:
    """Share of participants naming each label, most named first. ``rank=1``: top-1 guesses only;
    ``rank=None``: every guess of any rank (shares then sum to more than 1)."""
    if not answers:
        return {}
    counts: dict[str, int] = defaultdict(int)
    for a in answers:
        labels = a.guesses[:1] if rank == 1 else (a.guesses if rank is None else a.guesses[rank - 1 : rank])
        for label in set(labels):
            counts[label] += 1
    return dict(sorted(((k, v / len(answers)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0])))
