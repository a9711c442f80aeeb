"""Agreement between participants and the model (geoquiz.agreement), stored per run.

``agreement_runs``: one computation for a model x attribution method x segmenter (x study, NULL =
every study). ``agreement``: tidy long table, one row per (scope, item, reference, metric, tag):

* ``scope``: ``item`` (one image, or one 4-view location), ``class`` (per true label) or ``overall``;
* ``reference``: what the model's elements are compared with: ``human`` (participants' cue boxes),
  ``planted`` (GeoScenes' planted cues) or ``''`` for answer measures (accuracy, kappa);
* ``value`` with its sample size ``n`` and, where defined, a 95 % interval ``ci_low``..``ci_high``.

The metric names are documented in docs/codebook.md and geoquiz.agreement.
"""

NAME = "0070_agreement"

SCHEMA = """
CREATE TABLE agreement_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id INTEGER REFERENCES models(id) ON DELETE CASCADE,
    study_id INTEGER REFERENCES studies(id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    segmenter TEXT NOT NULL,
    params_key TEXT NOT NULL DEFAULT '',
    config_json TEXT NOT NULL DEFAULT '{}',
    summary_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE agreement (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES agreement_runs(id) ON DELETE CASCADE,
    scope TEXT NOT NULL CHECK (scope IN ('item', 'class', 'overall')),
    image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
    location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
    label TEXT,
    reference TEXT NOT NULL DEFAULT '' CHECK (reference IN ('', 'human', 'planted')),
    metric TEXT NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    value REAL,
    n INTEGER,
    ci_low REAL,
    ci_high REAL
);
CREATE INDEX idx_agreement_run ON agreement (run_id, scope, metric);
CREATE INDEX idx_agreement_image ON agreement (image_id);
CREATE INDEX idx_agreement_location ON agreement (location_id)
"""


def apply(db) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
