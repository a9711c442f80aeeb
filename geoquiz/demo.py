"""The demo project: GeoScenes datasets, the example studies and the demo model, built once.

:func:`ensure_demo_project` builds (or finishes building) the project in stages, each idempotent,
ordered so that the project is *browsable* within seconds and the rest follows in the background:

1. ``preview``: the first :data:`FIRST_BATCH` images per country of ``geoscenes`` (with their final
   splits), stored as an incomplete dataset (:func:`geoquiz.data.geoscenes.dataset.import_geoscenes`
   with ``first=``). ``ensure_demo_project(until="browsable")`` stops here: the app opens the
   project on it (about 2-3 s of rendering on 2 cores) and builds the rest in a worker;
2. ``datasets``: the rest of ``geoscenes`` (:data:`N_PER_CLASS` per country, splits 70/15/15),
   appended in resumable chunks by :data:`RENDER_WORKERS` processes;
3. ``studies``: the example studies ``studies/*.toml`` whose datasets exist by now;
4. ``model``: the demo model (:func:`geoquiz.models.demo.ensure_demo_model`, resumable per epoch);
5. ``geoscenes-4view`` (:data:`N_LOCATIONS` locations per country), in chunks too, then the studies
   again (those needing the 4-view dataset).

Images are rendered at :data:`IMAGE_SIZE` px (legible sign text for people; the renderer draws
every size from the scene's geometry, text and line widths included); models read them resized to
their own input size. A dataset with another recipe (size, count, seed) is rebuilt.

A marker file (:data:`MARKER`) is written last, atomically; :func:`demo_is_ready` only reads it, so
it is instant and never imports torch. An interrupted or cancelled build leaves no marker, and the
next call resumes from the first unfinished stage (within a stage: the first missing chunk or
epoch). Progress of all stages goes to one reporter (0..:data:`PROGRESS_TOTAL`); each message starts
with its stage's label (:data:`STAGE_LABELS`), and cancelling the reporter stops the build at the
next step.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from geoquiz.paths import demo_project_dir, studies_dir
from geoquiz.progress import Reporter, step

#: Bump when the recipe changes: older demo projects are then completed/rebuilt on next launch.
DEMO_VERSION = 2
MARKER = ".demo-ready.json"
SEED = 0
#: Images per country in ``geoscenes``: enough for a small ResNet to pass 90 % held-out top-1.
N_PER_CLASS = 300
#: Locations per country in ``geoscenes-4view``.
N_LOCATIONS = 40
DATASETS: tuple[tuple[str, bool, int], ...] = (
    ("geoscenes", False, N_PER_CLASS),
    ("geoscenes-4view", True, N_LOCATIONS),
)
#: Side of the rendered images in pixels (people read signs at this size; models resize).
IMAGE_SIZE = 448
#: Images (4-view: locations) per country rendered before the project opens.
FIRST_BATCH = 6
#: Units rendered and stored per transaction while completing a dataset.
CHUNK = 60
#: Processes rendering the bulk of the images.
RENDER_WORKERS = max(1, min(2, os.cpu_count() or 1))
PROGRESS_TOTAL = 1000
#: stage -> the label its progress messages start with
STAGE_LABELS: dict[str, str] = {
    "preview": "First GeoScenes images",
    "datasets": "GeoScenes images",
    "studies": "Example studies",
    "model": "Demo model",
    "4view": "GeoScenes 4-view locations",
}
#: stage -> (start, span) on the 0..PROGRESS_TOTAL scale, roughly proportional to its time
STAGE_SPANS: dict[str, tuple[float, float]] = {
    "preview": (0.0, 10.0),
    "datasets": (10.0, 330.0),
    "studies": (340.0, 10.0),
    "model": (350.0, 430.0),
    "4view": (780.0, 200.0),
    "studies-again": (980.0, 20.0),
}
_SPANS_NO_MODEL: dict[str, tuple[float, float]] = {
    "preview": (0.0, 10.0),
    "datasets": (10.0, 570.0),
    "studies": (580.0, 10.0),
    "4view": (590.0, 390.0),
    "studies-again": (980.0, 20.0),
}


def stage_of(message: str) -> str | None:
    """The stage (a key of :data:`STAGE_LABELS`) a progress message of the build belongs to."""
    for key, label in STAGE_LABELS.items():
        if message.startswith(label):
            return key
    return None


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _model_available() -> bool:
    return _has_module("geoquiz.models.demo")


def _studies_available() -> bool:
    return _has_module("geoquiz.study.definition")


def read_marker(root: str | Path) -> dict | None:
    """The marker's content, or None when the demo has not been completely built."""
    path = Path(root).expanduser() / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def demo_is_ready(root: str | Path | None = None) -> bool:
    """True when the demo project at ``root`` (default: the demo folder) is completely built.

    Reads the marker file only: instant, no database, no torch.
    """
    root = Path(root or demo_project_dir()).expanduser()
    marker = read_marker(root)
    if marker is None or marker.get("version") != DEMO_VERSION or not (root / "geoquiz.sqlite").exists():
        return False
    stages = set(marker.get("stages", ()))
    needed = (
        {"datasets"}
        | ({"studies"} if _studies_available() else set())
        | ({"model"} if _model_available() else set())
    )
    return needed <= stages


