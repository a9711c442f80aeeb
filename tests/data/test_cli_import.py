"""``geoquiz import``: each sub-mode through the real argument parser, the summary and the errors."""

from __future__ import annotations

import numpy as np
from conftest import write_png

from geoquiz.cli import main
from geoquiz.data import dataset as ds
from geoquiz.project import Project
from geoquiz.types import VIEWS


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(5, 6, 3), dtype=np.uint8)


def test_cli_import_folder_csv_and_four_view(tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj)]) == 0
    for label in ("a", "b"):
        for i in range(3):
            write_png(tmp_path / "flat" / label / f"{i}.png", _img(i))
            for v in VIEWS:
                write_png(tmp_path / "fv" / label / f"{i}_{v}.png", _img(i))
    (tmp_path / "flat" / "b" / "broken.png").write_bytes(b"nope")
    rows = ["name,lab,n,e,s,w"] + [
        f"L{i},c{i % 2}," + ",".join(f"a/{i}_{v}.png" for v in VIEWS) for i in range(3)
    ]
    (tmp_path / "fv" / "locs.csv").write_text("\n".join(rows) + "\n")
    capsys.readouterr()

    assert main(["import", "-p", str(proj), "--name", "flat", "--folder", str(tmp_path / "flat")]) == 2
    err = capsys.readouterr().err
    assert "error: import of 'flat' stopped" in err and "broken.png" in err

    args = ["import", "-p", str(proj), "--name", "flat", "--folder", str(tmp_path / "flat"), "--skip-bad"]
    assert main([*args, "--seed", "7", "--classes", "b,a"]) == 0
    out = capsys.readouterr().out
    assert "imported dataset 'flat' (single): 6 images, 2 classes" in out
    assert "stratified, seed 7" in out and "skipped 1 bad item" in out and "broken.png" in out

    assert (
        main(["import", "-p", str(proj), "--name", "fvf", "--folder", str(tmp_path / "fv"), "--four-view"])
        == 0
    )
    assert "6 locations (24 images)" in capsys.readouterr().out

    csv_args = [
        "import",
        "-p",
        str(proj),
        "--name",
        "fvc",
        "--csv",
        str(tmp_path / "fv" / "locs.csv"),
        "--four-view",
    ]
    csv_args += ["--id-column", "name", "--label-column", "lab", "--lat-column", "", "--lon-column", ""]
    csv_args += ["--view-columns", "north=n,east=e,south=s,west=w", "--split", "test"]
    assert main(csv_args) == 0
    assert "3 locations (12 images)" in capsys.readouterr().out

    assert main(["import", "-p", str(proj), "--name", "x", "--csv", str(tmp_path / "fv" / "locs.csv")]) == 2
    assert "missing column(s) 'id', 'country' (columns found: name, lab" in capsys.readouterr().err

    with Project.open(proj) as p:
        infos = {i.name: i for i in ds.list_datasets(p.db)}
        assert infos["flat"].classes == ("b", "a") and infos["flat"].split_seed == 7
        assert infos["fvf"].n_locations == 6 and infos["fvc"].splits == {"test": 12}
