"""Image decoding edge cases: 16-bit / 32-bit / float images are scaled to 8 bits (not clipped), and
the pixel-count limit is checked from the header, per file, in every thread of the import."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import write_png

from geoquiz.data import imageio
from geoquiz.data.imageio import ImageReadError, read_image, read_thumbnail, verify_image


@pytest.fixture(autouse=True)
def _restore_the_pixel_limit():
    """Opening a project sets the process-wide limit: put the previous one back after each test."""
    previous = imageio.max_image_pixels()
    yield
    imageio.set_max_image_pixels(previous)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height`` 8-bit RGB pixels, with a tiny (truncated) body:
    a few dozen bytes that Pillow opens (it reads the header) but could only decode by allocating
    ``3 * width * height`` bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    )
    return path


def png16_rgb(path: Path, rgb16: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16) written byte by byte."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )
    return path


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    from PIL import Image

    ramp = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (3, 1))  # 0, 257, ..., 65535 (256 values)
    path = tmp_path / "grey16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode == "I;16"
    rgb = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 256, 3)
    # v / 257 maps 0..65535 onto 0..255 exactly: the ramp becomes the 8-bit ramp in every channel
    np.testing.assert_array_equal(rgb[..., 0], np.tile(np.arange(256, dtype=np.uint8), (3, 1)))
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    thumb = read_thumbnail(path, size=64)
    assert thumb.dtype == np.uint8 and len(np.unique(thumb)) > 32  # a grey ramp, not {0, 255}


def test_16_bit_rgb_png_keeps_its_colours(tmp_path):
    w = 64
    rgb16 = np.zeros((2, w, 3), np.uint16)
    rgb16[..., 0] = np.arange(w) * 1000
    rgb16[..., 1] = 65535 - np.arange(w) * 1000
    rgb16[..., 2] = 30000
    rgb = read_image(png16_rgb(tmp_path / "rgb16.png", rgb16))
    expected = np.round(rgb16 / 257.0)
    assert np.abs(rgb.astype(int) - expected).max() <= 1  # Pillow keeps the high byte; v/257 rounds


@pytest.mark.parametrize("kind", ["I;16 tiff", "I tiff", "F tiff [0, 1]", "F tiff [0, 255]"])
def test_wide_tiffs_are_scaled_to_8_bits(tmp_path, kind):
    from PIL import Image

    ramp16 = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (2, 1))
    data = {
        "I;16 tiff": ramp16,
        "I tiff": ramp16.astype(np.int32),
        "F tiff [0, 1]": (ramp16 / 65535.0).astype(np.float32),
        "F tiff [0, 255]": (ramp16 / 257.0).astype(np.float32),
    }[kind]
    path = tmp_path / "wide.tif"
    Image.fromarray(data).save(path)
    rgb = read_image(path)
    np.testing.assert_array_equal(rgb[..., 1], np.tile(np.arange(256, dtype=np.uint8), (2, 1)))


def test_a_16_bit_image_imports_with_its_size(project, tmp_path):
    from PIL import Image

    from geoquiz.data.dataset import load_items
    from geoquiz.data.importer import import_folder

    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    Image.fromarray(np.full((5, 7), 40000, np.uint16)).save(src / "a" / "x.png")
    write_png(src / "b" / "y.png", np.zeros((4, 4, 3), np.uint8))
    res = import_folder(project, "deep", src, split="test")
    assert res.n_images == 2
    item = next(it for it in load_items(project.db, "deep") if it.label == "a")
    assert (item.width, item.height) == (7, 5)
    assert int(read_image(item.path)[0, 0, 0]) == round(40000 / 257)


# ------------------------------------------------------------------------------ the pixel limit


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    bomb = png_header_only(tmp_path / "bomb.png", 12_000, 12_000)  # 144 Mpx claimed, 100 bytes on disk
    assert bomb.stat().st_size < 200

    def no_decoding(self, *args, **kwargs):  # decoding would allocate 432 MB: it must not start
        raise AssertionError("decoded an image over the pixel limit")

    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for fn in (verify_image, read_image, read_thumbnail):
        with pytest.raises(ImageReadError, match=r"144,000,000 pixels, over the limit of 89,478,485"):
            fn(bomb)
    with pytest.raises(ImageReadError, match="over the limit of 1,000"):
        imageio.image_size(png_header_only(tmp_path / "small.png", 40, 30), max_pixels=1_000)


def test_pixel_limit_is_a_setting(tmp_path, monkeypatch):
    small = tmp_path / "ok.png"
    write_png(small, np.zeros((30, 40, 3), np.uint8))
    assert verify_image(small) == (40, 30)
    with pytest.raises(ImageReadError, match="1,200 pixels"):
        verify_image(small, max_pixels=1_199)
    assert verify_image(small, max_pixels=1_200) == (40, 30)
    imageio.set_max_image_pixels(1_000)
    with pytest.raises(ImageReadError, match="limit of 1,000"):
        read_image(small)
    with pytest.raises(ValueError):
        imageio.set_max_image_pixels(0)


def test_project_setting_sets_the_import_limit(tmp_path):
    from geoquiz.data.importer import import_folder
    from geoquiz.errors import ConfigError, DatasetImportError
    from geoquiz.project import Project

    for label in ("a", "b"):
        write_png(tmp_path / "src" / label / "x.png", np.zeros((30, 40, 3), np.uint8))
    root = tmp_path / "proj"
    Project.open(root, create=True).close()
    (root / "project.toml").write_text("[limits]\nmax_image_pixels = 1000\n")
    with Project.open(root) as p:
        assert p.settings.limits.max_image_pixels == 1000
        with pytest.raises(DatasetImportError, match="over the limit of 1,000"):
            import_folder(p, "s", tmp_path / "src", split="test")
        assert p.db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 0
        # every later read in this process (thumbnails, models, the quiz) has the project's limit
        with pytest.raises(ImageReadError, match="over the limit of 1,000"):
            read_thumbnail(tmp_path / "src" / "a" / "x.png")
    (root / "project.toml").write_text("[limits]\nmax_image_pixels = 0\n")
    with pytest.raises(ConfigError, match="max_image_pixels"):
        Project.open(root)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_check_holds_when_another_thread_resets_the_warning_filters(tmp_path, monkeypatch):
    """The schedule that let bombs through: while this thread opens a file, another thread leaves a
    ``warnings.catch_warnings()`` block and restores the filters it saved (as a second verify thread
    does). A check that relied on a warning filter turned into an error would then see no error."""
    import threading
    import warnings

    from PIL import Image, ImageFile

    bomb = png_header_only(tmp_path / "bomb.png", 12_000, 12_000)
    inside, leave, left = threading.Event(), threading.Event(), threading.Event()

    def other_thread() -> None:
        with warnings.catch_warnings():
            inside.set()
            leave.wait(5)
        left.set()

    original_open = Image.open

    def open_after_the_other_thread_left(*args, **kwargs):
        leave.set()
        left.wait(5)
        return original_open(*args, **kwargs)

    t = threading.Thread(target=other_thread)
    t.start()
    inside.wait(5)
    decoding = []
    original_load = ImageFile.ImageFile.load
    monkeypatch.setattr(Image, "open", open_after_the_other_thread_left)
    monkeypatch.setattr(
        ImageFile.ImageFile,
        "load",
        lambda self, *a, **k: decoding.append(self.size) or original_load(self, *a, **k),
    )
    with pytest.raises(ImageReadError) as refused:
        verify_image(bomb)
    t.join(5)
    assert decoding == []  # refused from the header: the 432 MB decode never started
    assert "over the limit" in str(refused.value)


@pytest.fixture(scope="module")
def bomb_tree(tmp_path_factory):
    """300 small valid PNGs and 12 headers claiming 144 Mpx each, spread over two classes."""
    root = tmp_path_factory.mktemp("bombs") / "tree"
    rng = np.random.default_rng(0)
    for i in range(300):
        write_png(root / ("a" if i % 2 else "b") / f"{i:03d}.png", rng.integers(0, 255, (4, 4, 3), np.uint8))
    bombs = []
    for i in range(12):
        (root / "a").mkdir(parents=True, exist_ok=True)
        bombs.append(png_header_only(root / ("a" if i % 2 else "b") / f"bomb{i:02d}.png", 12_000, 12_000))
    return root, bombs


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_no_bomb_is_ever_imported_by_the_threaded_verify_step(project, bomb_tree):
    """The verify step runs 4 threads; each checks every file itself (no shared warning filters)."""
    from geoquiz.data.importer import import_folder

    root, bombs = bomb_tree
    for attempt in range(6):
        res = import_folder(project, f"run{attempt}", root, split="test", skip_bad=True)
        assert res.n_images == 300, f"attempt {attempt}: a bomb was imported"
        skipped = "\n".join(res.skipped)
        assert len(res.skipped) == 12 and all(b.name in skipped for b in bombs)
        assert "over the limit" in skipped
