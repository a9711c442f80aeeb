"""Ablated trials: does a person still recognise the place when the model's evidence is removed?
(issue 13, "people need the model's evidence"; the study option is :mod:`geoquiz.study.ablation_spec`).

**Conditions.** Each main item is shown to each participant in ONE condition: ``intact`` (the picture
as it is), ``model`` (the model's ``top_k`` best-ranked elements removed) or ``random`` (random boxes
of the same count, sizes and union coverage removed, :func:`geoquiz.faithfulness.random.random_boxes`).
Removed pixels are filled as in the faithfulness tests (:mod:`geoquiz.faithfulness.perturb`, blur by
default). Practice and attention trials are always intact. A participant can tell a filled patch
from an intact picture, but not a model patch from a random one: that is the comparison that counts.

**Counterbalancing (Latin square by participant index).** The main items, sorted by (label, key),
are dealt into as many groups as there are conditions (item ``i`` into group ``i mod C``). The
participant with index ``p`` sees group ``g`` in condition ``conditions[(g + p) mod C]``, so
``C`` consecutive participants see every item once in every condition, and each participant sees
about the same number of items in each condition, from every label. The index is the smallest one
no other non-declined session of the study holds (a participant who declines consent frees it),
taken inside the transaction that creates the session; it and its Latin-square row are stored
(``sessions.participant_index``, ``sessions.latin_row``) and in the session's ``order_json``
(``ablation``), every trial's condition in ``trials.condition``. No page ever names a condition.

**Preparation.** :func:`prepare_ablation` (``geoquiz study prepare SLUG``, or the session launcher's
*Prepare pictures*, in a worker) computes the elements through the explanation cache
(:class:`geoquiz.explain.Explainer`), removes them from the pictures at their own resolution (the
element boxes are scaled from the map frame to each image's pixels, rounded outwards), draws the
matched random boxes there, and writes the pictures as PNG under
``<project>/ablation/<study>/set<id>/`` (temp file + rename), one transaction per item in
``ablation_items`` with the boxes, coverage, seed and the model's own answer on those same pictures
(its drop under the same removal). A trial then only opens a file: it stays instant. A preparation
is keyed by its configuration (model file hash, method, segmenter, element parameters, fill, top-k,
seed, conditions, items); running it again resumes or reuses it, and a retrained model gets a new
set. New sessions use the newest finished set of the study's current option; a session keeps the set
it started with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.study.ablation_spec import AblationSpec
from geoquiz.study.definition import StudyDefinition
from geoquiz.study.selection import StudyItem
from geoquiz.types import VIEWS

PREP_DIR = "ablation"


# ------------------------------------------------------------------------- counterbalancing


def latin_row(participant_index: int, n_conditions: int) -> int:
    """The Latin-square row of a participant: ``participant_index mod n_conditions``."""
    return int(participant_index) % int(n_conditions)


def assign_conditions(
    items: Sequence[StudyItem], conditions: Sequence[str], participant_index: int
) -> dict[str, str]:
    """``{item key: condition}`` of the main items for participant ``participant_index`` (module doc)."""
    main = sorted((it for it in items if it.kind == "main"), key=lambda it: (it.label, it.key))
    row = latin_row(participant_index, len(conditions))
    return {it.key: conditions[(i + row) % len(conditions)] for i, it in enumerate(main)}


def next_participant_index(db: Any, study_id: int) -> int:
    """The smallest participant index no non-declined session of the study holds."""
    taken = {
        int(r[0])
        for r in db.execute(
            "SELECT participant_index FROM sessions WHERE study_id = ? AND state != 'declined' "
            "AND participant_index IS NOT NULL",
            [study_id],
        ).fetchall()
    }
    index = 0
    while index in taken:
        index += 1
    return index


# ------------------------------------------------------------------------- prepared sets


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _digest(data: dict) -> str:
    return hashlib.sha1(_canonical(data).encode("utf-8")).hexdigest()


def spec_config(definition: StudyDefinition, items: Sequence[StudyItem]) -> dict:
    """What the study file asks for: the option, the main items and the answers' top-k."""
    spec = _require(definition)
    return {
        **dataclasses.asdict(spec),
        "conditions": list(spec.conditions),
        "items": [it.key for it in items if it.kind == "main"],
        "answer_top_k": definition.responses.top_k,
    }


