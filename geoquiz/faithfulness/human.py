"""Participants' cue boxes as an explanation of the model (issue 13, "model needs people's cues").

The deletion and insertion tests of :mod:`geoquiz.faithfulness.evaluate` take any guided box set; this
module turns the cue boxes people drew in a study into such sets, one image (or 4-view location) at a
time, in three **scopes**:

``trial``  one participant's boxes on one trial (per participant results come from these);
``item``   the union of every participant's boxes on the item (all boxes together: the count and
           sizes of the random baseline are those of every box drawn, its coverage that of their
           union);
``tag``    that union restricted to one cue tag (``road_markings``, ``signs`` ...).

Which trials: the study's ``main`` trials that drew at least one box, on an item shown *intact*
(a trial of an ablation study that showed a picture with boxes removed, :mod:`geoquiz.study.ablation`,
was drawn on another picture and is left out). Boxes are XYXY pixels of the image they were drawn
on (the view's image for 4-view trials): :class:`~geoquiz.faithfulness.evaluate.Selection` carries
that frame (``frames``) and :meth:`~geoquiz.faithfulness.engine.ImageFrame.to_input` scales them to
the model's input, exactly like the maps' frame of the model's elements.

Seeds: the random boxes of a human selection are drawn from
``derive_seed(run seed, unit, "human", scope, key, repeat)`` (``key`` the trial id or tag), so every
selection gets its own reproducible draws and the model's elements keep the seeds they always had.

The faithfulness layer sits below :mod:`geoquiz.study`, so this module reads the quiz's tables
(``studies``, ``sessions``, ``participants``, ``trials``, ``cue_boxes``) with plain SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness.random import PlacedBox
from geoquiz.types import ImageItem, Location

#: The three scopes of people's boxes (see the module doc).
SCOPES: tuple[str, ...] = ("trial", "item", "tag")
#: The values of ``GridRequest.selections`` / ``evaluation_results.selection_source``.
SOURCES: tuple[str, ...] = ("model", "human")
#: ``method`` of the stored rows of people's boxes (their ``segmenter`` is the scope).
HUMAN_METHOD = "human"


@dataclass(frozen=True)
class HumanBox:
    """One participant's cue box. ``box`` is in the pixels of the image of ``view``."""

    trial_id: int
    participant: str
    tag: str
    box: Box
    view: str | None = None


@dataclass(frozen=True)
class HumanSelection:
    """One guided set of people's boxes on a unit: a scope and its boxes (image pixels)."""

    scope: str
    boxes: tuple[PlacedBox, ...]
    trial_id: int | None = None
    cue_tag: str | None = None

    @property
    def key(self) -> str:
        """What distinguishes it from the other selections of its scope on the unit."""
        if self.scope == "trial":
            return str(self.trial_id)
        return self.cue_tag or ""

    def fields(self) -> tuple[tuple[str, object], ...]:
        """The columns every stored row of this selection carries."""
        return (
            ("selection_source", "human"),
            ("human_scope", self.scope),
            ("trial_id", self.trial_id),
            ("cue_tag", self.cue_tag),
        )


def check_sources(selections: Sequence[str], study: str | None, scopes: Sequence[str]) -> None:
    """Raise :class:`GeoQuizError` for an unknown source or scope, no source, or people's boxes
    without a study."""
    bad = [s for s in selections if s not in SOURCES]
    if bad:
        raise GeoQuizError(f"unknown selection(s) {', '.join(bad)}; choose from {', '.join(SOURCES)}")
    if not selections:
        raise GeoQuizError("choose at least one selection: model, human")
    if "human" in selections and not study:
        raise GeoQuizError("the human selection needs a study (--study SLUG): whose cue boxes to use")
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise GeoQuizError(f"unknown scope(s) {', '.join(bad)}; choose from {', '.join(SCOPES)}")
    if "human" in selections and not scopes:
        raise GeoQuizError(f"choose at least one scope of people's boxes: {', '.join(SCOPES)}")


