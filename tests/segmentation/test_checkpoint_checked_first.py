"""A SAM-family checkpoint that cannot load stops ``explain`` / ``evaluate`` before any work starts
(no map computed, no run created), with one clear message - not one failure per image after every
attribution map has been computed."""

from __future__ import annotations

import shutil

import pytest
import torch

from geoquiz.cli import main
from geoquiz.errors import CheckpointError


@pytest.fixture
def proj_root(explain_project_root, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(explain_project_root, root)
    return root


@pytest.fixture(params=["not torch", "another model's weights"])
def bad_mobilesam(request, tmp_path):
    """A file that passes the cheap status check (it looks like a PyTorch zip) but cannot load."""
    path = tmp_path / "mobile_sam.pt"
    if request.param == "not torch":
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    else:
        from geoquiz.segmentation.sam import build_tiny_sam

        torch.save(build_tiny_sam(seed=0).state_dict(), path)
    return path


def _counts(root) -> tuple[int, int, int]:
    import sqlite3

    conn = sqlite3.connect(root / "geoquiz.sqlite")
    try:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608 - constant names
            for t in ("attribution_maps", "segmentations", "evaluation_runs")
        )
    finally:
        conn.close()


def test_cli_explain_checks_the_checkpoint_before_computing_anything(proj_root, bad_mobilesam, capsys):
    before = _counts(proj_root)
    args = ["explain", "-p", str(proj_root), "--model", "single", "--dataset", "tiny", "--split", "test"]
    args += ["--methods", "gradcam", "--segmenters", "default,mobilesam_vit_t"]
    args += ["--checkpoint", f"mobilesam_vit_t={bad_mobilesam}", "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error: mobilesam_vit_t:" in err and str(bad_mobilesam) in err and "mobile_sam.pt" in err
    assert "failed" not in err.lower().split("error:")[0]
    assert _counts(proj_root) == before  # no map, no segmentation was computed first


def test_evaluate_checks_the_checkpoint_before_creating_the_run(proj_root, bad_mobilesam, capsys):
    from geoquiz.config import SegmenterSettings
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.project import Project

    before = _counts(proj_root)
    with Project.open(proj_root) as project:
        project.save_settings(
            project.settings.__class__(
                device="cpu",
                segmenters=SegmenterSettings(mobilesam_vit_t=str(bad_mobilesam)),
                elements=project.settings.elements,
            )
        )
        with pytest.raises(CheckpointError, match="mobilesam_vit_t"):
            run_grid(project, "single", "tiny", "test", ["gradcam"], ["mobilesam_vit_t"], device="cpu")
    assert _counts(proj_root) == before
    args = [
        "evaluate",
        "-p",
        str(proj_root),
        "--model",
        "single",
        "--dataset",
        "tiny",
        "--methods",
        "gradcam",
    ]
    assert main([*args, "--segmenters", "default,mobilesam_vit_t", "--device", "cpu", "--repeats", "1"]) == 2
    assert "error: mobilesam_vit_t:" in capsys.readouterr().err
    assert _counts(proj_root) == before