class _Stage:
    """Maps one stage's own ``(done, total)`` onto the overall 0..PROGRESS_TOTAL scale."""

    def __init__(self, reporter: Reporter | None, start: float, span: float, label: str) -> None:
        self.reporter, self.start, self.span, self.label = reporter, start, span, label

    def step(self, done: int, total: int, message: str = "") -> None:
        frac = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
        text = f"{self.label}: {message}" if message else self.label
        step(self.reporter, int(self.start + self.span * frac), PROGRESS_TOTAL, text)

    def sub(self) -> Reporter | None:
        """A reporter for a library call inside this stage (shares the cancel token)."""
        if self.reporter is None:
            return None
        return Reporter(self.step, self.reporter.token)


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """Keep two processes (the app and ``geoquiz demo``) from building the same demo at once."""
    root.mkdir(parents=True, exist_ok=True)
    fh = open(root / ".demo-build.lock", "w")
    try:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            pass
        yield
    finally:
        fh.close()


def _recipe(n: int, four_view: bool) -> dict:
    return {
        "generator": "geoscenes",
        "n_per_class": n,
        "seed": SEED,
        "four_view": four_view,
        "size": IMAGE_SIZE,
    }


def _dataset_state(project: Any, name: str, four_view: bool, n: int) -> str:
    """``missing`` (absent, another recipe, or files gone), ``partial`` (started, not complete) or ``done``."""
    from geoquiz.data.dataset import get_dataset, load_items
    from geoquiz.data.geoscenes import COUNTRIES
    from geoquiz.errors import GeoQuizError

    try:
        info = get_dataset(project.db, name)
    except GeoQuizError:
        return "missing"
    params = info.params or {}
    if any(params.get(k) != v for k, v in _recipe(n, four_view).items()) or tuple(info.classes) != tuple(
        COUNTRIES
    ):
        return "missing"
    if not all(os.path.exists(it.path) for it in load_items(project.db, name)):
        return "missing"
    return "partial" if params.get("complete") is False else "done"


def _build_dataset(project: Any, name: str, four_view: bool, n: int, stage: _Stage, first_only: bool) -> None:
    """Start (first batch) and/or complete one GeoScenes dataset of the recipe."""
    from geoquiz.data.geoscenes.dataset import extend_geoscenes, import_geoscenes

    state = _dataset_state(project, name, four_view, n)
    if state == "missing" and _has_trials(project, name):
        # an older recipe's dataset that quiz sessions used: it stays (replacing it would orphan them)
        stage.step(1, 1, "kept: quiz sessions use it")
        return
    if state == "missing":
        import_geoscenes(
            project,
            name,
            n_per_class=n,
            four_view=four_view,
            seed=SEED,
            size=IMAGE_SIZE,
            replace=True,
            first=min(FIRST_BATCH, n) if first_only else 1,
            reporter=stage.sub(),
        )
    if not first_only:
        extend_geoscenes(project, name, chunk=CHUNK, workers=RENDER_WORKERS, reporter=stage.sub())
    stage.step(1, 1, "done")


def _has_trials(project: Any, name: str) -> bool:
    """Does any recorded quiz trial show an image (or location) of dataset ``name``?"""
    db = project.db
    row = db.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
    if row is None:
        return False
    n = db.execute(
        "SELECT (SELECT COUNT(*) FROM trials t JOIN images i ON t.image_id = i.id WHERE i.dataset_id = ?)"
        " + (SELECT COUNT(*) FROM trials t JOIN locations l ON t.location_id = l.id WHERE l.dataset_id = ?)",
        [row[0], row[0]],
    ).fetchone()[0]
    return bool(n)


