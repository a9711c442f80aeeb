"""Study data at scale: export, Review and Dashboards on a large synthetic study, with ratios.

Builds (in a child process, so its memory is not counted) the study of :mod:`bench._study_data`:
``--participants`` x ``--trials`` main trials (3 ranked guesses and 2 cue boxes each), ``--images``
images with a prediction and ``--elements`` elements each, plus the small fixed extras. Default: the
size of issue 18 (1,000 x 100 = 100,000 trials, 300,000 guesses, 200,000 boxes, 2,000 images, 10,000
elements). Then, in this process:

* ``export_all`` of everything once first, and the peak resident memory of the process right after
  it (imports included, nothing else has run yet) and of its largest child process (an export
  worker; or the builder, when this run built the study);
* ``--repeat`` rounds of: the raw anchor (``pandas.read_sql_query("SELECT * FROM <table>")`` +
  ``DataFrame.to_csv`` of trials, guesses, cue_boxes, predictions and elements), ``export_all`` of
  the same five tables (joins, codebook types, neutralisation; on the export's worker processes, and
  in one process with ``workers=1``), and of all the files; the best of
  each, the ratios to the best raw anchor *of this run*, and the 5-table ratio of each round (its
  export next to its own anchor: on a shared machine the load changes between rounds, and only
  figures measured together mean something);
* the read side: ``review_data.load_answers`` of every trial (what compute_agreement reads), opening
  the Review tab (the item list job, then the first item's job, as the view runs them), selecting an
  item (the item job, median and worst of ``--items``; a few images get real pixel files for it) and
  opening the Dashboards (the dashboard job, all studies and one study);
* ``--gui``: the same through the real widgets (offscreen Qt, 1366 x 768): from asking the built
  views to (re)load (what opening the project or a data change does) to the first item shown / every
  figure drawn, and from selecting a list row to its item shown.

Run: ``python -m bench.export [--participants 1000] [--trials 100] [--images 2000] [--elements 5]
[--repeat 3] [--items 5] [--project DIR] [--gui]`` (``--project`` keeps / reuses the built study).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIVE = ["trials", "guesses", "cue_boxes", "model_predictions", "elements"]
RAW = ("trials", "guesses", "cue_boxes", "predictions", "elements")


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def raw_seconds(db_path: Path, out: Path) -> float:
    """The anchor: pandas reads each of the five tables whole and writes it as CSV."""
    import sqlite3

    import pandas as pd

    t0 = time.perf_counter()
    conn = sqlite3.connect(str(db_path))
    for table in RAW:
        pd.read_sql_query(f"SELECT * FROM {table}", conn).to_csv(out / f"raw_{table}.csv", index=False)  # noqa: S608
    conn.close()
    return time.perf_counter() - t0


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the export's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _with_pixels(root: Path, n: int) -> list:
    """Give the first ``n`` answered images real pixel files (the Review reads them); their refs."""
    import numpy as np
    from PIL import Image

    from geoquiz.project import Project
    from geoquiz.study.review_data import ItemRef

    rng = np.random.default_rng(0)
    with Project.open(root) as project:
        rows = project.db.execute(
            "SELECT DISTINCT i.id, i.key, i.width, i.height FROM trials t JOIN images i ON i.id = t.image_id "
            "WHERE t.kind = 'main' AND i.width IS NOT NULL ORDER BY i.key LIMIT ?",
            [n],
        ).fetchall()
        for image_id, key, width, height in rows:
            path = root / "pixels" / f"{key}.png"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
            project.db.execute("UPDATE images SET path = ? WHERE id = ?", [str(path), image_id])
    return [ItemRef("image", int(r[0])) for r in rows]


def _read_side(db_path: str, refs: list, repeat: int) -> dict[str, float]:
    from geoquiz.study.review_data import load_answers
    from geoquiz.study.snapshot import read_snapshot
    from ui.views.dashboard_view import load_job
    from ui.views.review_view import items_job, load_item_job

    out: dict[str, float] = {}
    with read_snapshot(db_path) as conn:
        out["load_answers"], _ = _timed(load_answers, conn)
    opens, firsts, dash, dash_one = [], [], [], []
    for _ in range(repeat):
        t, items = _timed(items_job, db_path, None)
        first = next(s.ref for s in items if s.ref in refs) if refs else items[0].ref
        t_first, _ = _timed(load_item_job, db_path, first, "m", None, "gradcam", "default")
        opens.append(t + t_first)
        firsts.append(t)
        dash.append(_timed(load_job, db_path, "m", None)[0])
        dash_one.append(_timed(load_job, db_path, "m", "big")[0])
    selects = sorted(_timed(load_item_job, db_path, ref, "m", None, "gradcam", "default")[0] for ref in refs)
    out.update(
        review_list=min(firsts), review_open=min(opens), dashboards=min(dash), dashboards_one=min(dash_one)
    )
    if selects:
        out.update(select_median=selects[len(selects) // 2], select_worst=selects[-1])
    return out


def _gui(root: Path, refs: list) -> dict[str, float]:
    """Open the real Review and Dashboards views (offscreen) and time them until they show data."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from geoquiz.project import Project
    from ui.context import AppContext
    from ui.views.dashboard_view import DashboardView
    from ui.views.review_view import NO_MODEL, ReviewView
    from ui.workers import wait_all

    app = QApplication.instance() or QApplication([])

    def until(done, timeout: float = 60.0) -> float:
        t0 = time.perf_counter()
        while not done():
            app.processEvents()
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("the view did not show its data")
            time.sleep(0.001)
        return time.perf_counter() - t0

    out: dict[str, float] = {}
    with Project.open(root) as project:
        ctx = AppContext(project)
        review, dashboards = ReviewView(ctx), DashboardView(ctx)
        for view in (review, dashboards):
            view.resize(1366, 768)
            view.show()
        until(lambda: review.bundle is not None and dashboards.data is not None)  # the views' first load
        # no model in the Review: the bench's model has no checkpoint, so the explanation job (which
        # starts after the item is shown, for the heatmaps) would only fail; the item job still reads
        # the prediction and agreement rows when a model is chosen (timed above)
        review.model_combo.setCurrentText(NO_MODEL)
        wait_all()
        review.bundle, dashboards.data = None, None
        t0 = time.perf_counter()
        review.refresh_items()
        until(lambda: review.bundle is not None)
        out["gui_review_open"] = time.perf_counter() - t0
        rows = {review.items.item(i).data(Qt.UserRole): i for i in range(review.items.count())}
        times = []
        for ref in refs[1:]:
            t0 = time.perf_counter()
            review.items.setCurrentRow(rows[ref])
            until(lambda r=ref: review.bundle.ref == r)
            times.append(time.perf_counter() - t0)
        if times:
            out["gui_review_select"] = sorted(times)[len(times) // 2]
        t0 = time.perf_counter()
        dashboards.reload()
        until(lambda: dashboards.data is not None)
        out["gui_dashboards_open"] = time.perf_counter() - t0
        wait_all()
        review.close()
        dashboards.close()
    return out


def _build(root: Path, args: argparse.Namespace) -> None:
    cmd = [sys.executable, "-m", "bench._study_data", str(root), "--participants", str(args.participants)]
    cmd += ["--trials", str(args.trials), "--images", str(args.images), "--elements", str(args.elements)]
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--elements", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=5, help="items whose selection is timed")
    parser.add_argument("--project", type=Path, default=None, help="build here (or reuse a study built here)")
    parser.add_argument("--gui", action="store_true", help="also time the real Review and Dashboards views")
    args = parser.parse_args(argv)
    from geoquiz.project import Project
    from geoquiz.study.export import export_all

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = args.project or tmp / "proj"
        t0 = time.perf_counter()
        if not (root / "geoquiz.sqlite").exists():
            _build(root, args)
        n = args.participants * args.trials
        print(
            f"study: {n:,} main trials, {3 * n:,} guesses, {2 * n:,} cue boxes, {args.images:,} images, "
            f"{args.images * args.elements:,} elements (+ the fixed extras); ready in {time.perf_counter() - t0:.1f} s"
        )
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine?)")
        with Project.open(root) as project:
            first, files = _timed(export_all, project, tmp / "first")
            peak = _peak_mb()
            size = sum(p.stat().st_size for p in files) / 1e6
            children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
            raws, fives, ones, alls, cpu = [], [], [], [], []
            for r in range(args.repeat):
                (tmp / f"raw{r}").mkdir()
                c0 = _cpu()
                raws.append(raw_seconds(project.db_path, tmp / f"raw{r}"))
                c1 = _cpu()
                fives.append(_timed(export_all, project, tmp / f"five{r}", what=FIVE)[0])
                cpu.append((_cpu() - c1) / (c1 - c0))
                ones.append(_timed(export_all, project, tmp / f"one{r}", what=FIVE, workers=1)[0])
                alls.append(_timed(export_all, project, tmp / f"all{r}")[0])
                for d in (f"raw{r}", f"five{r}", f"one{r}", f"all{r}"):
                    shutil.rmtree(tmp / d)
        refs = _with_pixels(root, args.items)
        reads = _read_side(str(root / "geoquiz.sqlite"), refs, args.repeat)
        gui = _gui(root, refs) if args.gui else {}
    raw = min(raws)
    paired = sorted(f / r for f, r in zip(fives, raws))  # each round's export next to its own anchor
    print(
        f"\nexport_all of the 5 tables / raw anchor, round by round: {', '.join(f'{x:.2f}' for x in paired)} "
        f"(median {paired[len(paired) // 2]:.2f}x; target ≤ 1.3x)"
    )
    print(
        "the same in CPU seconds (this process and its export workers; the anchor uses one process): "
        f"{', '.join(f'{x:.2f}' for x in sorted(cpu))}"
    )
    print(f"\n| step | seconds | vs raw anchor ({raw:.2f} s) | target |")
    print("|---|---|---|---|")
    rows = [
        ("raw anchor: pandas read_sql_query + to_csv, 5 tables", raw, "—"),
        ("export_all, the same 5 tables", min(fives), "≤ 1.3x"),
        ("export_all, the same 5 tables, in one process (workers=1)", min(ones), "—"),
        (f"export_all, all {len(files)} files ({size:.0f} MB incl. COCO)", min(alls), "≤ 5 s"),
        ("export_all, all files, first run", first, "—"),
        ("review_data.load_answers, every trial (compute_agreement's read)", reads["load_answers"], "—"),
        ("Review: item list job", reads["review_list"], "—"),
        ("Review: open (item list + first item jobs)", reads["review_open"], "≤ 1 s"),
        ("Review: select an item (median)", reads.get("select_median", float("nan")), "≤ 0.1 s"),
        ("Review: select an item (worst)", reads.get("select_worst", float("nan")), "≤ 0.1 s"),
        ("Dashboards: open, all studies", reads["dashboards"], "≤ 1 s"),
        ("Dashboards: open, one study", reads["dashboards_one"], "≤ 1 s"),
        ("GUI Review: reload → list filled, first item shown", gui.get("gui_review_open"), "≤ 1 s"),
        ("GUI Review: row selected → item shown (median)", gui.get("gui_review_select"), "≤ 0.1 s"),
        ("GUI Dashboards: reload → every figure drawn", gui.get("gui_dashboards_open"), "≤ 1 s"),
    ]
    for name, seconds, target in rows:
        if seconds is not None:
            print(f"| {name} | {seconds:.3f} | {seconds / raw:.2f}x | {target} |")
    print(
        f"\npeak resident memory after export_all of everything: {peak:.0f} MB in this process, "
        f"{children_mb:.0f} MB in its largest child (an export worker, or the study's builder when this "
        "run built it) (target < 1 GB)"
    )
    print(f"export throughput: {n / min(alls):,.0f} trials/s; load average at end: {os.getloadavg()[0]:.1f}")
    print(f"best of {args.repeat}; each ratio divides by the raw anchor measured in this same run")


if __name__ == "__main__":
    main()
