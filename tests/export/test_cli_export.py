"""``geoquiz export`` and ``geoquiz agreement show/runs`` on the seeded study."""

import pandas as pd
import pytest
from fixtures.review_seed import FixedEvidence

from geoquiz.agreement import AgreementConfig, compute_agreement
from geoquiz.cli import main


def test_cli_export_writes_the_chosen_tables(seeded, tmp_path, capsys):
    project, _ = seeded
    out = tmp_path / "cli"
    assert main(["export", "-p", str(project.root), "--out", str(out), "--what", "trials", "guesses"]) == 0
    printed = capsys.readouterr().out
    assert "exported 4 files" in printed and "trials.csv" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "codebook.csv",
        "guesses.csv",
        "manifest.json",
        "trials.csv",
    ]
    assert (
        len(pd.read_csv(out / "trials.csv"))
        == project.db.execute("SELECT count(*) FROM trials").fetchone()[0]
    )


def test_cli_export_default_folder_and_bad_choice(seeded, capsys):
    project, _ = seeded
    assert main(["export", "-p", str(project.root)]) == 0
    (folder,) = (project.root / "exports").iterdir()
    assert folder.name.startswith("study-") and (folder / "coco_boxes.json").exists()
    with pytest.raises(SystemExit) as exc:
        main(["export", "-p", str(project.root), "--what", "everything"])
    assert exc.value.code == 2
    assert main(["export", "-p", str(project.root / "missing")]) == 2
    assert "not a GeoQuiz project" in capsys.readouterr().err


def test_cli_agreement_show_and_runs(seeded, capsys):
    project, _ = seeded
    assert main(["agreement", "show", "-p", str(project.root)]) == 2
    assert "no agreement run" in capsys.readouterr().err
    run = compute_agreement(
        project, "m1", study="pilot", evidence=FixedEvidence(project.db), config=AgreementConfig(n_boot=20)
    )
    assert main(["agreement", "runs", "-p", str(project.root)]) == 0
    assert f"{run:>4}" in capsys.readouterr().out
    assert main(["agreement", "show", "-p", str(project.root)]) == 0
    out = capsys.readouterr().out
    assert "fleiss_kappa" in out and "pointing_hit[human]" in out and "model_minus_human_top1" in out
    assert main(["agreement", "show", "-p", str(project.root), "--scope", "class"]) == 0
    assert "Japan" in capsys.readouterr().out
    assert main(["agreement", "show", "-p", str(project.root), "--run", "999"]) == 2
