"""Perturbations: *what is removed* (a mask from boxes) x *how it is filled* (a :class:`Fill`).

In the style of pytorch-grad-cam's small composable callables, a perturbation is the product of

* a **removal mask** — :func:`removal_mask` turns element boxes into a bool HxW mask of the pixels to
  replace: for ``deletion`` the pixels inside the boxes (the boxes are occluded), for ``insertion`` the
  pixels outside them (only the boxes are kept);
* a **fill** — what replaces those pixels. ``fill(image, mask)`` returns a copy of ``image`` with the
  masked pixels replaced. Four fills are provided (:data:`FILLS`):

  ``blur`` (default)
      a Gaussian blur of the image itself, ``sigma = sigma_frac * max(H, W)`` pixels (default
      ``sigma_frac = 0.05``, about 11 px at 224 px, close to the 11 px kernel of RISE's blurred
      insertion baseline). It removes small detail (text, markings, shapes) while keeping the
      image's colour statistics, so the model does not see an out-of-distribution hole.
  ``mean``
      one constant colour, by default the mean RGB colour of the dataset's images (the grid computes
      it over the evaluated split and records it with the run).
  ``black``
      zeros.
  ``road``
      noisy linear imputation, the fill of ROAD (Rong et al., *A Consistent and Efficient
      Evaluation Strategy for Attribution Methods*, ICML 2022): every removed pixel is the weighted
      mean of its 8 neighbours (weight 1/6 for the 4 direct neighbours, 1/12 for the diagonals),
      which gives one sparse linear system over the removed pixels (solved with
      ``scipy.sparse.linalg.spsolve``, the three colour channels as three right-hand sides);
      Gaussian noise (std ``noise``, default 0.01 on the [0, 1] scale) is then added to the imputed
      pixels so that the mask's shape cannot be read back from perfectly smooth regions.

Images may be RGB ``uint8`` HWC (the result is ``uint8`` again) or float HWC in ``[0, 1]`` (the
result is ``float32``). Boxes are :class:`geoquiz.boxes.Box` (XYXY pixels, inclusive-exclusive).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from geoquiz.boxes import Box, union_mask
from geoquiz.errors import GeoQuizError

TESTS: tuple[str, ...] = ("deletion", "insertion")
FILLS: tuple[str, ...] = ("blur", "mean", "black", "road")

#: ROAD's neighbour weights: ((dy, dx), weight).
ROAD_NEIGHBOURS: tuple[tuple[tuple[int, int], float], ...] = (
    ((-1, 0), 1 / 6),
    ((1, 0), 1 / 6),
    ((0, -1), 1 / 6),
    ((0, 1), 1 / 6),
    ((-1, -1), 1 / 12),
    ((-1, 1), 1 / 12),
    ((1, -1), 1 / 12),
    ((1, 1), 1 / 12),
)


def removal_mask(test: str, boxes: Sequence[Box], height: int, width: int) -> np.ndarray:
    """Bool HxW mask of the pixels a ``test`` replaces: inside the boxes for ``deletion``, outside
    them for ``insertion``. With no boxes, deletion removes nothing and insertion removes everything."""
    inside = union_mask(list(boxes), height, width)
    if test == "deletion":
        return inside
    if test == "insertion":
        return ~inside
    raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")


def coverage(boxes: Sequence[Box], height: int, width: int) -> float:
    """Fraction of the HxW image covered by the union of ``boxes`` (in [0, 1])."""
    if height * width == 0:
        return 0.0
    return float(union_mask(list(boxes), height, width).sum()) / float(height * width)


def to_float(image: np.ndarray) -> np.ndarray:
    """HWC image as float32 in [0, 1] (uint8 is divided by 255, floats are copied)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return np.asarray(image, dtype=np.float32).copy()


def _like(result01: np.ndarray, template: np.ndarray) -> np.ndarray:
    if template.dtype == np.uint8:
        return np.clip(np.rint(result01 * 255.0), 0, 255).astype(np.uint8)
    return result01.astype(np.float32, copy=False)


