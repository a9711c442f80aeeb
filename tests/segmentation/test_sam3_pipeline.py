"""Named elements end to end: a project's SAM3 (tiny random weights, checkpoint folder and concept
vocabulary set in project.toml) -> Explainer cache (database rows, cached re-reads), an engine
worker's blobs stored by the driver, elements.csv, and a faithfulness grid whose report has segment
counts and coverage per segmenter. Scores come from :class:`fixtures.sam3.PlantedScorer`."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from fixtures.sam3 import PLANTED, VOCAB_TOML, PlantedScorer

pytest.importorskip("transformers")

from geoquiz.config import ConceptSettings, ElementSettings
from geoquiz.data.dataset import load_items
from geoquiz.explain import CheckpointExplainCore, Explainer
from geoquiz.project import Project

#: keep every segment as an element (the tiny model's masks are arbitrary): no de-duplication and
#: the paper's plain box rule (no merging of overlapping boxes)
KEEP_ALL = ElementSettings(
    top_p=100.0, s_min=0.0, iou_threshold=1.01, max_elements=0, min_segment_area=0, box_rule="plain"
)
TAGS = {"yellow centre line": "road_markings", "utility pole": "poles", "palm tree": "vegetation"}


@pytest.fixture
def sam3_project(explain_project_root, tiny_sam3):
    """The explain fixture project with SAM3's folder and a vocabulary file (relative path) set."""
    (explain_project_root / "my_concepts.toml").write_text(VOCAB_TOML, encoding="utf-8")
    with Project.open(explain_project_root) as project:
        settings = project.settings
        project.save_settings(
            dataclasses.replace(
                settings,
                segmenters=settings.segmenters.replace(sam3=str(tiny_sam3[2])),
                concepts=ConceptSettings("my_concepts.toml"),
            )
        )
        yield project


def _explainer(project):
    return Explainer(
        project, "single", device="cpu", segmenter_params={"sam3": {"scorer": PlantedScorer(PLANTED)}}
    )


def test_named_elements_are_stored_reread_and_exported(sam3_project):
    project = sam3_project
    item = load_items(project.db, "tiny", "test")[0]
    ex = _explainer(project)
    assert len(ex.segmenter("sam3").vocabulary) == 8  # the project's own vocabulary file
    elements = ex.elements(item, "gradcam", "sam3", KEEP_ALL)
    assert elements, "the planted detections become elements"
    for e in elements:
        assert e.tag == TAGS[e.concept]
        assert e.concept_score == pytest.approx(PLANTED[e.concept][list(PLANTED[e.concept])[0]])
    rows = project.db.execute(
        "SELECT concept, tag, concept_score FROM elements WHERE concept IS NOT NULL ORDER BY rank"
    ).fetchall()
    assert [(c, t) for c, t, _ in rows] == [(e.concept, e.tag) for e in elements]
    # a new Explainer reads the same named elements back from the cache
    again = _explainer(project)
    assert again.elements(item, "gradcam", "sam3", KEEP_ALL) == elements
    assert again.stats["elements_cached"] == 1 and again.stats["segmentations_computed"] == 0
    # the default segmenter's elements have no names
    assert all(e.concept is None and e.tag is None for e in ex.elements(item, "gradcam", "default", KEEP_ALL))
    from geoquiz.study.export import elements_frame

    df = elements_frame(project.db.conn)
    named = df[df["segmenter"] == "sam3"]
    assert list(named["concept"]) == [e.concept for e in elements]
    assert list(named["tag"]) == [e.tag for e in elements]
    assert df[df["segmenter"] == "default"]["concept"].isna().all()


def test_worker_blobs_carry_the_names_to_the_driver(sam3_project):
    project = sam3_project
    item = load_items(project.db, "tiny", "test")[1]
    ex = _explainer(project)
    core = CheckpointExplainCore(
        ex.checkpoint,
        "single",
        model_hash=ex.model_hash,
        device="cpu",
        segmenter_params=ex.segmenter_params,
        segmenter_settings=ex.segmenter_settings,
    )
    params = dataclasses.replace(KEEP_ALL, padding=0.2)
    explanation = pickle.loads(pickle.dumps(core.explain_sample(item, ["gradcam"], ["sam3"], params)))
    from_worker = explanation.elements_of("gradcam", "sam3")
    assert from_worker and {e.tag for e in from_worker} <= set(TAGS.values())
    n, coverage = explanation.segment_stats("gradcam", "sam3")
    assert n >= len(from_worker) and 0.0 < coverage <= 1.0
    ex.store_explanation(item, explanation)
    stored = _explainer(project)
    assert stored.elements(item, "gradcam", "sam3", params) == from_worker
    assert stored.stats["elements_cached"] == 1
    assert stored.segment_stats(item, "sam3", "gradcam", params) == (n, pytest.approx(coverage))