def _require(definition: StudyDefinition) -> AblationSpec:
    if definition.ablation is None:
        raise GeoQuizError(f"study {definition.slug!r} has no [trials] ablation option")
    return definition.ablation


@dataclass(frozen=True)
class PreparedSet:
    """A finished preparation: its id, folder (relative to the project), items and timings."""

    id: int
    folder: str
    n_items: int
    n_prepared: int  # items prepared by this call (0 when everything was there already)
    n_files: int
    seconds: float


def prepared_set(
    db: Any, study_id: int, definition: StudyDefinition, items: Sequence[StudyItem]
) -> int | None:
    """The newest finished set of the study that matches its current option and items, or None."""
    key = _digest(spec_config(definition, items))
    rows = db.execute(
        "SELECT id, config_json FROM ablation_sets WHERE study_id = ? AND status = 'done' ORDER BY id DESC",
        [study_id],
    ).fetchall()
    for set_id, config in rows:
        if json.loads(config).get("spec_key") == key:
            return int(set_id)
    return None


def preparation_status(db: Any, study: int | str) -> tuple[bool, str] | None:
    """``(ready, what to tell the researcher)`` for an ablation study, None for other studies; a study
    that does not fit the project is not ready, and the text says why."""
    from geoquiz.study.selection import check_study
    from geoquiz.study.store import get_study

    study_id, definition = get_study(db, study)
    if definition.ablation is None:
        return None
    try:
        items, _ = check_study(db, definition)
    except GeoQuizError as exc:
        return False, str(exc)
    main = [it for it in items if it.kind == "main"]
    set_id = prepared_set(db, study_id, definition, main)
    if set_id is None:
        return False, (
            f"This study shows pictures with parts removed: they are not prepared yet ({len(main)} "
            "pictures). Prepare them before the first session."
        )
    return True, f"The {len(main)} pictures with parts removed are prepared (set #{set_id})."


def project_root(db: Any) -> Path:
    """The folder of the project whose database ``db`` is (pictures are stored relative to it)."""
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            return Path(path).parent
    raise GeoQuizError("the ablated pictures live in a project folder; this database has none")


def check_ablation(db: Any, definition: StudyDefinition) -> None:
    """The option's model exists in the project and takes the study's kind of item (one picture or
    four views); a :class:`~geoquiz.errors.StudyDefinitionError` at ``trials.ablation.model`` if not."""
    if definition.ablation is None:
        return
    from geoquiz.models.store import get_model

    path = ("trials", "ablation", "model")
    try:
        info = get_model(db, definition.ablation.model)
    except GeoQuizError as exc:
        raise definition.error(path, str(exc)) from exc
    four = bool(definition.views)
    if four != (info.integration != "single"):
        kind = "4-view locations" if four else "single pictures"
        raise definition.error(path, f"model {info.name!r} does not take {kind}, which this study shows")


def prepare_ablation(
    project: Any, study: int | str, *, reporter: Reporter | None = None, device: str = "auto"
) -> PreparedSet:
    """Prepare (or finish, or reuse) the ablated pictures of an installed study (module doc)."""
    from geoquiz.explain import Explainer
    from geoquiz.faithfulness.perturb import make_fill
    from geoquiz.study.selection import check_study
    from geoquiz.study.store import get_study

    db = project.db
    study_id, definition = get_study(db, study)
    spec = _require(definition)
    check_ablation(db, definition)
    items, _ = check_study(db, definition)
    main = [it for it in items if it.kind == "main"]
    started = time.perf_counter()
    explainer = Explainer(project, spec.model, device=device)
    explainer.check_segmenters([spec.segmenter])
    params = project.settings.elements
    fill = make_fill(spec.fill)
    spec_cfg = spec_config(definition, main)
    config = {
        **spec_cfg,
        "spec_key": _digest(spec_cfg),
        "model_hash": explainer.model_hash,
        "params": dataclasses.asdict(params),
        "fill_params": fill.params(),
        "method_params": explainer.resolved_method_params([spec.method]),
    }
    set_id, folder = _open_set(db, study_id, definition.slug, config)
    done = {
        r[0] for r in db.execute("SELECT DISTINCT item_key FROM ablation_items WHERE set_id = ?", [set_id])
    }
    prep = _Preparer(explainer, spec, fill, params, Path(project.root), folder, definition.responses.top_k)
    n_prepared = 0
    for n, it in enumerate(main):
        step(reporter, n, len(main), f"preparing picture {n + 1} of {len(main)}")
        if it.key in done:
            continue
        rows = prep.item(it)
        with transaction(db):
            insert_many(db, "ablation_items", [{"set_id": set_id, **r} for r in rows])
        n_prepared += 1
    seconds = time.perf_counter() - started
    n_files = db.execute(
        "SELECT COUNT(*) FROM ablation_items WHERE set_id = ? AND condition != 'intact'", [set_id]
    ).fetchone()[0]
    summary = {
        "n_items": len(main),
        "n_prepared": n_prepared,
        "seconds": seconds,
        "stats": dict(explainer.stats),
    }
    with transaction(db):
        db.execute(
            "UPDATE ablation_sets SET status = 'done', finished_at = ?, summary_json = ? WHERE id = ?",
            [now(), json.dumps(summary), set_id],
        )
    step(reporter, len(main), len(main), "pictures ready")
    return PreparedSet(
        set_id,
        folder,
        len(main),
        n_prepared,
        int(n_files) * len(VIEWS if definition.views else [None]),
        seconds,
    )


