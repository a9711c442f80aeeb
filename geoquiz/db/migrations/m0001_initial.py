"""The initial schema: datasets, models, explanations, evaluations, studies and their answers."""

NAME = "0001_initial"

SCHEMA = """
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('single', '4view')),
    source TEXT NOT NULL,
    root TEXT,
    split_method TEXT,
    split_seed INTEGER,
    params_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    idx INTEGER NOT NULL,
    UNIQUE (dataset_id, name),
    UNIQUE (dataset_id, idx)
);
CREATE TABLE locations (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    split TEXT NOT NULL,
    latitude REAL,
    longitude REAL,
    UNIQUE (dataset_id, key)
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    label TEXT NOT NULL,
    split TEXT NOT NULL,
    location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
    view TEXT,
    width INTEGER,
    height INTEGER,
    latitude REAL,
    longitude REAL,
    UNIQUE (dataset_id, key)
);
CREATE INDEX idx_images_label ON images (dataset_id, label, split);
CREATE TABLE planted_cues (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL
);
CREATE INDEX idx_planted_cues_image ON planted_cues (image_id);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    arch TEXT NOT NULL,
    integration TEXT NOT NULL,
    classes_json TEXT NOT NULL,
    input_size INTEGER NOT NULL,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
    location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
    true_label TEXT,
    pred_label TEXT NOT NULL,
    confidence REAL NOT NULL,
    probs_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (model_id, image_id, location_id)
);
CREATE TABLE model_evaluations (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
    split TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE attribution_maps (
    id INTEGER PRIMARY KEY,
    cache_key TEXT NOT NULL UNIQUE,
    model_id INTEGER REFERENCES models(id) ON DELETE CASCADE,
    image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
    view TEXT,
    method TEXT NOT NULL,
    target TEXT NOT NULL,
    params_json TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE segmentations (
    id INTEGER PRIMARY KEY,
    cache_key TEXT NOT NULL UNIQUE,
    image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
    segmenter TEXT NOT NULL,
    params_json TEXT NOT NULL DEFAULT '{}',
    n_segments INTEGER NOT NULL,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE elements (
    id INTEGER PRIMARY KEY,
    attribution_map_id INTEGER NOT NULL REFERENCES attribution_maps(id) ON DELETE CASCADE,
    segmentation_id INTEGER NOT NULL REFERENCES segmentations(id) ON DELETE CASCADE,
    params_key TEXT NOT NULL,
    rank INTEGER NOT NULL,
    x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
    score REAL NOT NULL,
    overlap REAL NOT NULL,
    mean_attr REAL NOT NULL,
    centre_attr REAL NOT NULL,
    UNIQUE (attribution_map_id, segmentation_id, params_key, rank)
);
CREATE TABLE evaluation_runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER REFERENCES models(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
    split TEXT NOT NULL,
    config_json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    summary_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE evaluation_results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
    image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    segmenter TEXT NOT NULL,
    test TEXT NOT NULL CHECK (test IN ('deletion', 'insertion')),
    selection TEXT NOT NULL CHECK (selection IN ('guided', 'random')),
    fill TEXT NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0,
    seed INTEGER,
    n_boxes INTEGER NOT NULL,
    coverage REAL NOT NULL,
    correct INTEGER NOT NULL,
    true_prob REAL NOT NULL,
    base_correct INTEGER,
    base_true_prob REAL
);
CREATE INDEX idx_eval_results_run ON evaluation_results (run_id, method, segmenter, test, selection);
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    definition_toml TEXT NOT NULL,
    source_path TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE participants (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    participant_id INTEGER NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    seed INTEGER NOT NULL,
    order_json TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'created',
    consent_at TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('practice', 'main', 'attention')),
    image_id INTEGER REFERENCES images(id),
    location_id INTEGER REFERENCES locations(id),
    true_label TEXT NOT NULL,
    shown_at TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    response_time_ms INTEGER NOT NULL,
    rationale TEXT NOT NULL DEFAULT '',
    confidence INTEGER,
    timed_out INTEGER NOT NULL DEFAULT 0,
    UNIQUE (session_id, position)
);
CREATE TABLE guesses (
    id INTEGER PRIMARY KEY,
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (trial_id, rank)
);
CREATE TABLE cue_boxes (
    id INTEGER PRIMARY KEY,
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    view TEXT,
    tag TEXT NOT NULL,
    x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL
);
CREATE TABLE project_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def apply(db) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
