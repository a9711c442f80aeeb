"""The ``[trials] ablation`` option of a study file: show each item with the model's evidence removed,
with matched random boxes removed, or intact (issue 13, "people need the model's evidence").

    [trials]
    count = 12
    ablation = { conditions = ["intact", "model", "random"], model = "geoscenes-demo",
                 method = "gradcampp", segmenter = "default", top_k = 3, fill = "blur", seed = 0 }

(``[trials.ablation]`` as its own table works too.) Fields:

``conditions``  which conditions to use, at least two of ``intact`` (the picture as it is),
                ``model`` (the model's ``top_k`` best elements removed) and ``random`` (random
                boxes of the same count, sizes and coverage removed); default all three.
``model``       the project's model whose elements are removed (required; checked at install).
``method``      attribution method of the elements (default ``gradcampp``).
``segmenter``   segmenter of the elements (default ``default``).
``top_k``       how many of the best-ranked elements are removed (1..20, default 3).
``fill``        how removed pixels are filled, as in the faithfulness tests (``blur`` default,
                ``mean``, ``black``, ``road``).
``seed``        seed of the random boxes (default 0).

What a participant sees, how conditions are counterbalanced and how the pictures are prepared is
in :mod:`geoquiz.study.ablation`. This module only reads and checks the option (pure, no database).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONDITIONS: tuple[str, ...] = ("intact", "model", "random")
MAX_TOP_K = 20
KEYS = {"conditions", "model", "method", "segmenter", "top_k", "fill", "seed"}


@dataclass(frozen=True)
class AblationSpec:
    """A validated ``[trials] ablation`` option (see the module doc). ``conditions`` keep the
    canonical order (intact, model, random) whatever order the file lists them in."""

    model: str
    conditions: tuple[str, ...] = CONDITIONS
    method: str = "gradcampp"
    segmenter: str = "default"
    top_k: int = 3
    fill: str = "blur"
    seed: int = 0

    @property
    def removes(self) -> tuple[str, ...]:
        """The conditions that show a prepared picture (every condition but ``intact``)."""
        return tuple(c for c in self.conditions if c != "intact")


def _choices(kind: str) -> tuple[str, ...]:
    if kind == "method":
        from geoquiz.attribution import METHODS

        return tuple(METHODS)
    if kind == "segmenter":
        from geoquiz.segmentation import SEGMENTERS

        return tuple(SEGMENTERS)
    from geoquiz.faithfulness.perturb import FILLS

    return tuple(FILLS)


def read_ablation(r: Any, trials: dict) -> AblationSpec | None:
    """The ablation option of the ``[trials]`` table, or None when absent. ``r`` is the study
    reader of :mod:`geoquiz.study.definition`, which records every problem with its line."""
    if "ablation" not in trials:
        return None
    path = ("trials", "ablation")
    table = trials["ablation"]
    if not isinstance(table, dict):
        r.problem(path, f'must be a table, e.g. {{ conditions = [...], model = "..." }}, got {table!r}')
        return None
    r.unknown(table, KEYS, path)
    d = AblationSpec(model="")
    conditions = r.get(table, path + ("conditions",), "strlist", CONDITIONS)
    for n, c in enumerate(conditions or ()):
        if c not in CONDITIONS:
            r.problem(path + ("conditions", n), f"unknown condition {c!r}; expected {', '.join(CONDITIONS)}")
    if conditions is not None and len(set(conditions)) < 2 and r.ok(path + ("conditions",)):
        r.problem(path + ("conditions",), "list at least two conditions to compare (intact, model, random)")
    model = r.get(table, path + ("model",), "text")
    method = r.get(table, path + ("method",), "str", d.method, choices=_choices("method"))
    segmenter = r.get(table, path + ("segmenter",), "str", d.segmenter, choices=_choices("segmenter"))
    top_k = r.get(table, path + ("top_k",), "int", d.top_k, lo=1, hi=MAX_TOP_K)
    fill = r.get(table, path + ("fill",), "str", d.fill, choices=_choices("fill"))
    seed = r.get(table, path + ("seed",), "int", d.seed, lo=0, hi=2**32 - 1)
    ordered = tuple(c for c in CONDITIONS if c in (conditions or ()))
    return AblationSpec(
        model=model or "",
        conditions=ordered or CONDITIONS,
        method=method or d.method,
        segmenter=segmenter or d.segmenter,
        top_k=top_k if top_k is not None else d.top_k,
        fill=fill or d.fill,
        seed=seed if seed is not None else d.seed,
    )


__all__ = ["CONDITIONS", "AblationSpec", "read_ablation"]