def _open_set(db: Any, study_id: int, slug: str, config: dict) -> tuple[int, str]:
    key = _digest(config)
    with transaction(db):
        row = db.execute(
            "SELECT id FROM ablation_sets WHERE study_id = ? AND config_key = ?", [study_id, key]
        ).fetchone()
        if row is not None:
            return int(row[0]), f"{PREP_DIR}/{slug}/set{int(row[0])}"
        set_id = insert(
            db,
            "ablation_sets",
            {
                "study_id": study_id,
                "config_key": key,
                "config_json": _canonical(config),
                "status": "preparing",
                "created_at": now(),
            },
        )
    return set_id, f"{PREP_DIR}/{slug}/set{set_id}"


class _Preparer:
    """Prepares one item's pictures and the model's answers on them (see :func:`prepare_ablation`)."""

    def __init__(self, explainer, spec: AblationSpec, fill, params, root: Path, folder: str, answer_k: int):
        self.explainer, self.spec, self.fill, self.params = explainer, spec, fill, params
        self.root, self.folder, self.answer_k = root, folder, answer_k
        self.loaded = explainer.loaded_model

    def boxes(self, sample, shapes: dict) -> dict[str, list]:
        """The boxes each condition removes, in the pixels of each view's image."""
        from geoquiz.faithfulness.curves import rank_order
        from geoquiz.faithfulness.random import PlacedBox, derive_seed, random_boxes

        spec = self.spec
        maps = self.explainer.heatmaps(sample, spec.method)
        mh, mw = maps[0].values.shape[:2]
        elements = rank_order(self.explainer.elements(sample, spec.method, spec.segmenter, self.params))
        guided = []
        for e in elements[: spec.top_k]:
            h, w = shapes[e.view if e.view in shapes else None]
            guided.append(PlacedBox(e.box.clip(mw, mh).scale(w / mw, h / mh).clip(w, h), e.view))
        seed = derive_seed(spec.seed, _unit_key(sample), "ablation", spec.method, spec.segmenter)
        draw = random_boxes(guided, shapes, seed)
        return {"model": guided, "random": list(draw.boxes), "seed": seed}

    def item(self, it: StudyItem) -> list[dict]:
        from geoquiz.boxes import union_mask
        from geoquiz.data.dataset import read_sample
        from geoquiz.data.imageio import write_image
        from geoquiz.faithfulness.random import derive_seed, union_coverage
        from geoquiz.study.review_data import ItemRef, load_item

        ref = (
            ItemRef("image", it.image_id) if it.image_id is not None else ItemRef("location", it.location_id)
        )
        sample = load_item(self.explainer.project.db, ref)
        pixels = read_sample(sample)
        arrays = pixels if isinstance(pixels, list) else [pixels]
        views: list[str | None] = list(VIEWS) if isinstance(pixels, list) else [None]
        shapes = {v: (int(a.shape[0]), int(a.shape[1])) for v, a in zip(views, arrays)}
        removals = self.boxes(sample, shapes)
        shown = {"intact": arrays}
        rows = []
        for condition in self.spec.removes:
            boxes = removals[condition]
            out, paths = [], {}
            for v, a in zip(views, arrays):
                mask = union_mask([b.box for b in boxes if b.view == v], *shapes[v])
                rng = np.random.default_rng(derive_seed(removals["seed"], condition, v, "fill"))
                filled = self.fill(a, mask, rng)
                name = f"{ref.kind}{ref.id}_{condition}" + (f"_{v}" if v else "") + ".png"
                write_image(self.root / self.folder / name, filled)
                paths[v or ""] = f"{self.folder}/{name}"
                out.append(filled)
            shown[condition] = out
            rows.append(
                {
                    "condition": condition,
                    "paths_json": json.dumps(paths),
                    "boxes_json": json.dumps([[b.view, *b.box.as_tuple()] for b in boxes]),
                    "n_boxes": len(boxes),
                    "coverage": union_coverage(boxes, shapes),
                    "seed": removals["seed"] if condition == "random" else None,
                }
            )
        rows.insert(
            0,
            {
                "condition": "intact",
                "paths_json": "{}",
                "boxes_json": "[]",
                "n_boxes": 0,
                "coverage": 0.0,
                "seed": None,
            },
        )
        answers = self._answers([shown[r["condition"]] for r in rows], it.label, len(views) > 1)
        common = {"item_key": it.key, "image_id": it.image_id, "location_id": it.location_id}
        return [{**common, **r, **a} for r, a in zip(rows, answers)]

    def _answers(self, pictures: list[list[np.ndarray]], label: str, four: bool) -> list[dict]:
        """The model's answer on each condition's pictures (as people saw them)."""
        classes = list(self.loaded.spec.classes)
        probs = self.loaded.predict_arrays([p if four else p[0] for p in pictures])
        out = []
        for p in probs:
            order = np.argsort(-p)
            known = label in classes
            truth = classes.index(label) if known else None
            out.append(
                {
                    "pred_label": classes[int(order[0])],
                    "true_prob": float(p[truth]) if known else None,
                    "correct": int(int(order[0]) == truth) if known else None,
                    "topk_correct": int(truth in order[: self.answer_k].tolist()) if known else None,
                }
            )
        return out


