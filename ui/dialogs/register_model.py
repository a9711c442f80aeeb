"""Register a checkpoint as a project model, and remove one: the Model tab's dialogs and their job."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from geoquiz.models.store import ModelInfo
from ui.workers import project_job

NO_CHECK = "(do not check classes)"


@project_job
def register_job(project, name: str, path: str, dataset: str | None, *, reporter=None) -> str:
    """Worker job: validate a checkpoint file (classes checked against ``dataset``) and register it."""
    from geoquiz.models.store import register_model

    register_model(project, name, path, dataset=dataset)
    return name


def ask_checkpoint(
    parent: QWidget, start_dir: str, datasets: list[str]
) -> tuple[str, str, str | None] | None:
    """Ask for a checkpoint file, a model name and the dataset to check its classes against.
    ``(path, name, dataset or None)``, or None when the researcher cancels."""
    path, _ = QFileDialog.getOpenFileName(
        parent, "GeoQuiz checkpoint", start_dir, "Checkpoints (*.pt *.pth);;All files (*)"
    )
    if not path:
        return None
    name, ok = QInputDialog.getText(parent, "Register checkpoint", "Model name:", text=Path(path).stem)
    if not ok or not name.strip():
        return None
    choices = [NO_CHECK, *datasets]
    dataset, ok = QInputDialog.getItem(
        parent,
        "Register checkpoint",
        "Check its classes against dataset:",
        choices,
        1 if datasets else 0,
        False,
    )
    if not ok:
        return None
    return path, name.strip(), None if dataset == NO_CHECK else dataset


def confirm_remove(parent: QWidget, info: ModelInfo) -> bool:
    answer = QMessageBox.question(
        parent,
        "Remove model",
        f"Remove model “{info.name}” from the project?\n\nIts stored predictions, evaluations and cached "
        f"explanations are removed too; the checkpoint file {info.path} is kept.",
    )
    return answer == QMessageBox.Yes
