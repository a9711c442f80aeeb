"""``geoquiz study validate / install / sessions``."""

from __future__ import annotations

from geoquiz.cli import main
from geoquiz.paths import studies_dir
from geoquiz.study.session import create_session

EXAMPLE = studies_dir() / "geoscenes_countries.toml"


def test_validate_ok_and_against_a_project(quiz_project_root, capsys):
    assert main(["study", "validate", str(EXAMPLE)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["study", "validate", str(EXAMPLE), "-p", str(quiz_project_root)]) == 0
    out = capsys.readouterr().out
    assert "15 items, 3 answer options" in out and "12 trials, 2 practice, 1 attention" in out


def test_validate_reports_line_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("top_k = 3 ", "top_k = 0 "))
    assert main(["study", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    line = 1 + EXAMPLE.read_text().splitlines().index(
        next(ln for ln in EXAMPLE.read_text().splitlines() if ln.startswith("top_k"))
    )
    assert f"error: {bad}, line {line}, field responses.top_k: must be between 1 and 20, got 0" in err


def test_install_and_list_sessions(quiz_project_root, capsys):
    assert main(["study", "install", str(EXAMPLE), "-p", str(quiz_project_root)]) == 0
    assert "installed study 'geoscenes-countries'" in capsys.readouterr().out
    assert main(["study", "sessions", "-p", str(quiz_project_root)]) == 0
    assert "no sessions yet" in capsys.readouterr().out
    from geoquiz.project import Project

    with Project.open(quiz_project_root) as project:
        code = create_session(project.db, "geoscenes-countries").code
    assert main(["study", "sessions", "-p", str(quiz_project_root), "--study", "geoscenes-countries"]) == 0
    out = capsys.readouterr().out
    assert code in out and "created" in out and "0/15" in out


def test_install_against_wrong_project_fails_cleanly(tmp_path, capsys):
    assert main(["init", str(tmp_path / "empty")]) == 0
    assert main(["study", "install", str(EXAMPLE), "-p", str(tmp_path / "empty")]) == 2
    assert "field items.dataset: no dataset 'geoscenes'" in capsys.readouterr().err