def demo_is_browsable(root: str | Path | None = None) -> bool:
    """True when the demo project's ``geoscenes`` dataset has at least its first batch (reads the
    database; no torch)."""
    root = Path(root or demo_project_dir()).expanduser()
    if demo_is_ready(root):
        return True
    if not (root / "geoquiz.sqlite").exists():
        return False
    from geoquiz.project import Project

    name, four_view, n = DATASETS[0]
    try:
        with Project.open(root) as project:
            return _dataset_state(project, name, four_view, n) != "missing"
    except Exception:
        return False


def ensure_demo_project(
    root: str | Path | None = None, *, reporter: Reporter | None = None, until: str = "ready"
) -> Path:
    """Build the demo project at ``root`` (default: the demo folder) unless it is ready; return its path.

    ``until="browsable"`` stops after the first batch of images (stage ``preview``): what the app
    needs to open the project. Idempotent and resumable (see the module docstring). Raises
    :class:`geoquiz.progress.Cancelled` when cancelled through ``reporter`` and
    :class:`geoquiz.errors.GeoQuizError` subclasses on errors; either way no marker is written and
    finished stages (and chunks, and epochs) are kept.
    """
    from geoquiz.data.geoscenes import COUNTRIES
    from geoquiz.project import Project

    if until not in ("browsable", "ready"):
        raise ValueError(f"until must be 'browsable' or 'ready', got {until!r}")
    root = Path(root or demo_project_dir()).expanduser().resolve()
    if demo_is_ready(root):
        step(reporter, PROGRESS_TOTAL, PROGRESS_TOTAL, "the demo project is ready")
        return root
    with _build_lock(root):
        if demo_is_ready(root):  # another process finished it while we waited
            return root
        has_model = _model_available()
        spans = STAGE_SPANS if has_model else _SPANS_NO_MODEL
        if until == "browsable":  # the first batch is all there is to do: it gets the whole scale
            spans = {"preview": (0.0, float(PROGRESS_TOTAL))}

        def stage(key: str, label: str) -> _Stage:
            return _Stage(reporter, *spans[key], label)

        (name, four_view, n), (name4, four_view4, n4) = DATASETS
        summary = {
            nm: {"n_per_class": k, "four_view": fv, "classes": list(COUNTRIES), "size": IMAGE_SIZE}
            for nm, fv, k in DATASETS
        }
        with Project.open(root, create=True) as project:
            _build_dataset(project, name, four_view, n, stage("preview", STAGE_LABELS["preview"]), True)
            if until == "browsable":
                return root
            _build_dataset(project, name, four_view, n, stage("datasets", STAGE_LABELS["datasets"]), False)
            stages = ["datasets"]
            studies: dict[str, str] = {}
            if _studies_available():
                studies = _install_studies(project, stage("studies", STAGE_LABELS["studies"]))
            model_name = None
            if has_model:
                from geoquiz.models.demo import ensure_demo_model

                model_name = ensure_demo_model(project, reporter=stage("model", STAGE_LABELS["model"]).sub())
                stages.append("model")
            _build_dataset(project, name4, four_view4, n4, stage("4view", STAGE_LABELS["4view"]), False)
            if _studies_available():
                studies = _install_studies(project, stage("studies-again", STAGE_LABELS["studies"]))
                stages.append("studies")
        marker = {
            "version": DEMO_VERSION,
            "stages": stages,
            "datasets": summary,
            "studies": studies,
            "model": model_name,
        }
        _write_json_atomic(root / MARKER, marker)
    step(reporter, PROGRESS_TOTAL, PROGRESS_TOTAL, "the demo project is ready")
    return root


def _install_studies(project: Any, stage: _Stage) -> dict[str, str]:
    """Install every ``studies/*.toml``; returns {file name: 'installed' or the problem}.

    A study file that does not validate does not stop the demo (the app still opens); its problem is
    recorded in the marker and shown by ``geoquiz demo``.
    """
    from geoquiz.errors import GeoQuizError
    from geoquiz.study.store import install_study

    files = sorted(studies_dir().glob("*.toml"))
    result = {}
    for i, path in enumerate(files):
        stage.step(i, len(files), path.name)
        try:
            install_study(project, path)
            result[path.name] = "installed"
        except GeoQuizError as exc:
            result[path.name] = str(exc)
    stage.step(1, 1, "done")
    return result


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
