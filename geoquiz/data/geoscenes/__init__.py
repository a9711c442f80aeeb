"""GeoScenes: a deterministic procedural generator of street-level scenes for a few "countries".

Scenes differ by concrete GeoGuessr-style cues (road-line colour and pattern, driving side, bollards
and kerbs, utility poles and wires, signs and the script on them, vehicles, architecture,
vegetation; see ``GEOSCENES_CUES.md``), each planted with some probability and recorded as a
:class:`~geoquiz.types.CueBox` (tag from :data:`geoquiz.types.CUE_TAGS`, a ``detail`` string
starting with the cue key, e.g. ``"centre line: yellow solid"``). Sky, lighting, asphalt and
distractor objects come from distributions shared by every country.

Public API: :data:`COUNTRIES` (France, India, Japan), :data:`ALL_COUNTRIES` (+ USA), :data:`CUE_KEYS`, :func:`render_scene`, :func:`cue_key`,
:func:`generate_geoscenes`, :func:`import_geoscenes`.
"""

from geoquiz.data.geoscenes.scene import ALL_COUNTRIES, COUNTRIES, MIN_BOX_AREA, cue_key, render_scene
from geoquiz.data.geoscenes.styles import CUE_KEYS

__all__ = [
    "ALL_COUNTRIES",
    "COUNTRIES",
    "MIN_BOX_AREA",
    "CUE_KEYS",
    "cue_key",
    "render_scene",
    "generate_geoscenes",
    "import_geoscenes",
]


def __getattr__(name: str):
    if name in ("generate_geoscenes", "import_geoscenes"):
        from geoquiz.data.geoscenes import dataset

        return getattr(dataset, name)
    raise AttributeError(name)