def _unit_key(sample: Any) -> str:
    from geoquiz.types import Location

    return f"location{sample.id}" if isinstance(sample, Location) else f"image{sample.id}"


# ------------------------------------------------------------------------- sessions


def session_plan(
    db: Any, study_id: int, definition: StudyDefinition, items: Sequence[StudyItem]
) -> dict | None:
    """For a new session of an ablation study (call inside its transaction): the prepared set, the
    participant index, its Latin-square row and ``by_key`` (every main item's condition). None for
    other studies; :class:`GeoQuizError` when the pictures are not prepared."""
    if definition.ablation is None:
        return None
    spec = definition.ablation
    main = [it for it in items if it.kind == "main"]
    set_id = prepared_set(db, study_id, definition, main)
    if set_id is None:
        raise GeoQuizError(
            f"the pictures of study {definition.slug!r} with parts removed are not prepared yet: run "
            f"`geoquiz study prepare {definition.slug}` or press 'Prepare pictures' in the session launcher"
        )
    index = next_participant_index(db, study_id)
    return {
        "set_id": set_id,
        "participant_index": index,
        "latin_row": latin_row(index, len(spec.conditions)),
        "conditions": list(spec.conditions),
        "by_key": assign_conditions(main, spec.conditions, index),
    }


def trial_paths(
    db: Any, set_id: int, key: str, condition: str, views: Sequence[str]
) -> list[tuple[str | None, str]]:
    """``[(view, absolute path)]`` of the prepared pictures of one trial (the views shown)."""
    row = db.execute(
        "SELECT paths_json FROM ablation_items WHERE set_id = ? AND item_key = ? AND condition = ?",
        [set_id, key, condition],
    ).fetchone()
    if row is None:
        raise GeoQuizError(f"no prepared picture for item {key!r} ({condition}) in set {set_id}")
    paths = json.loads(row[0])
    root = project_root(db)
    if not views:
        return [(None, str(root / paths[""]))]
    return [(v, str(root / paths[v])) for v in views if v in paths]


__all__ = [
    "PREP_DIR",
    "PreparedSet",
    "assign_conditions",
    "check_ablation",
    "latin_row",
    "next_participant_index",
    "prepare_ablation",
    "prepared_set",
    "preparation_status",
    "project_root",
    "session_plan",
    "spec_config",
    "trial_paths",
]