def _check(image: np.ndarray, mask: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
    if mask.shape != image.shape[:2] or mask.dtype != bool:
        raise ValueError(f"expected a bool {image.shape[:2]} mask, got {mask.dtype} {mask.shape}")


class Fill:
    """How removed pixels are filled. Subclasses set ``name`` and implement :meth:`background`
    (mask-independent fills) or override :meth:`fill01` (mask-dependent fills such as ROAD)."""

    name: str = ""
    #: True when the replacement depends on the mask (then :meth:`background` is not available).
    mask_dependent: bool = False

    def params(self) -> dict[str, Any]:
        """The fill's parameters, recorded with every result."""
        return {}

    def background(self, image01: np.ndarray) -> np.ndarray:
        """The full replacement image (float32 HxWx3 in [0, 1]) for a float image in [0, 1]."""
        raise NotImplementedError

    def fill01(
        self, image01: np.ndarray, mask: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Float32 [0, 1] image with the ``mask`` pixels replaced."""
        return np.where(mask[..., None], self.background(image01), image01).astype(np.float32)

    def __call__(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """A copy of ``image`` (uint8 or float [0, 1], HxWx3) with the pixels where ``mask`` is True filled."""
        _check(image, mask)
        return _like(self.fill01(to_float(image), mask, rng), image)

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{self.name}({extra})" if extra else self.name


class BlurFill(Fill):
    """Gaussian blur of the image, ``sigma = sigma_frac * max(H, W)`` pixels (reflecting borders)."""

    name = "blur"

    def __init__(self, sigma_frac: float = 0.05) -> None:
        if sigma_frac <= 0:
            raise GeoQuizError(f"blur fill: sigma_frac must be > 0, got {sigma_frac}")
        self.sigma_frac = float(sigma_frac)

    def params(self) -> dict[str, Any]:
        return {"sigma_frac": self.sigma_frac}

    def background(self, image01: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        sigma = self.sigma_frac * max(image01.shape[:2])
        return gaussian_filter(image01.astype(np.float32), sigma=(sigma, sigma, 0), mode="reflect")


class ConstantFill(Fill):
    """One RGB colour in [0, 1]."""

    def __init__(self, colour: Sequence[float], name: str) -> None:
        colour = tuple(float(c) for c in colour)
        if len(colour) != 3 or not all(0.0 <= c <= 1.0 for c in colour):
            raise GeoQuizError(f"{name} fill: colour must be three values in [0, 1], got {colour}")
        self.colour = colour
        self.name = name

    def params(self) -> dict[str, Any]:
        return {"colour": [round(c, 6) for c in self.colour]}

    def background(self, image01: np.ndarray) -> np.ndarray:
        out = np.empty(image01.shape, dtype=np.float32)
        out[...] = np.asarray(self.colour, dtype=np.float32)
        return out


class MeanFill(ConstantFill):
    """The dataset's mean colour (RGB in [0, 1]); see :func:`mean_colour`."""

    def __init__(self, colour: Sequence[float] = (0.485, 0.456, 0.406)) -> None:
        super().__init__(colour, "mean")


class BlackFill(ConstantFill):
    def __init__(self) -> None:
        super().__init__((0.0, 0.0, 0.0), "black")

    def params(self) -> dict[str, Any]:
        return {}


class RoadFill(Fill):
    """Noisy linear imputation (ROAD). ``noise``: std of the Gaussian noise on the [0, 1] scale;
    ``seed``: used when no ``rng`` is passed to the call."""

    name = "road"
    mask_dependent = True

    def __init__(self, noise: float = 0.01, seed: int = 0) -> None:
        if noise < 0:
            raise GeoQuizError(f"road fill: noise must be >= 0, got {noise}")
        self.noise = float(noise)
        self.seed = int(seed)

    def params(self) -> dict[str, Any]:
        return {"noise": self.noise}

    def fill01(
        self, image01: np.ndarray, mask: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        out = image01.astype(np.float32).copy()
        if not mask.any():
            return out
        if mask.all():  # nothing to impute from: mid grey plus noise
            values = np.full((int(mask.sum()), 3), 0.5)
        else:
            values = linear_imputation(image01, mask)
        values = values + self.noise * rng.standard_normal(values.shape)
        out[mask] = np.clip(values, 0.0, 1.0)
        return out


def linear_imputation(image01: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Solve ROAD's sparse system: each masked pixel equals the weighted mean of its in-image neighbours.

    ``image01``: float HxWxC; ``mask``: bool HxW with at least one False pixel. Returns float64
    (n_masked, C) values for the masked pixels in row-major order (``image01[mask]`` order).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    n = len(ys)
    index = np.full((h, w), -1, dtype=np.int64)
    index[ys, xs] = np.arange(n)
    flat = image01.reshape(h, w, -1).astype(np.float64)
    rows, cols, vals = [], [], []
    rhs = np.zeros((n, flat.shape[2]))
    diag = np.zeros(n)
    for (dy, dx), weight in ROAD_NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        eq = np.nonzero(inside)[0]
        ny, nx = ny[inside], nx[inside]
        diag[eq] += weight
        neighbour = index[ny, nx]
        unknown = neighbour >= 0
        rows.append(eq[unknown])
        cols.append(neighbour[unknown])
        vals.append(np.full(int(unknown.sum()), weight))
        known = ~unknown
        rhs[eq[known]] -= weight * flat[ny[known], nx[known]]
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(-diag)
    matrix = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsc()
    solution = spsolve(matrix, rhs)
    return np.asarray(solution).reshape(n, -1)


def mean_colour(images: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """Mean RGB colour in [0, 1] over HxWx3 images (uint8 or float [0, 1]); every pixel weighs the same."""
    total = np.zeros(3)
    count = 0
    for image in images:
        data = to_float(image).reshape(-1, 3)
        total += data.sum(axis=0, dtype=np.float64)
        count += len(data)
    if count == 0:
        raise GeoQuizError("cannot compute a dataset mean colour from no images")
    r, g, b = (total / count).tolist()
    return (r, g, b)


def make_fill(name: str, **params: Any) -> Fill:
    """Fill by name (:data:`FILLS`) with its parameters (``sigma_frac`` for blur, ``colour`` for mean,
    ``noise`` and ``seed`` for road)."""
    if name == "blur":
        return BlurFill(**params)
    if name == "mean":
        return MeanFill(**params)
    if name == "black":
        if params:
            raise GeoQuizError(f"black fill takes no parameters, got {', '.join(params)}")
        return BlackFill()
    if name == "road":
        return RoadFill(**params)
    raise GeoQuizError(f"unknown fill {name!r}; expected one of {', '.join(FILLS)}")


def perturb(
    image: np.ndarray,
    boxes: Sequence[Box],
    test: str,
    fill: Fill,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Deletion or insertion of ``boxes`` on one HxWx3 image with ``fill``."""
    mask = removal_mask(test, boxes, image.shape[0], image.shape[1])
    return fill(image, mask, rng)
