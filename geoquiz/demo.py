"""The demo project: GeoScenes datasets, the example studies and the demo model, built once.

:func:`ensure_demo_project` builds (or finishes building) the project in stages, each idempotent:

1. datasets ``geoscenes`` (single view, :data:`N_PER_CLASS` images per country, splits 70/15/15)
   and ``geoscenes-4view`` (:data:`N_LOCATIONS` locations per country), each generated and stored
   atomically; a stage already done with the same recipe is kept;
2. the example studies ``studies/*.toml`` (via :func:`geoquiz.study.store.install_study`);
3. the demo model (via :func:`geoquiz.models.demo.ensure_demo_model`), when that module exists.

A marker file (:data:`MARKER`) is written last, atomically; :func:`demo_is_ready` only reads it, so
it is instant and never imports torch. An interrupted or cancelled build leaves no marker, and the
next call resumes from the first unfinished stage. Progress of all stages goes to one reporter
(0..:data:`PROGRESS_TOTAL`), and cancelling it stops the build at the next step.
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
DEMO_VERSION = 1
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
PROGRESS_TOTAL = 1000


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


def _dataset_done(project: Any, name: str, four_view: bool, n: int) -> bool:
    """Is dataset ``name`` stored with this recipe and are all its files there?"""
    from geoquiz.data.dataset import get_dataset, load_items
    from geoquiz.data.geoscenes import COUNTRIES
    from geoquiz.errors import GeoQuizError

    try:
        info = get_dataset(project.db, name)
    except GeoQuizError:
        return False
    params = info.params or {}
    recipe = {"generator": "geoscenes", "n_per_class": n, "seed": SEED, "four_view": four_view}
    if any(params.get(k) != v for k, v in recipe.items()) or tuple(info.classes) != tuple(COUNTRIES):
        return False
    return all(os.path.exists(it.path) for it in load_items(project.db, name))


def ensure_demo_project(root: str | Path | None = None, *, reporter: Reporter | None = None) -> Path:
    """Build the demo project at ``root`` (default: the demo folder) unless it is ready; return its path.

    Idempotent and resumable (see the module docstring). Raises :class:`geoquiz.progress.Cancelled`
    when cancelled through ``reporter`` and :class:`geoquiz.errors.GeoQuizError` subclasses on
    errors; either way no marker is written and finished stages are kept.
    """
    from geoquiz.data.geoscenes import COUNTRIES, import_geoscenes
    from geoquiz.project import Project

    root = Path(root or demo_project_dir()).expanduser().resolve()
    if demo_is_ready(root):
        step(reporter, PROGRESS_TOTAL, PROGRESS_TOTAL, "the demo project is ready")
        return root
    with _build_lock(root):
        if demo_is_ready(root):  # another process finished it while we waited
            return root
        has_model = _model_available()
        data_span = 450.0 if has_model else 950.0
        n_images = sum(n * (4 if fv else 1) for _, fv, n in DATASETS)
        done_images, summary = 0, {}
        with Project.open(root, create=True) as project:
            for name, four_view, n in DATASETS:
                span = data_span * n * (4 if four_view else 1) / n_images
                stage = _Stage(reporter, data_span * done_images / n_images, span, f"GeoScenes {name}")
                if not _dataset_done(project, name, four_view, n):
                    import_geoscenes(
                        project,
                        name,
                        n_per_class=n,
                        four_view=four_view,
                        seed=SEED,
                        replace=True,
                        reporter=stage.sub(),
                    )
                stage.step(1, 1, "done")
                done_images += n * (4 if four_view else 1)
                summary[name] = {"n_per_class": n, "four_view": four_view, "classes": list(COUNTRIES)}
            stages = ["datasets"]
            studies: dict[str, str] = {}
            if _studies_available():
                studies = _install_studies(project, _Stage(reporter, data_span, 30.0, "example studies"))
                stages.append("studies")
            model_name = None
            if has_model:
                from geoquiz.models.demo import ensure_demo_model

                stage = _Stage(reporter, data_span + 30.0, PROGRESS_TOTAL - data_span - 30.0, "demo model")
                model_name = ensure_demo_model(project, reporter=stage.sub())
                stages.append("model")
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
