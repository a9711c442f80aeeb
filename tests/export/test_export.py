"""Export round trip: every CSV read back with pandas equals the database; codebook, COCO, atomicity."""

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from fixtures.review_seed import TRICKY_RATIONALES, FixedEvidence, seed_study

from geoquiz import csvio
from geoquiz.agreement import AgreementConfig, compute_agreement
from geoquiz.errors import GeoQuizError
from geoquiz.study import export as ex
from geoquiz.study.export_codebook import TABLES, codebook_markdown
from geoquiz.types import CUE_TAGS

REPO = Path(__file__).resolve().parents[2]


def _unquote(value):
    """Undo the formula neutralisation of one text cell."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(csvio.FORMULA_PREFIXES):
        return value[1:]
    return value


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, encoding="utf-8", keep_default_na=False, na_values=[""])
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].map(_unquote)
    return df


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The seeded study with an agreement run, exported once for the read-only tests of this module."""
    from geoquiz.project import Project

    tmp = tmp_path_factory.mktemp("export")
    with Project.open(tmp / "proj", create=True) as project:
        ids = seed_study(project)
        compute_agreement(
            project,
            "m1",
            study="pilot",
            evidence=FixedEvidence(project.db),
            config=AgreementConfig(n_boot=50),
        )
        files = ex.export_all(project, tmp / "out")
        yield project, ids, tmp / "out", files


def test_export_writes_every_file(exported):
    _, _, out, files = exported
    names = sorted(p.name for p in files)
    expected = sorted(
        [f"{t}.csv" for t in TABLES if t != "codebook"] + ["codebook.csv", ex.COCO_NAME, "manifest.json"]
    )
    assert names == expected
    assert sorted(p.name for p in out.iterdir()) == expected  # no temporary files left behind
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["trials"] == len(pd.read_csv(out / "trials.csv"))


def test_trials_round_trip(exported):
    project, _, out, _ = exported
    df = _read(out / "trials.csv").set_index("trial_id")
    rows = project.db.execute(
        "SELECT t.id, p.code, t.kind, t.true_label, t.rationale, t.confidence, t.response_time_ms, t.timed_out, "
        "t.image_id, t.location_id FROM trials t JOIN sessions s ON s.id = t.session_id "
        "JOIN participants p ON p.id = s.participant_id ORDER BY t.id"
    ).fetchall()
    assert list(df.index) == [r[0] for r in rows]
    for tid, code, kind, truth, rationale, conf, rt, timed_out, image_id, location_id in rows:
        got = df.loc[tid]
        assert (got.participant, got.kind, got.true_label) == (code, kind, truth)
        assert got.rationale == (rationale or None) or (pd.isna(got.rationale) and rationale == "")
        assert (pd.isna(got.confidence) and conf is None) or got.confidence == conf
        assert got.response_time_ms == rt and got.timed_out == timed_out
        assert (pd.isna(got.image_id) and image_id is None) or got.image_id == image_id
        assert (pd.isna(got.location_id) and location_id is None) or got.location_id == location_id
        first = project.db.execute(
            "SELECT label FROM guesses WHERE trial_id = ? AND rank = 1", [tid]
        ).fetchone()
        assert got.top1_correct == int(first is not None and first[0] == truth)
    assert set(TRICKY_RATIONALES) <= set(df["rationale"].dropna())
    assert pd.api.types.is_integer_dtype(df["response_time_ms"])


def test_guesses_and_cue_boxes_round_trip(exported):
    project, ids, out, _ = exported
    g = _read(out / "guesses.csv")
    db_g = project.db.execute("SELECT trial_id, rank, label FROM guesses ORDER BY trial_id, rank").fetchall()
    assert list(g[["trial_id", "rank", "label"]].itertuples(index=False, name=None)) == db_g
    assert (g["correct"] == (g["label"] == g["true_label"]).astype(int)).all()
    b = _read(out / "cue_boxes.csv")
    db_b = project.db.execute(
        "SELECT id, trial_id, tag, x0, y0, x1, y1, note FROM cue_boxes ORDER BY id"
    ).fetchall()
    got = [
        (r.box_id, r.trial_id, r.tag, r.x0, r.y0, r.x1, r.y1, "" if pd.isna(r.note) else r.note)
        for r in b.itertuples()
    ]
    assert got == db_b
    # 4-view boxes point at the image of their view
    east = project.db.execute(
        "SELECT id FROM images WHERE location_id = ? AND view = 'east'", [ids["locations"][0]]
    ).fetchone()[0]
    assert set(b.loc[b["view"] == "east", "image_id"]) == {east}
    assert (b["width"] == b["x1"] - b["x0"]).all()


