"""docs/limits.md states the limits the code applies (defaults, the passphrase policy, every method
parameter), so the documented numbers cannot drift from the real ones."""

from __future__ import annotations

from pathlib import Path

from geoquiz.attribution.params import PARAMS
from geoquiz.config import HARD_MAX_IMAGE_PIXELS, LimitSettings
from geoquiz.study import passphrase

DOC = (Path(__file__).resolve().parents[1] / "docs" / "limits.md").read_text(encoding="utf-8")


def test_limits_doc_matches_the_code():
    limits = LimitSettings()
    assert f"max_image_pixels = {limits.max_image_pixels}" in DOC
    assert f"{limits.max_image_pixels:,}" in DOC and f"{HARD_MAX_IMAGE_PIXELS:,}" in DOC
    assert f"lock_wait_s = {limits.lock_wait_s}" in DOC
    assert f"minimum length | {passphrase.MIN_LENGTH} characters" in DOC
    assert f"scrypt${2**17}$8$1$" in DOC
    assert f"after the {passphrase.FREE_TRIES}th wrong try" in DOC
    assert (
        f"{passphrase.BASE_DELAY_S:g} s have passed" in DOC
        and f"up to {passphrase.MAX_DELAY_S / 60:g} minutes" in DOC
    )
    for specs in PARAMS.values():
        for spec in specs:
            assert (
                f"| `{spec.key}` | {spec.default if not isinstance(spec.default, str) else '`' + spec.default + '`'} |"
                in DOC
            ), spec.key
