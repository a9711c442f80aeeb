"""Qt-free domain objects shared by the library, the CLI and the app.

Images are RGB uint8 HWC numpy arrays; boxes are :class:`geoquiz.boxes.Box` (XYXY pixels,
inclusive-exclusive); attribution maps are float32 HxW arrays in [0, 1].

Glossary
--------
item
    One image of a dataset (:class:`ImageItem`). A 4-view dataset has four items per location.
location
    One place photographed in the four compass directions (:class:`Location`).
cue
    A concrete visual tell (road markings, a bollard, a script ...) tagged with one of
    :data:`CUE_TAGS`. Planted cues (GeoScenes ground truth), participants' cue boxes and the
    model's elements all use the same tags so they can be compared kind by kind.
element
    An "object-like element": a ranked, padded box around a salient segment (:class:`Element`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geoquiz.boxes import Box

#: The four views of a location, in the order used everywhere (and left-to-right in early integration).
VIEWS: tuple[str, ...] = ("north", "east", "south", "west")

#: Cue tags shared by the quiz, GeoScenes' planted cues and the review (see GEOSCENES_CUES).
CUE_TAGS: tuple[str, ...] = (
    "road_markings",
    "signs",
    "bollards",
    "poles",
    "vegetation",
    "architecture",
    "vehicles",
    "script",
    "other",
)

#: Human-readable labels for the cue tags.
CUE_TAG_LABELS: dict[str, str] = {
    "road_markings": "Road markings",
    "signs": "Signs",
    "bollards": "Bollards / kerbs",
    "poles": "Poles / wires",
    "vegetation": "Vegetation / ground",
    "architecture": "Architecture",
    "vehicles": "Vehicles / driving side",
    "script": "Script on signs",
    "other": "Other",
}

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class CueBox:
    """A box around a cue, with its tag. ``view`` is set for 4-view locations."""

    box: Box
    tag: str
    view: str | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.tag not in CUE_TAGS:
            raise ValueError(f"unknown cue tag {self.tag!r}; expected one of {', '.join(CUE_TAGS)}")


@dataclass(frozen=True)
class ImageItem:
    """One image of a dataset. ``path`` is absolute; ``key`` is unique within the dataset."""

    key: str
    path: str
    label: str
    split: str = "train"
    location_key: str | None = None
    view: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    width: int | None = None
    height: int | None = None
    cues: tuple[CueBox, ...] = ()
    id: int | None = None  # row id in the project database, once imported


@dataclass(frozen=True)
class Location:
    """A place seen in four views. ``views`` maps each of :data:`VIEWS` to its item."""

    key: str
    label: str
    split: str
    views: dict[str, ImageItem]
    latitude: float | None = None
    longitude: float | None = None
    id: int | None = None  # row id in the project database, once imported

    def ordered(self) -> list[ImageItem]:
        return [self.views[v] for v in VIEWS]


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one image or location, classes in the model's order."""

    classes: tuple[str, ...]
    probs: np.ndarray  # float32 (N,), sums to 1

    def topk(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs)[:k]
        return [(self.classes[i], float(self.probs[i])) for i in order]

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


@dataclass(frozen=True)
class Heatmap:
    """An attribution map: float32 HxW in [0, 1] at input resolution.

    ``view`` is set for 4-view models (one map per view). ``target`` is the class explained.
    """

    values: np.ndarray
    method: str
    target: str
    view: str | None = None
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """A segmentation mask: bool HxW, with its tight box and area in pixels.

    ``quality``: the segmenter's confidence in [0, 1] (SAM: predicted IoU; SAM3: the concept score).
    ``concept`` / ``tag``: set by concept-prompted segmenters (SAM3): the text prompt whose
    detection this mask is (the highest-scoring one when several concepts found the same mask)
    and that concept's cue tag (one of :data:`CUE_TAGS`); None for the other segmenters.
    """

    mask: np.ndarray
    box: Box
    area: int
    quality: float = 1.0
    concept: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Element:
    """An object-like element: a ranked, padded box around a salient segment.

    ``score`` is the geometric mean of ``overlap`` (fraction of the segment inside the salient
    region), ``mean_attr`` (mean attribution inside the segment) and ``centre_attr`` (attribution
    at the segment's geometric centre). ``rank`` starts at 1 for the best element.

    ``concept`` / ``tag`` / ``concept_score``: the name of the element's segment when a
    concept-prompted segmenter (SAM3) made it -- its concept, that concept's cue tag (one of
    :data:`CUE_TAGS`) and the concept score in [0, 1]; None otherwise.
    """

    rank: int
    box: Box
    score: float
    overlap: float
    mean_attr: float
    centre_attr: float
    segment_box: Box
    segment_area: int
    view: str | None = None
    concept: str | None = None
    tag: str | None = None
    concept_score: float | None = None
