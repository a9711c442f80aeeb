"""Named elements and segment counts (issue 16: SAM3 concept segments).

* ``elements.concept`` / ``tag`` / ``concept_score``: the concept prompt whose mask the element is
  (the highest-scoring one), its cue tag (``geoquiz.types.CUE_TAGS``) and the concept score in
  [0, 1]; NULL for segmenters that do not name their segments.
* ``evaluation_results.n_segments`` / ``segment_coverage``: for each faithfulness result, how many
  segments the segmenter produced on the image (all views) and the fraction of its pixels inside
  their union (paper 000 links SAM3's stronger results to its larger coverage); NULL for older runs.
"""

NAME = "0120_concepts"

STATEMENTS = [
    "ALTER TABLE elements ADD COLUMN concept TEXT",
    "ALTER TABLE elements ADD COLUMN tag TEXT",
    "ALTER TABLE elements ADD COLUMN concept_score REAL",
    "ALTER TABLE evaluation_results ADD COLUMN n_segments INTEGER",
    "ALTER TABLE evaluation_results ADD COLUMN segment_coverage REAL",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
