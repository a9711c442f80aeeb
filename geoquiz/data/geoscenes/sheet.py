"""Contact sheets of GeoScenes: a grid of scenes (one row per country) with the planted cue boxes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from geoquiz.data.geoscenes.dataset import scene_seed
from geoquiz.data.geoscenes.scene import COUNTRIES, render_scene
from geoquiz.data.geoscenes.select import diagnostic_cues_of
from geoquiz.types import CUE_TAG_LABELS, CUE_TAGS

#: Outline colour per cue tag (RGB).
TAG_COLOURS: dict[str, tuple[int, int, int]] = {
    "road_markings": (255, 0, 255),
    "signs": (255, 40, 40),
    "bollards": (255, 150, 0),
    "poles": (0, 230, 255),
    "vegetation": (60, 255, 60),
    "architecture": (40, 90, 255),
    "vehicles": (255, 255, 0),
    "script": (255, 255, 255),
    "other": (0, 0, 0),
}


def contact_sheet(
    countries: Sequence[str] = COUNTRIES,
    per_country: int = 8,
    *,
    seed: int = 0,
    size: int = 224,
    boxes: bool = True,
    gap: int = 2,
    cues: str = "realistic",
) -> np.ndarray:
    """The first ``per_country`` single-view images per country of the GeoScenes dataset with
    ``seed`` (the same pixels :func:`generate_geoscenes` writes), in a grid; RGB uint8 HxWx3.

    With ``boxes`` every planted cue box is outlined in its tag's colour and a legend row is added.
    ``cues``: the cue mode of the dataset (``realistic`` or ``single``).
    """
    k = diagnostic_cues_of(cues)
    label_w = 70
    width = label_w + per_country * (size + gap)
    legend_h = 22 if boxes else 0
    sheet = Image.new("RGB", (width, len(countries) * (size + gap) + legend_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, country in enumerate(countries):
        y = r * (size + gap)
        draw.text((6, y + size // 2 - 6), country, fill=(0, 0, 0))
        for i in range(per_country):
            img, cues = render_scene(country, scene_seed(seed, country, i), size, diagnostic_cues=k)
            tile = Image.fromarray(img)
            if boxes:
                d = ImageDraw.Draw(tile)
                for c in cues:
                    b = c.box
                    d.rectangle([b.x0, b.y0, b.x1 - 1, b.y1 - 1], outline=TAG_COLOURS[c.tag])
            sheet.paste(tile, (label_w + i * (size + gap), y))
    if boxes:
        x, y = 6, len(countries) * (size + gap) + 5
        for tag in CUE_TAGS[:-1]:
            draw.rectangle([x, y, x + 11, y + 11], outline=(0, 0, 0), fill=TAG_COLOURS[tag])
            draw.text((x + 16, y), CUE_TAG_LABELS[tag], fill=(0, 0, 0))
            x += 30 + int(draw.textlength(CUE_TAG_LABELS[tag]))
    return np.asarray(sheet)


def save_contact_sheet(path: str | Path, sheet: np.ndarray, *, colours: int = 256) -> Path:
    """Save a sheet as a compact palette PNG (``colours`` colours, octree, no dithering: the sensor
    noise of the scenes makes a full-colour PNG about five times larger)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).quantize(colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    return path
