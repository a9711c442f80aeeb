"""Resolve a study's item selection against a project's dataset.

Deterministic: the same study (its ``items.seed``) on the same dataset always gives the same items,
so every participant of a study sees the same set; only the *order* differs per participant (see
:mod:`geoquiz.study.session`).

* ``stratified``: ``trials.count`` items spread as evenly as possible over the labels (sorted; the
  remainder goes to labels drawn with the seed), sampled without replacement within each label.
* ``fixed``: exactly ``items.keys`` in that order.
* practice: ``items.practice_keys`` or items drawn at random (seeded, labels taken in turn) from
  ``items.practice_split`` among those not used as main trials.
* attention checks: ``items.attention_keys`` or the *most obvious* remaining items — those with the
  most planted cues (GeoScenes ground truth), ties broken with the seed. The known answer of an
  attention check is the item's label; the trial is flagged ``kind = 'attention'``.

Items are images for single-view datasets and locations for 4-view datasets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from geoquiz.errors import GeoQuizError
from geoquiz.study.definition import StudyDefinition


@dataclass(frozen=True)
class StudyItem:
    """One selected item. ``kind`` is ``practice``, ``main`` or ``attention``."""

    kind: str
    key: str
    label: str
    image_id: int | None = None
    location_id: int | None = None
    n_cues: int = 0


def _pool(db: Any, study: StudyDefinition, split: str | None, kind: str) -> list[StudyItem]:
    from geoquiz.data.dataset import load_items, load_locations

    name = study.items.dataset
    if kind == "4view":
        locs = load_locations(db, name, split=split)
        return [
            StudyItem("main", loc.key, loc.label, None, loc.id, sum(len(v.cues) for v in loc.views.values()))
            for loc in locs
        ]
    return [
        StudyItem("main", it.key, it.label, it.id, None, len(it.cues))
        for it in load_items(db, name, split=split)
    ]


def _split_name(split: str | None) -> str:
    return f"split {split!r}" if split else "all splits"


def resolve_items(db: Any, study: StudyDefinition) -> list[StudyItem]:
    """The study's items: practice first, then main trials, then attention checks (unshuffled).

    Raises :class:`geoquiz.errors.StudyDefinitionError` pointing at the offending field when the
    dataset does not fit the study."""
    from geoquiz.data.dataset import get_dataset

    sel = study.items
    try:
        info = get_dataset(db, sel.dataset)
    except GeoQuizError as exc:
        raise study.error(
            ("items", "dataset"), f"no dataset {sel.dataset!r} in this project ({exc})"
        ) from exc
    if info.kind == "4view" and not study.views:
        raise study.error(
            ("trials", "views"), f"dataset {sel.dataset!r} has 4 views per location: list the views to show"
        )
    if info.kind != "4view" and study.views:
        raise study.error(("trials", "views"), f"dataset {sel.dataset!r} is single-view: remove trials.views")
    rng = random.Random(sel.seed)
    pool = _pool(db, study, sel.split, info.kind)
    by_key = {it.key: it for it in pool}
    if sel.method == "fixed":
        main = []
        for n, key in enumerate(sel.keys):
            if key not in by_key:
                raise study.error(
                    ("items", "keys", n),
                    f"no item {key!r} in {_split_name(sel.split)} of dataset {sel.dataset!r}",
                )
            main.append(by_key[key])
    else:
        main = _stratified(study, pool, rng, info.classes)
    used = {it.key for it in main}
    practice = _pick_practice(db, study, info.kind, used, rng)
    used |= {it.key for it in practice}
    attention = _pick_attention(db, study, info.kind, used, rng)
    out = [StudyItem("practice", *_fields(it)) for it in practice]
    out += [StudyItem("main", *_fields(it)) for it in main]
    out += [StudyItem("attention", *_fields(it)) for it in attention]
    return out


def _fields(it: StudyItem) -> tuple:
    return (it.key, it.label, it.image_id, it.location_id, it.n_cues)


def _stratified(
    study: StudyDefinition, pool: list[StudyItem], rng: random.Random, classes: tuple
) -> list[StudyItem]:
    sel = study.items
    present = sorted({it.label for it in pool})
    for n, label in enumerate(sel.labels):
        if label not in classes:
            raise study.error(("items", "labels", n), f"dataset {sel.dataset!r} has no label {label!r}")
    labels = sorted(sel.labels) if sel.labels else present
    if not labels or not pool:
        raise study.error(
            ("items", "split"), f"dataset {sel.dataset!r} has no items in {_split_name(sel.split)}"
        )
    quota = {label: study.n_trials // len(labels) for label in labels}
    for label in rng.sample(labels, study.n_trials % len(labels)):
        quota[label] += 1
    out: list[StudyItem] = []
    for label in labels:
        members = sorted((it for it in pool if it.label == label), key=lambda it: it.key)
        if len(members) < quota[label]:
            raise study.error(
                ("trials", "count"),
                f"a stratified sample of {study.n_trials} needs {quota[label]} items labelled {label!r}, "
                f"but {_split_name(sel.split)} of dataset {sel.dataset!r} has {len(members)}",
            )
        out.extend(rng.sample(members, quota[label]))
    return out


def _pick_practice(db: Any, study: StudyDefinition, kind: str, used: set, rng: random.Random) -> list:
    sel = study.items
    pool = _pool(db, study, sel.practice_split, kind) if study.n_practice else []
    if sel.practice_keys:
        by_key = {it.key: it for it in pool}
        out = []
        for n, key in enumerate(sel.practice_keys):
            if key not in by_key:
                raise study.error(
                    ("items", "practice_keys", n),
                    f"no item {key!r} in {_split_name(sel.practice_split)} of dataset {sel.dataset!r}",
                )
            out.append(by_key[key])
        return out
    free = sorted((it for it in pool if it.key not in used), key=lambda it: (it.label, it.key))
    if len(free) < study.n_practice:
        raise study.error(
            ("trials", "practice"),
            f"needs {study.n_practice} practice items besides the main trials, but only {len(free)} are left in "
            f"{_split_name(sel.practice_split)} of dataset {sel.dataset!r}",
        )
    by_label: dict[str, list[StudyItem]] = {}
    for it in free:
        by_label.setdefault(it.label, []).append(it)
    for members in by_label.values():
        rng.shuffle(members)
    out, labels = [], sorted(by_label)
    while len(out) < study.n_practice:
        for label in labels:
            if by_label[label] and len(out) < study.n_practice:
                out.append(by_label[label].pop())
    return out


def _pick_attention(db: Any, study: StudyDefinition, kind: str, used: set, rng: random.Random) -> list:
    sel = study.items
    if not study.n_attention:
        return []
    pool = _pool(db, study, sel.split, kind)
    if sel.attention_keys:
        by_key = {it.key: it for it in _pool(db, study, None, kind)}
        out = []
        for n, key in enumerate(sel.attention_keys):
            if key not in by_key:
                raise study.error(
                    ("items", "attention_keys", n), f"no item {key!r} in dataset {sel.dataset!r}"
                )
            out.append(by_key[key])
        return out
    free = [it for it in sorted(pool, key=lambda it: it.key) if it.key not in used]
    if len(free) < study.n_attention:
        raise study.error(
            ("trials", "attention"),
            f"needs {study.n_attention} attention-check items besides the other trials, but only {len(free)} are "
            f"left in {_split_name(sel.split)} of dataset {sel.dataset!r}",
        )
    ties = {it.key: rng.random() for it in free}
    free.sort(key=lambda it: (-it.n_cues, ties[it.key]))
    return free[: study.n_attention]


def resolve_options(db: Any, study: StudyDefinition) -> tuple[str, ...]:
    """The answer options shown to participants (the dataset's classes for ``answers.list = "dataset"``)."""
    if study.answer_options:
        return study.answer_options
    from geoquiz.data.dataset import get_dataset

    try:
        return tuple(get_dataset(db, study.items.dataset).classes)
    except GeoQuizError as exc:
        raise study.error(
            ("items", "dataset"), f"no dataset {study.items.dataset!r} in this project ({exc})"
        ) from exc


def check_study(db: Any, study: StudyDefinition) -> tuple[list[StudyItem], tuple[str, ...]]:
    """Check a study against the project: the items resolve and every true label is an option."""
    items = resolve_items(db, study)
    options = resolve_options(db, study)
    field = ("answers", "options") if study.answer_list == "inline" else ("answers", "list")
    if study.responses.top_k > len(options):
        raise study.error(
            ("responses", "top_k"),
            f"is {study.responses.top_k} but there are only {len(options)} answer options",
        )
    allowed = set(options)
    for it in items:
        if it.label not in allowed:
            raise study.error(
                field,
                f"the true label {it.label!r} of item {it.key!r} is not among the answer options "
                f"({study.answer_list}); participants could never answer it correctly",
            )
    return items, options
