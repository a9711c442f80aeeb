"""Ground truth on GeoScenes (Qt-free).

* :mod:`~geoquiz.ground_truth.pointing`: the any-cue pointing game (does the top element land on a
  planted cue?), re-exported here;
* :mod:`~geoquiz.ground_truth.causal`: counterfactual cue importance (re-render each scene without
  each planted cue object and each cue tag, and measure what the model loses), stored per image in
  ``causal_units`` / ``causal_cues``;
* :mod:`~geoquiz.ground_truth.versus`: explanations (attribution method x segmenter) scored against
  that causal truth.
"""

from geoquiz.ground_truth.pointing import (
    CRITERIA,
    PointingRecord,
    PointingResult,
    PointingSettings,
    balanced,
    cues_of,
    frames_of,
    hit_cues,
    hits,
    point_to_box_distance,
    pointing_game,
    pointing_on_dataset,
    random_box,
    random_hit_rate,
    score_image,
    to_image_frame,
)

__all__ = [
    "CRITERIA",
    "PointingRecord",
    "PointingResult",
    "PointingSettings",
    "balanced",
    "cues_of",
    "frames_of",
    "hit_cues",
    "hits",
    "point_to_box_distance",
    "pointing_game",
    "pointing_on_dataset",
    "random_box",
    "random_hit_rate",
    "score_image",
    "to_image_frame",
]