def test_model_tables_round_trip(exported):
    project, ids, out, _ = exported
    p = _read(out / "model_predictions.csv")
    assert len(p) == project.db.execute("SELECT count(*) FROM predictions").fetchone()[0]
    m1 = p[p["model"] == "m1"].set_index("image_id")
    assert m1.loc[ids["images"][0], "true_prob"] == pytest.approx(0.7)
    assert m1.loc[ids["images"][2], "correct"] == 0 and m1.loc[ids["images"][2], "true_rank"] == 3
    assert m1.loc[ids["images"][0], "top5"] == "France|India|Japan"
    assert json.loads(m1.loc[ids["images"][0], "probs_json"]) == pytest.approx(
        {"France": 0.7, "India": 0.15, "Japan": 0.15}
    )
    m4 = p[p["model"] == "m4"]
    assert list(m4["location_key"]) == ["loc0", "loc1"] and m4["image_id"].isna().all()
    e = _read(out / "elements.csv")
    # stored at the model's 32 x 32 input resolution; x0.. are in the 64 x 48 image's pixels
    assert list(
        e[["rank", "input_x0", "input_y0", "input_x1", "input_y1"]].itertuples(index=False, name=None)
    ) == [
        (1, 0, 0, 8, 16),
        (2, 20, 0, 32, 8),
    ]
    assert list(e[["x0", "y0", "x1", "y1"]].itertuples(index=False, name=None)) == [
        (0, 0, 16, 24),
        (40, 0, 64, 12),
    ]
    assert set(e["input_size"]) == {32}
    assert set(e["method"]) == {"gradcam"} and set(e["segmenter"]) == {"default"}
    f = _read(out / "faithfulness.csv")
    assert len(f) == project.db.execute("SELECT count(*) FROM evaluation_results").fetchone()[0] == 8
    assert (f["seed"] == -3).all() and pd.api.types.is_integer_dtype(f["seed"])
    assert set(f["run_kind"]) == {"grid"}


def test_agreement_round_trip(exported):
    project, _, out, _ = exported
    a = _read(out / "agreement.csv")
    db = project.db.execute(
        "SELECT metric, reference, tag, value FROM agreement ORDER BY run_id, id"
    ).fetchall()
    assert len(a) == len(db)
    for (metric, reference, tag, value), row in zip(db, a.itertuples()):
        assert (
            row.metric,
            row.reference if not pd.isna(row.reference) else "",
            row.tag if not pd.isna(row.tag) else "",
        ) == (metric, reference, tag)
        assert (value is None and pd.isna(row.value)) or row.value == pytest.approx(value)
    kappa = a[(a["metric"] == "fleiss_kappa")]["value"].iloc[0]
    assert kappa < 0 and isinstance(kappa, float)  # a negative number stays a number


def test_codebook_describes_every_column(exported):
    _, _, out, _ = exported
    book = pd.read_csv(out / "codebook.csv", keep_default_na=False)
    described = set(zip(book["table"], book["column"]))
    assert (book["description"].str.len() > 5).all()
    for path in out.glob("*.csv"):
        cols = pd.read_csv(path, nrows=0).columns
        assert {(path.stem, c) for c in cols} <= described, path.name
    assert (REPO / "docs" / "codebook.md").read_text(encoding="utf-8") == codebook_markdown()


