"""Dataset import throughput vs the raw Pillow decode it is built on.

Writes N JPEG photos (default 400 at 640x480) into a temp folder-per-label tree, then times:

* raw: ``PIL.Image.open(p).load()`` for every file in one thread (the floor for "decode every image");
* import_folder: scan + full decode check (thread pool) + stratified split + one-transaction store;
* load_items: reading the dataset back from the database;
* thumbnails: ``read_thumbnail`` (JPEG draft mode) for every file, vs a full decode.

Run: ``.venv/bin/python -m bench.import_speed [N]``. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _make(root: Path, n: int) -> list[Path]:
    from PIL import Image

    from geoquiz.data.imageio import write_image

    rng = np.random.default_rng(0)
    # photo-like: smooth structure (upsampled coarse noise) plus mild sensor noise; pure noise would make
    # entropy decoding dominate and misrepresent real photos
    coarse = rng.integers(0, 255, size=(30, 40, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((640, 480), Image.Resampling.BICUBIC), dtype=np.int16)
    base = np.clip(smooth + rng.integers(-6, 7, size=smooth.shape), 0, 255).astype(np.uint8)
    paths = []
    for i in range(n):
        img = np.roll(base, i * 7, axis=1)
        paths.append(write_image(root / f"class{i % 4}" / f"{i:05d}.jpg", img, quality=85))
    return paths


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    from PIL import Image

    from geoquiz.data.dataset import load_items
    from geoquiz.data.imageio import read_thumbnail
    from geoquiz.data.importer import import_folder
    from geoquiz.project import Project

    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 400
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = _make(tmp / "data", n)

        def raw() -> None:
            for p in paths:
                with Image.open(p) as im:
                    im.load()

        raw()  # warm the page cache so both sides read from memory
        t_raw = _time(raw)
        with Project.open(tmp / "proj", create=True) as project:
            t_imp = _time(lambda: import_folder(project, "bench", tmp / "data"))
            t_load = _time(lambda: load_items(project.db, "bench"))
        t_thumb = _time(lambda: [read_thumbnail(p, 128) for p in paths])
    print(f"{n} JPEGs 640x480")
    print(f"raw Pillow decode, 1 thread : {t_raw:7.3f} s  ({n / t_raw:7.0f} img/s)")
    print(
        f"import_folder (all steps)   : {t_imp:7.3f} s  ({n / t_imp:7.0f} img/s)  ratio vs raw {t_imp / t_raw:5.2f}x"
    )
    print(f"load_items (read back)      : {t_load:7.3f} s  ({n / t_load:7.0f} items/s)")
    print(
        f"read_thumbnail 128 px       : {t_thumb:7.3f} s  ({n / t_thumb:7.0f} img/s)  ratio vs raw {t_thumb / t_raw:5.2f}x"
    )


if __name__ == "__main__":
    main()
