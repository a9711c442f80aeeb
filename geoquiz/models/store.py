"""The project's model registry: rows of the ``models`` table pointing at checkpoint files.

A checkpoint inside the project folder is stored by its path relative to the project root (so a
project can be moved); one outside is stored absolute. :func:`load_project_model` keeps loaded
models in a per-process cache keyed by file, modification time and device, so views, the CLI and
workers share one copy.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geoquiz.db import now, transaction
from geoquiz.errors import GeoQuizError

if TYPE_CHECKING:
    import sqlite_utils

    from geoquiz.models.predictor import LoadedModel
    from geoquiz.project import Project


@dataclass(frozen=True)
class ModelInfo:
    """One registered model. ``path`` is as stored (relative to the project root when inside it)."""

    id: int
    name: str
    path: str
    arch: str
    integration: str
    classes: tuple[str, ...]
    input_size: int
    dataset: str | None
    created_at: str
    metadata: dict = field(default_factory=dict)

    def resolve(self, root: str | os.PathLike) -> Path:
        """Absolute checkpoint path for the project at ``root``."""
        p = Path(self.path)
        return p if p.is_absolute() else Path(root) / p


_cache: dict[tuple, LoadedModel] = {}
_lock = threading.Lock()


def dataset_row(db: sqlite_utils.Database, name: str) -> tuple[int, list[str]]:
    """``(dataset id, class names in index order)``; :class:`GeoQuizError` if there is no such dataset."""
    row = db.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
    if row is None:
        known = [r[0] for r in db.execute("SELECT name FROM datasets ORDER BY name").fetchall()]
        raise GeoQuizError(
            f"no dataset named {name!r} in this project; known: {', '.join(known) or '(none)'}"
        )
    classes = [
        r[0] for r in db.execute("SELECT name FROM classes WHERE dataset_id = ? ORDER BY idx", [row[0]])
    ]
    return int(row[0]), classes


def _stored_path(root: Path, path: Path) -> str:
    path = path.resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def register_model(
    project: Project,
    name: str,
    checkpoint_path: str | os.PathLike,
    *,
    dataset: str | None,
    replace: bool = False,
) -> int:
    """Add a checkpoint to the project as model ``name``; returns its row id.

    The checkpoint is validated: its weights are loaded strictly into the architecture it declares
    (:func:`~geoquiz.models.checkpoint.build_with_weights`: an empty, foreign or wrongly shaped
    state_dict is refused, naming the keys) and, with ``dataset``, its classes are checked against the
    dataset's. Nothing is written when it is refused.
    An existing model of that name raises :class:`GeoQuizError` unless ``replace=True``, which
    deletes the old row (and, by cascade, its stale predictions, evaluations and cached maps).
    """
    from geoquiz.models.checkpoint import build_with_weights, check_classes, read_checkpoint

    name = name.strip()
    if not name:
        raise GeoQuizError("a model needs a non-empty name")
    path = Path(checkpoint_path)
    ckpt = read_checkpoint(path)
    spec = ckpt["spec"]
    build_with_weights(path, spec, ckpt["state_dict"])
    db = project.db
    dataset_id = None
    if dataset is not None:
        dataset_id, classes = dataset_row(db, dataset)
        check_classes(path, spec, classes)
    meta = {"spec": spec.to_dict(), "training": ckpt["training"], "metrics": ckpt["metrics"]}
    if ckpt.get("source"):
        meta["source"] = ckpt["source"]
    row = {
        "name": name,
        "path": _stored_path(project.root, path),
        "arch": spec.arch,
        "integration": spec.integration,
        "classes_json": json.dumps(list(spec.classes)),
        "input_size": spec.input_size,
        "dataset_id": dataset_id,
        "metadata_json": json.dumps(meta),
        "created_at": now(),
    }
    from geoquiz.db import insert

    with transaction(db):
        old = db.execute("SELECT id FROM models WHERE name = ?", [name]).fetchone()
        if old is not None:
            if not replace:
                raise GeoQuizError(
                    f"a model named {name!r} already exists in this project (choose another name or replace it)"
                )
            db.execute("DELETE FROM models WHERE id = ?", [old[0]])
        return insert(db, "models", row)


def _info(row: Any) -> ModelInfo:
    return ModelInfo(
        id=int(row[0]),
        name=row[1],
        path=row[2],
        arch=row[3],
        integration=row[4],
        classes=tuple(json.loads(row[5])),
        input_size=int(row[6]),
        dataset=row[7],
        created_at=row[8],
        metadata=json.loads(row[9] or "{}"),
    )


_SELECT = (
    "SELECT m.id, m.name, m.path, m.arch, m.integration, m.classes_json, m.input_size, d.name, m.created_at, "
    "m.metadata_json FROM models m LEFT JOIN datasets d ON d.id = m.dataset_id"
)


def list_models(db: sqlite_utils.Database) -> list[ModelInfo]:
    """Every registered model, by name."""
    return [_info(r) for r in db.execute(_SELECT + " ORDER BY m.name").fetchall()]


def get_model(db: sqlite_utils.Database, name: str) -> ModelInfo:
    """The model called ``name`` (:class:`GeoQuizError` naming the known ones if there is none)."""
    row = db.execute(_SELECT + " WHERE m.name = ?", [name]).fetchone()
    if row is None:
        known = [m.name for m in list_models(db)]
        raise GeoQuizError(f"no model named {name!r} in this project; known: {', '.join(known) or '(none)'}")
    return _info(row)


def model_id(db: sqlite_utils.Database, name: str) -> int:
    """Row id of model ``name``."""
    return get_model(db, name).id


def delete_model(project: Project, name: str) -> None:
    """Remove model ``name`` from the project (its checkpoint file stays on disk)."""
    mid = model_id(project.db, name)
    with transaction(project.db):
        project.db.execute("DELETE FROM models WHERE id = ?", [mid])


def load_project_model(project: Project, name: str, device: str = "auto") -> LoadedModel:
    """The loaded model ``name`` (cached per process until its checkpoint file changes)."""
    from geoquiz.device import resolve_device
    from geoquiz.models.checkpoint import load_checkpoint

    info = get_model(project.db, name)
    path = info.resolve(project.root)
    dev = str(resolve_device(device))
    try:
        st = path.stat()
    except OSError:
        from geoquiz.errors import CheckpointError

        raise CheckpointError(f"the checkpoint of model {name!r} is missing: {path}") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, dev)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        loaded = load_checkpoint(path, device=dev)
        for old in [k for k in _cache if k[0] == key[0] and k[3] == dev]:
            del _cache[old]
        _cache[key] = loaded
        return loaded


def clear_model_cache() -> None:
    """Forget every cached loaded model (e.g. after retraining in place)."""
    with _lock:
        _cache.clear()
