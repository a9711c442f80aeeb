"""Explanation cache index: which element sets were computed (even empty ones), and the segment
each element came from (its index in the cached segmentation, tight box, area and view)."""

NAME = "0040_explain"

STATEMENTS = [
    """CREATE TABLE element_sets (
        id INTEGER PRIMARY KEY,
        attribution_map_id INTEGER NOT NULL REFERENCES attribution_maps(id) ON DELETE CASCADE,
        segmentation_id INTEGER NOT NULL REFERENCES segmentations(id) ON DELETE CASCADE,
        params_key TEXT NOT NULL,
        params_json TEXT NOT NULL DEFAULT '{}',
        n_elements INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (attribution_map_id, segmentation_id, params_key)
    )""",
    "ALTER TABLE elements ADD COLUMN view TEXT",
    "ALTER TABLE elements ADD COLUMN segment_index INTEGER",
    "ALTER TABLE elements ADD COLUMN segment_x0 INTEGER",
    "ALTER TABLE elements ADD COLUMN segment_y0 INTEGER",
    "ALTER TABLE elements ADD COLUMN segment_x1 INTEGER",
    "ALTER TABLE elements ADD COLUMN segment_y1 INTEGER",
    "ALTER TABLE elements ADD COLUMN segment_area INTEGER",
    "CREATE INDEX idx_attribution_maps_model_image ON attribution_maps (model_id, image_id, method)",
    "CREATE INDEX idx_segmentations_image ON segmentations (image_id, segmenter)",
    "CREATE INDEX idx_elements_map ON elements (attribution_map_id, segmentation_id, params_key)",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
