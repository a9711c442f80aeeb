"""Train / val / test splits: read from a column, or drawn at random stratified by label with a seed.

The random split is reproducible: the same labels (in any order of input), fractions and seed give the
same assignment for the same keys. Within each class the keys are sorted, shuffled with
``numpy.random.default_rng(seed)`` (classes visited in sorted order) and cut by largest-remainder
rounding of the fractions; a class with at least as many items as non-zero fractions gets at least one
item in every split whose fraction is non-zero, so small classes still appear in val and test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from geoquiz.types import SPLITS

DEFAULT_FRACTIONS: tuple[float, float, float] = (0.7, 0.15, 0.15)

#: Column values accepted for each split (case-insensitive).
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "tst": "test",
}


def normalise_split(value: str) -> str | None:
    """``'Validation'`` -> ``'val'`` etc.; ``None`` for a value that names no split."""
    return SPLIT_ALIASES.get(str(value).strip().lower())


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate train/val/test fractions (three non-negative numbers summing to 1, train > 0)."""
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3:
        raise ValueError(f"split fractions must be three numbers (train, val, test), got {list(fractions)}")
    if any(f < 0 for f in fr) or fr[0] <= 0:
        raise ValueError(f"split fractions must be non-negative with train > 0, got {list(fr)}")
    if abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {list(fr)} (sum {sum(fr):g})")
    return fr  # type: ignore[return-value]


def _counts(n: int, fractions: tuple[float, float, float]) -> list[int]:
    raw = [n * f for f in fractions]
    counts = [int(np.floor(r)) for r in raw]
    order = sorted(range(3), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    nonzero = [i for i in range(3) if fractions[i] > 0]
    if n >= len(nonzero):
        for i in nonzero:
            if counts[i] == 0:
                donor = max(range(3), key=lambda j: counts[j])
                counts[donor] -= 1
                counts[i] += 1
    return counts


def stratified_split(
    keys: Sequence[str],
    labels: Sequence[str],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, str]:
    """Map each key to ``'train'``, ``'val'`` or ``'test'``, stratified by its label.

    ``keys`` must be unique; ``labels[i]`` is the label of ``keys[i]``.
    """
    fr = check_fractions(fractions)
    if len(keys) != len(labels):
        raise ValueError("keys and labels must have the same length")
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, label in zip(keys, labels):
        by_label[label].append(key)
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for label in sorted(by_label):
        members = sorted(by_label[label])
        order = rng.permutation(len(members))
        counts = _counts(len(members), fr)
        bounds = np.cumsum(counts)
        for pos, idx in enumerate(order):
            out[members[idx]] = SPLITS[int(np.searchsorted(bounds, pos, side="right"))]
    return out