def test_coco_json(exported):
    project, _, out, _ = exported
    coco = json.loads((out / ex.COCO_NAME).read_text(encoding="utf-8"))
    assert [c["name"] for c in coco["categories"]] == [*CUE_TAGS, "model_element"]
    n_boxes = project.db.execute("SELECT count(*) FROM cue_boxes").fetchone()[0]
    n_elements = project.db.execute("SELECT count(*) FROM elements").fetchone()[0]
    assert len(coco["annotations"]) == n_boxes + n_elements
    ids = [a["id"] for a in coco["annotations"]]
    assert len(set(ids)) == len(ids)
    images = {i["id"]: i for i in coco["images"]}
    cat = {c["id"]: c["name"] for c in coco["categories"]}
    for a in coco["annotations"]:
        assert a["image_id"] in images
        x, y, w, h = a["bbox"]
        if a["attributes"]["source"] == "human":
            row = project.db.execute(
                "SELECT tag, x0, y0, x1, y1 FROM cue_boxes WHERE id = ?", [a["attributes"]["box_id"]]
            ).fetchone()
            assert (cat[a["category_id"]], x, y, x + w, y + h) == row
        else:
            assert cat[a["category_id"]] == "model_element" and 0 <= a["score"] <= 1
            assert [x, y, x + w, y + h] in ([0, 0, 16, 24], [40, 0, 64, 12])  # the image's pixel frame
    assert all(i["width"] > 0 and i["height"] > 0 for i in images.values())
    assert any(
        a["attributes"].get("note", "").startswith("=cmd") for a in coco["annotations"]
    )  # JSON is not neutralised


def test_what_selects_files_and_rejects_unknown(seeded, tmp_path):
    project, _ = seeded
    files = ex.export_all(project, tmp_path / "x", what=["guesses", "coco"])
    assert sorted(p.name for p in files) == sorted(
        ["codebook.csv", ex.COCO_NAME, "guesses.csv", "manifest.json"]
    )
    book = pd.read_csv(tmp_path / "x" / "codebook.csv")
    assert set(book["table"]) == {"guesses", "codebook"}
    with pytest.raises(GeoQuizError, match="cannot export bogus"):
        ex.export_all(project, tmp_path / "y", what=["bogus"])
    assert not (tmp_path / "y").exists()


def test_empty_project_exports_headers_only(project, tmp_path):
    files = ex.export_all(project, tmp_path / "e")
    trials = pd.read_csv(tmp_path / "e" / "trials.csv")
    assert len(trials) == 0 and list(trials.columns) == [c.name for c in TABLES["trials"]]
    assert len(files) == 12


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "t.csv"
    ex.write_csv(pd.DataFrame({"a": [1]}), target)
    before = target.read_bytes()

    def broken(fh):
        fh.write("half,")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        csvio.atomic_write(target, broken)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_unwritable_export_folder_is_a_clear_error(seeded, tmp_path):
    project, _ = seeded
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GeoQuizError, match="cannot create the export folder"):
        ex.export_all(project, blocker / "sub")


def test_utf8_text_survives(exported):
    _, _, out, _ = exported
    raw = (out / "trials.csv").read_bytes()
    assert "日本の標識".encode() in raw and not raw.startswith(b"\xef\xbb\xbf")
    with open(out / "trials.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert any(r["rationale"].startswith("Unicode: 日本") and "\n" in r["rationale"] for r in rows)


def test_session_events_are_exported_with_their_session_and_detail(project, tmp_path):
    """A kiosk pause and a picture that could not be shown reach ``session_events.csv`` with the
    participant and study, times and the detail JSON (JSON text)."""
    from geoquiz.study.events import record_event

    seed_study(project)
    db = project.db
    session_id, code = db.execute(
        "SELECT s.id, p.code FROM sessions s JOIN participants p ON p.id = s.participant_id ORDER BY s.id"
    ).fetchone()
    record_event(
        db, session_id, "pause", position=2, ended_at="2026-01-01T00:00:05.000+00:00", duration_ms=5000
    )
    record_event(db, session_id, "image_error", position=3, detail={"error": "=bad file", "path": "/x.png"})
    ex.export_all(project, tmp_path / "out", what=["session_events"])
    rows = pd.read_csv(tmp_path / "out" / "session_events.csv", keep_default_na=False)
    assert list(rows.columns) == [c.name for c in TABLES["session_events"]]
    assert rows["kind"].tolist() == ["pause", "image_error"] and rows["participant"].tolist() == [code, code]
    assert rows["position"].tolist() == [2, 3] and rows["duration_ms"].astype(str).tolist() == ["5000", ""]
    assert json.loads(rows["detail"][1]) == {"error": "=bad file", "path": "/x.png"}