_BOXES_SQL = """
SELECT t.id, t.image_id, t.location_id, p.code, c.view, c.tag, c.x0, c.y0, c.x1, c.y1
FROM cue_boxes c
JOIN trials t ON t.id = c.trial_id
JOIN sessions s ON s.id = t.session_id
JOIN participants p ON p.id = s.participant_id
WHERE s.study_id = ? AND t.kind = 'main' AND (t.condition IS NULL OR t.condition = 'intact')
ORDER BY t.id, c.id
"""


def study_row_id(db, study: str) -> int:
    """The id of the installed study ``study`` (slug); :class:`GeoQuizError` when there is none."""
    row = db.execute("SELECT id FROM studies WHERE slug = ?", [study]).fetchone()
    if row is None:
        raise GeoQuizError(f"no study {study!r} is installed in this project")
    return int(row[0])


def load_human_boxes(db, study: str) -> dict[tuple[str, int], list[HumanBox]]:
    """Every box of the study's intact main trials, grouped by item: ``("image", id)`` for
    single-view trials, ``("location", id)`` for 4-view trials; boxes in drawing order."""
    out: dict[tuple[str, int], list[HumanBox]] = {}
    for trial_id, image_id, location_id, code, view, tag, x0, y0, x1, y1 in db.execute(
        _BOXES_SQL, [study_row_id(db, study)]
    ).fetchall():
        key = ("location", int(location_id)) if location_id is not None else ("image", int(image_id))
        out.setdefault(key, []).append(HumanBox(int(trial_id), code, tag, Box(x0, y0, x1, y1), view))
    return out


def unit_key(unit: ImageItem | Location) -> tuple[str, int]:
    """The key of a unit in :func:`load_human_boxes`."""
    return ("location", int(unit.id)) if isinstance(unit, Location) else ("image", int(unit.id))


def selections_of(boxes: Iterable[HumanBox], scopes: Sequence[str] = SCOPES) -> list[HumanSelection]:
    """The unit's human selections: one per trial, the item union, one per cue tag (sorted), for the
    ``scopes`` asked."""
    boxes = list(boxes)
    out: list[HumanSelection] = []
    if not boxes:
        return out
    if "trial" in scopes:
        trials: dict[int, list[HumanBox]] = {}
        for b in boxes:
            trials.setdefault(b.trial_id, []).append(b)
        for trial_id, own in trials.items():
            out.append(HumanSelection("trial", _placed(own), trial_id=trial_id))
    if "item" in scopes:
        out.append(HumanSelection("item", _placed(boxes)))
    if "tag" in scopes:
        for tag in sorted({b.tag for b in boxes}):
            out.append(HumanSelection("tag", _placed(b for b in boxes if b.tag == tag), cue_tag=tag))
    return out


def _placed(boxes: Iterable[HumanBox]) -> tuple[PlacedBox, ...]:
    return tuple(PlacedBox(b.box, b.view) for b in boxes)


def frames_of(images: object, views: Sequence[str | None]) -> dict[str | None, tuple[int, int]]:
    """``{view: (height, width)}`` of a decoded sample (one HxWx3 array, or a list in ``views``
    order): the pixel frame people's boxes were drawn in."""
    arrays = images if isinstance(images, list) else [images]
    return {v: (int(a.shape[0]), int(a.shape[1])) for v, a in zip(views, arrays)}


def human_units(units: Sequence, boxes: Mapping[tuple[str, int], list[HumanBox]]) -> list:
    """The units that have people's boxes, in their order."""
    return [u for u in units if unit_key(u) in boxes]


__all__ = [
    "HUMAN_METHOD",
    "SCOPES",
    "SOURCES",
    "HumanBox",
    "HumanSelection",
    "check_sources",
    "frames_of",
    "human_units",
    "load_human_boxes",
    "selections_of",
    "study_row_id",
    "unit_key",
]
