"""Bring your own model: turn weights trained elsewhere into a GeoQuiz checkpoint and register it.

:func:`import_weights` reads a native weights file (or a transformers folder) through the family
adapter of ``arch`` (:mod:`geoquiz.models.families`) and writes a self-contained GeoQuiz checkpoint:
the :class:`~geoquiz.models.spec.ModelSpec` (classes, input size, normalisation, family options), the
network's weights and, for CLIP, the prompts' text embeddings as the head. Everything downstream
(predict, evaluate, explain, the Ray engine's workers) then reads that one file like any other.

:func:`import_model` does that into ``<project>/models/<name>.pt`` and registers it: the file is
written to a temporary name, checked, and renamed only once everything has succeeded, so a failure
leaves the project (and any model of the same name) as it was.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geoquiz.errors import CheckpointError, GeoQuizError

if TYPE_CHECKING:
    from geoquiz.models.spec import ModelSpec
    from geoquiz.project import Project


def import_weights(
    source: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    arch: str,
    classes: Sequence[str],
    integration: str = "single",
    pooling: str = "mean",
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    options: dict[str, Any] | None = None,
) -> ModelSpec:
    """Write a GeoQuiz checkpoint at ``out_path`` for the ``arch`` model in ``source``; its spec.

    ``classes``: the class names in the order of the classifier's outputs (for CLIP: the labels put
    into the prompt template). ``input_size`` / ``mean`` / ``std`` default to the architecture's
    (timm's pretrained config, torchvision's weights metadata, CLIP's preprocessor config).
    ``options``: family settings (constructor keywords, ``prompt``, ``backend``, ``model``,
    ``target_layer``, ``reshape``; see the family modules).
    """
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.families import family_for

    source = Path(source).expanduser()
    if not source.exists():
        raise CheckpointError(f"weights file {source} does not exist")
    family = family_for(arch)
    family.require()
    spec = family.make_spec(
        arch,
        tuple(str(c) for c in classes),
        integration=integration,
        pooling=pooling,
        input_size=input_size,
        mean=tuple(mean) if mean else None,
        std=tuple(std) if std else None,
        options=options,
        source=source,
    )
    net, origin = family.from_native(source, spec)
    save_checkpoint(out_path, net, spec, source=origin)
    return spec


def import_model(
    project: Project,
    name: str,
    source: str | os.PathLike,
    *,
    arch: str,
    dataset: str | None = None,
    classes: Sequence[str] | None = None,
    replace: bool = False,
    **kwargs: Any,
) -> int:
    """Import ``source`` as model ``name`` of ``project`` (see :func:`import_weights`); its row id.

    ``classes`` default to ``dataset``'s classes in their stored order; with ``dataset`` the model's
    classes are also checked against it. ``kwargs`` go to :func:`import_weights`.
    """
    from geoquiz.models.checkpoint import check_classes
    from geoquiz.models.jobs import checkpoint_path
    from geoquiz.models.store import dataset_row, list_models, register_model

    name = name.strip()
    if not name:
        raise GeoQuizError("a model needs a non-empty name")
    if not replace and any(m.name == name for m in list_models(project.db)):
        raise GeoQuizError(
            f"a model named {name!r} already exists in this project (choose another name or replace it)"
        )
    if classes is None:
        if dataset is None:
            raise GeoQuizError(
                "give the classes of the model (in output order) or a dataset to take them from"
            )
        classes = dataset_row(project.db, dataset)[1]
    out = checkpoint_path(project, name)
    tmp = out.with_name(out.stem + ".importing.pt")
    try:
        spec = import_weights(source, tmp, arch=arch, classes=classes, **kwargs)
        if dataset is not None:
            check_classes(source, spec, dataset_row(project.db, dataset)[1])
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return register_model(project, name, out, dataset=dataset, replace=replace)
