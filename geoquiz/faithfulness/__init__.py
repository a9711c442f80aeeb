"""Faithfulness of object-like elements: deletion / insertion against matched random boxes
(paper 000, section 5), progressive curves, statistics, the methods x segmenters grid.

Small composable pieces, in the style of pytorch-grad-cam — *what is removed* x *how it is filled*
x *how it is scored*:

``perturb``   removal masks (deletion = occlude the boxes, insertion = keep only the boxes) and the
              fills ``blur`` (default), ``mean``, ``black``, ``road`` (noisy linear imputation)
``random``    random boxes with the same count, sizes and union coverage as the guided boxes
``engine``    one image prepared once; its masked variants scored in batched forward passes
``evaluate``  every test of every method x segmenter for one image
``curves``    progressive deletion / insertion in rank order and normalised AUC
``stats``     bootstrap CIs, paired Wilcoxon guided vs random, per-class breakdown
``store``     runs and results in the project database (one transaction per image, resumable)
``grid``      :func:`run_grid` over a split, with maps and segments from :class:`geoquiz.explain.Explainer`
``sweep``     the choice of ``top_p`` on the validation split
``figures``   Qt-free PNG / SVG figures for the CLI

Nothing here imports torch at import time; the names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_grid": "geoquiz.faithfulness.grid",
    "resume_run": "geoquiz.faithfulness.grid",
    "GridConfig": "geoquiz.faithfulness.grid",
    "sweep_top_p": "geoquiz.faithfulness.sweep",
    "load_run": "geoquiz.faithfulness.store",
    "load_curves": "geoquiz.faithfulness.store",
    "list_runs": "geoquiz.faithfulness.store",
    "get_run": "geoquiz.faithfulness.store",
    "summarise": "geoquiz.faithfulness.stats",
    "compare": "geoquiz.faithfulness.stats",
    "per_class": "geoquiz.faithfulness.stats",
    "curve_summary": "geoquiz.faithfulness.stats",
    "make_fill": "geoquiz.faithfulness.perturb",
    "FILLS": "geoquiz.faithfulness.perturb",
    "TESTS": "geoquiz.faithfulness.perturb",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'geoquiz.faithfulness' has no attribute {name!r}")
