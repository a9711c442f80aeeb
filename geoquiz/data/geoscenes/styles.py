"""Country styles for GeoScenes: which cues each country plants, how often, and in which variant.

Probabilities are per image (per view for 4-view locations). They overlap on purpose so that no
single cue decides every image: France and the USA both drive on the right and write Latin, India
and Japan both drive on the left, yellow centre lines occur in Japan and the USA, white dashed lines
in France, Japan and India, pitched grey roofs in three countries, and every cue is sometimes absent.
Sky, lighting, asphalt and distractor objects are drawn from distributions shared by all countries.
"""

from __future__ import annotations

#: Cue keys (the names :func:`render_scene` can omit) and their geoquiz.types.CUE_TAGS tag. Every key
#: but ``distractor`` is diagnostic (its variants differ by country).
CUE_KEYS: dict[str, str] = {
    "centre_line": "road_markings",
    "edge_line": "road_markings",
    "kerb": "bollards",
    "bollards": "bollards",
    "guardrail": "bollards",
    "poles": "poles",
    "wires": "poles",
    "warning_sign": "signs",
    "regulatory_sign": "signs",
    "direction_sign": "signs",
    "mirror": "signs",
    "milestone": "signs",
    "shop_sign": "signs",
    "script": "script",
    "vehicle": "vehicles",
    "building": "architecture",
    "block_wall": "architecture",
    "trees": "vegetation",
    "rice_field": "vegetation",
    "lawn": "vegetation",
    # shared, non-diagnostic objects; recorded as cues only in neutral scenes (diagnostic_cues set)
    "distractor": "other",
}

# (variant, probability) lists; None = absent. Variants of lines: "<colour> <pattern>".
STYLES: dict[str, dict] = {
    "France": {
        "drive": "right",
        "centre": [("white dashed", 0.62), ("white solid", 0.1), (None, 0.28)],
        "edge": [("white dashed", 0.3), ("white solid", 0.25), (None, 0.45)],
        "dash": (3.0, 10.0),
        "p_kerb": 0.0,
        "p_bollards": 0.62,
        "p_guardrail": 0.0,
        "poles": ("wood", 0.3, (1, 2)),
        "signs": {"warning": 0.4, "regulatory": 0.2, "direction": 0.4},
        "script": "latin",
        "vehicles": [("hatchback", 0.8), ("sedan", 0.2)],
        "p_vehicle": 0.62,
        "p_buildings": 0.72,
        "trees": ("plane", 0.55),
        "ground": [0.45, 0.3, 0.2, 0.05],
    },
    "Japan": {
        "drive": "left",
        "centre": [("white dashed", 0.35), ("yellow solid", 0.3), ("white solid", 0.1), (None, 0.25)],
        "edge": [("white solid", 0.7), (None, 0.3)],
        "dash": (5.0, 5.0),
        "p_kerb": 0.0,
        "p_bollards": 0.0,
        "p_guardrail": 0.5,
        "poles": ("concrete_sleeve", 0.8, (4, 6)),
        "signs": {"regulatory": 0.45, "direction": 0.45, "mirror": 0.35},
        "script": "kana",
        "vehicles": [("kei", 0.85), ("sedan", 0.15)],
        "p_vehicle": 0.62,
        "p_buildings": 0.72,
        "trees": ("rice", 0.45),
        "ground": [0.5, 0.3, 0.15, 0.05],
    },
    "India": {
        "drive": "left",
        "centre": [
            ("faded white dashed", 0.25),
            ("faded yellow dashed", 0.15),
            ("white dashed", 0.1),
            (None, 0.5),
        ],
        "edge": [("white solid", 0.15), (None, 0.85)],
        "dash": (3.0, 6.0),
        "p_kerb": 0.65,
        "p_bollards": 0.0,
        "p_guardrail": 0.0,
        "poles": ("concrete", 0.65, (6, 10)),
        "signs": {"milestone": 0.45, "shop": 0.5},
        "script": "devanagari",
        "vehicles": [("rickshaw", 0.8), ("hatchback", 0.2)],
        "p_vehicle": 0.65,
        "p_buildings": 0.72,
        "trees": ("palm", 0.55),
        "ground": [0.15, 0.2, 0.25, 0.4],
    },
    "USA": {
        "drive": "right",
        "centre": [("yellow double", 0.45), ("yellow dashed", 0.25), (None, 0.3)],
        "edge": [("white solid", 0.65), (None, 0.35)],
        "dash": (3.0, 9.0),
        "p_kerb": 0.0,
        "p_bollards": 0.45,
        "p_guardrail": 0.0,
        "poles": ("wood", 0.7, (2, 3)),
        "signs": {"warning": 0.45, "direction": 0.4},
        "script": "latin",
        "vehicles": [("pickup", 0.55), ("sedan", 0.35), ("hatchback", 0.1)],
        "p_vehicle": 0.62,
        "p_buildings": 0.72,
        "trees": ("lawn", 0.6),
        "ground": [0.4, 0.3, 0.25, 0.05],
    },
}

#: Shared verge/ground palettes: green, olive, dry, dusty red-brown (weights per country above).
GROUND_PALETTES = [(92, 128, 62), (118, 122, 72), (148, 136, 98), (160, 114, 80)]

#: Shared sky palettes (zenith, horizon): clear, hazy, overcast, warm.
SKY_PALETTES = [
    ((72, 128, 198), (182, 206, 228)),
    ((142, 170, 198), (214, 216, 212)),
    ((150, 156, 166), (204, 204, 204)),
    ((104, 136, 188), (232, 204, 168)),
]

#: Building palettes per country: wall colours, roof style, roof colours.
ARCHITECTURE: dict[str, dict] = {
    "France": {
        "walls": [(232, 222, 196), (240, 236, 224), (214, 196, 160), (226, 210, 180)],
        "roof": "pitched",
        "roofs": [(78, 84, 96), (176, 82, 52), (160, 74, 50)],
        "floors": (1, 3),
        "p_shutters": 0.65,
        "shutters": [(70, 110, 150), (90, 130, 90), (235, 235, 230), (120, 150, 170)],
    },
    "Japan": {
        "walls": [(228, 226, 218), (186, 184, 178), (206, 196, 176), (140, 118, 96)],
        "roof": "pitched",
        "roofs": [(70, 78, 92), (60, 82, 112), (92, 96, 104)],
        "floors": (1, 2),
        "tile_lines": True,
        "p_block_wall": 0.5,
    },
    "India": {
        "walls": [
            (236, 140, 160),
            (90, 190, 190),
            (240, 200, 70),
            (240, 150, 70),
            (170, 210, 90),
            (226, 214, 190),
        ],
        "roof": "flat",
        "floors": (1, 4),
        "p_tank": 0.5,
    },
    "USA": {
        "walls": [(236, 236, 230), (190, 206, 218), (200, 196, 186), (222, 208, 176)],
        "roof": "pitched",
        "roofs": [(70, 70, 74), (98, 80, 66), (84, 88, 92)],
        "floors": (1, 2),
        "siding": True,
        "setback": (9.0, 15.0),
    },
}
