"""Project-level model jobs: training (read a dataset from the project, train, save under ``models/``,
register) and :class:`PredictJob` (class probabilities of one sample, runnable on any engine).

``train_model`` is what the CLI (``geoquiz train``) and the app's training dialog call. The best
checkpoint is kept in ``<project>/models/<name>.training.pt`` while the run goes on and moved to
``<project>/models/<name>.pt`` when it finishes, and only then is the model registered. A cancelled
or failed run leaves ``<name>.training.pt`` and ``<name>.training.resume.pt``, so calling again with
``resume=True`` continues it; an existing model of the same name is untouched until the new run ends.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geoquiz.data.dataset import read_sample
from geoquiz.engine.base import Job
from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.hashing import file_hash
from geoquiz.models.training import EpochCallback, TrainConfig, TrainResult, hold_out, resume_path, train
from geoquiz.progress import Reporter
from geoquiz.types import ImageItem, Location

if TYPE_CHECKING:
    from geoquiz.project import Project


def checkpoint_path(project: Project, name: str) -> Path:
    """``<project>/models/<name>.pt`` with the name made file-system safe."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.") or "model"
    return project.root / "models" / f"{safe}.pt"


def training_path(project: Project, name: str) -> Path:
    """Where a run for model ``name`` keeps its best checkpoint until it finishes (``<name>.training.pt``)."""
    out = checkpoint_path(project, name)
    return out.with_name(out.stem + ".training.pt")


def load_samples(project: Project, dataset: str, split: str, integration: str) -> list:
    """ImageItems (single) or Locations (early/medium) of one split of a project dataset."""
    from geoquiz.data.dataset import get_dataset, load_items, load_locations

    info = get_dataset(project.db, dataset)
    if integration == "single":
        return load_items(project.db, dataset, split=split)
    if info.kind != "4view":
        raise GeoQuizError(
            f"{integration} integration needs a 4-view dataset, but {dataset!r} is single-view"
        )
    return load_locations(project.db, dataset, split=split)


def train_model(
    project: Project,
    name: str,
    dataset: str,
    config: TrainConfig = TrainConfig(),
    *,
    reporter: Reporter | None = None,
    on_epoch: EpochCallback | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainResult:
    """Train model ``name`` on ``dataset`` with ``config`` and register it in the project.

    When the dataset has no ``config.val_split`` samples, ``config.val_fraction`` of the training
    samples of each class is held out for validation (seeded). Raises :class:`GeoQuizError` before
    any work if ``name`` exists (unless ``overwrite``) or a split is empty.
    """
    from geoquiz.data.dataset import get_dataset
    from geoquiz.models.store import list_models, register_model

    if not name.strip():
        raise GeoQuizError("the model needs a name")
    if not overwrite and any(m.name == name for m in list_models(project.db)):
        raise GeoQuizError(f"a model named {name!r} already exists; choose another name or overwrite it")
    info = get_dataset(project.db, dataset)
    out = checkpoint_path(project, name)
    train_s = load_samples(project, dataset, config.train_split, config.integration)
    val_s = load_samples(project, dataset, config.val_split, config.integration)
    val_source = config.val_split
    if not train_s:
        raise GeoQuizError(f"dataset {dataset!r} has no samples in split {config.train_split!r}")
    if not val_s:
        train_s, val_s = hold_out(train_s, config.val_fraction, config.seed)
        val_source = f"{config.val_fraction:.0%} of {config.train_split} held out"
    work = training_path(project, name)
    if not resume:
        resume_path(work).unlink(missing_ok=True)
    result = train(
        train_s,
        val_s,
        info.classes,
        config,
        work,
        reporter=reporter,
        on_epoch=on_epoch,
        resume=resume,
        extra_meta={"dataset": dataset, "val_source": val_source},
    )
    work.replace(out)
    result.checkpoint = out
    register_model(project, name, out, dataset=dataset, replace=True)
    return result


class PredictJob(Job):
    """The model's class probabilities for one sample (float32 ``(N,)``, the model's class order).

    Each sample goes through the network alone, so its probabilities never depend on which samples
    share its batch (batched kernels may differ in the last bits).
    """

    name = "predict"
    worker_attrs = ("loaded",)

    def __init__(self, *, checkpoint: str, model_hash: str, device: str = "auto") -> None:
        self.checkpoint = str(checkpoint)
        self.model_hash = model_hash
        self.device = device
        self.loaded: Any = None

    def setup(self) -> None:
        if getattr(self, "loaded", None) is None:
            from geoquiz.models.checkpoint import load_checkpoint

            actual = file_hash(self.checkpoint)
            if actual != self.model_hash:
                raise GeoQuizError(
                    f"the checkpoint {self.checkpoint} differs from the driver's copy "
                    f"(content hash {actual[:12]} != {self.model_hash[:12]}); give every worker the same file"
                )
            self.loaded = load_checkpoint(self.checkpoint, device=self.device)

    def process(self, sample: ImageItem | Location) -> np.ndarray:
        return np.asarray(self.loaded.predict_arrays([read_sample(sample)], 1)[0], dtype=np.float32)


def checkpoint_of(project: Any, model_name: str) -> tuple[str, str]:
    """``(absolute checkpoint path, content hash)`` of a project model."""
    from geoquiz.models.store import get_model

    path = get_model(project.db, model_name).resolve(project.root)
    if not os.path.isfile(path):
        raise CheckpointError(f"the checkpoint of model {model_name!r} is missing: {path}")
    return str(path), file_hash(path)