def test_the_grid_reports_segment_counts_and_coverage_per_segmenter(sam3_project, tmp_path):
    from geoquiz.faithfulness.export import export_run
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.store import get_run, load_run

    project = sam3_project
    run_id = run_grid(
        project,
        "single",
        "tiny",
        "test",
        ["gradcam"],
        ["default", "sam3"],
        repeats=1,
        curves=False,
        limit=2,
        params=KEEP_ALL,
        device="cpu",
        explainer=_explainer(project),
    )
    df = load_run(project.db, run_id)
    assert df["n_segments"].notna().all() and df["segment_coverage"].between(0, 1).all()
    by_seg = {r["segmenter"]: r for r in get_run(project.db, run_id).summary["segmenters"]}
    assert set(by_seg) == {"default", "sam3"}
    assert 0 < by_seg["sam3"]["segments"] <= len(PLANTED)  # at most one mask per planted detection
    assert by_seg["default"]["segments"] > by_seg["sam3"]["segments"]
    for r in by_seg.values():
        assert 0.0 < r["segment_coverage"] <= 1.0 and r["n"] == 2
        assert r["elements"] == pytest.approx(r["segments"])  # KEEP_ALL keeps every segment
    paths = export_run(project.db, run_id, tmp_path, formats=("csv", "svg"))
    names = {p.name for p in paths}
    assert {f"faithfulness_run{run_id}_segmenters.csv", f"faithfulness_run{run_id}_segmenters.svg"} <= names
    text = (tmp_path / f"faithfulness_run{run_id}_segmenters.csv").read_text()
    assert text.splitlines()[0].startswith("method,segmenter,n,segments")


def test_evaluate_cli_checks_sam3_first_and_reports_segments(explain_project_root, tmp_path, capsys):
    """``geoquiz evaluate --segmenters default,sam3``: a missing SAM3 folder stops it before any run
    is created; with a (tiny, randomly detecting) SAM3 its table has segments and coverage per segmenter."""
    from geoquiz.cli import main
    from geoquiz.segmentation.sam3 import build_tiny_sam3
    from geoquiz.segmentation.sam3_checkpoint import save_checkpoint_dir

    root = str(explain_project_root)
    with Project.open(explain_project_root) as project:
        project.save_settings(
            dataclasses.replace(
                project.settings,
                segmenters=project.settings.segmenters.replace(sam3=str(tmp_path / "nowhere")),
                concepts=ConceptSettings(""),
            )
        )
        before = project.db.execute("SELECT COUNT(*) FROM evaluation_runs").fetchone()[0]
    argv = ["evaluate", "--project", root, "--model", "single", "--dataset", "tiny", "--methods", "gradcam"]
    argv += [
        "--segmenters",
        "default,sam3",
        "--repeats",
        "1",
        "--limit",
        "2",
        "--no-curves",
        "--device",
        "cpu",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: segmenter sam3 is not ready: checkpoint folder not found" in err and "facebook/sam3" in err
    with Project.open(explain_project_root) as project:
        assert project.db.execute("SELECT COUNT(*) FROM evaluation_runs").fetchone()[0] == before
        model, processor = build_tiny_sam3(seed=1, detections=True)
        folder = save_checkpoint_dir(model, processor, tmp_path / "sam3")
        project.save_settings(
            dataclasses.replace(
                project.settings, segmenters=project.settings.segmenters.replace(sam3=str(folder))
            )
        )
    assert main([*argv, "--new"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("segments/image") :].splitlines()
    rows = {line.split()[1]: line.split() for line in table[1:] if line.startswith("gradcam ")}
    assert set(rows) == {"default", "sam3"} and float(rows["sam3"][2]) > 0
