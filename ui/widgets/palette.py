"""The one colour per cue tag, used wherever cue boxes are drawn (the quiz's box editor, the Dataset
tab's planted cues, the Review canvas and its legend)."""

from __future__ import annotations

CUE_COLOURS: dict[str, str] = {
    "road_markings": "#ffd400",
    "signs": "#ff4d4d",
    "bollards": "#ff9f1c",
    "poles": "#b388ff",
    "vegetation": "#3ddc84",
    "architecture": "#4dd0e1",
    "vehicles": "#2979ff",
    "script": "#ff66c4",
    "other": "#e0e0e0",
}


def tag_colour(tag: str) -> str:
    """The colour of ``tag`` (light grey for an unknown tag)."""
    return CUE_COLOURS.get(tag, "#e0e0e0")
