"""Qt-free figures for the CLI: the paper's Figure 2 / Figure 3 bars and the progressive curves.

The data builders (:func:`comparison_charts`, :func:`curve_charts`) turn summaries into small chart
descriptions (:class:`BarChart`, :class:`LineChart`) that both front ends draw: the app with
pyqtgraph (``ui/plots/faithfulness_plots.py``), the CLI with :func:`save_figure`, which writes SVG
(hand-written, no dependency) or PNG (PIL) without Qt.

Figure 2 style: one panel per test (deletion, insertion), x = attribution methods for one
segmenter, two bars per method (guided, random) = mean accuracy with 95% bootstrap CIs as error bars.
Figure 3 style: the same with x = segmenters for one method (Grad-CAM++ by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

COLOURS = {"guided": (31, 119, 180), "random": (160, 160, 160)}
TESTS = ("deletion", "insertion")


@dataclass(frozen=True)
class Series:
    """One bar series: values per group with CI bounds (NaN allowed = no bar)."""

    name: str
    values: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class BarChart:
    title: str
    ylabel: str
    groups: tuple[str, ...]
    series: tuple[Series, ...]
    ymax: float = 1.0


@dataclass(frozen=True)
class Line:
    name: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    colour: tuple[int, int, int]
    dashed: bool = False


@dataclass(frozen=True)
class LineChart:
    title: str
    xlabel: str
    ylabel: str
    lines: tuple[Line, ...] = field(default_factory=tuple)
    ymax: float = 1.0


SELECTION_NAMES = {"guided": "model's elements", "random": "random boxes, same coverage"}


def display_name(kind: str, name: str) -> str:
    """How a ``method`` or ``segmenter`` id is shown in figures (``gradcampp`` -> ``Grad-CAM++``);
    the ids stay in the data and the CSVs."""
    from geoquiz.attribution import method_label
    from geoquiz.segmentation import segmenter_label

    if kind == "method":
        return method_label(name)
    if kind == "segmenter":
        return segmenter_label(name)
    return name


def comparison_charts(
    summary, *, group_by: str = "method", fixed: str | None = None, metric: str = "accuracy"
) -> list[BarChart]:
    """Figure 2 (``group_by='method'``, ``fixed`` = a segmenter) or Figure 3 (``group_by='segmenter'``,
    ``fixed`` = a method) bars from :func:`geoquiz.faithfulness.stats.summarise` output.

    ``metric``: ``accuracy`` or ``true_prob``. ``fixed`` defaults to the first value present
    (``gradcampp`` for Figure 3 when it is there).
    """
    other = "segmenter" if group_by == "method" else "method"
    if len(summary) == 0:
        return []
    present = list(dict.fromkeys(summary[other]))
    if fixed is None:
        fixed = "gradcampp" if other == "method" and "gradcampp" in present else present[0]
    sub = summary[summary[other] == fixed]
    groups = tuple(dict.fromkeys(sub[group_by]))
    label = "accuracy" if metric == "accuracy" else "true-class probability"
    charts = []
    for test in TESTS:
        series = []
        for selection in ("guided", "random"):
            vals, los, his = [], [], []
            for g in groups:
                row = sub[(sub[group_by] == g) & (sub["test"] == test) & (sub["selection"] == selection)]
                if len(row):
                    r = row.iloc[0]
                    vals.append(float(r[metric]))
                    los.append(float(r[f"{metric}_lo"]))
                    his.append(float(r[f"{metric}_hi"]))
                else:
                    vals.append(math.nan)
                    los.append(math.nan)
                    his.append(math.nan)
            series.append(
                Series(SELECTION_NAMES[selection], tuple(vals), tuple(los), tuple(his), COLOURS[selection])
            )
        title = f"{test.capitalize()} ({display_name(other, fixed)})"
        shown = tuple(display_name(group_by, g) for g in groups)
        charts.append(BarChart(title, f"{label} after {test}", shown, tuple(series)))
    return charts


SOURCE_COLOURS = {"guided": (214, 120, 30), "random": (160, 160, 160)}


#: How people's scopes are shown (the ids ``item`` / ``trial`` / ``tag`` stay in the data).
SCOPE_LABELS = {"item": "union per item", "trial": "each trial", "tag": "each cue tag"}


def source_display(method: str, segmenter: str, *, single_model: bool = False) -> str:
    """How a side-by-side cell is shown: ``People: union per item`` for people's boxes (``method`` =
    ``human``, ``segmenter`` = the scope), ``Model elements`` when the run has one method x segmenter
    (``single_model``), else ``Grad-CAM++ × Default (superpixels)``."""
    if method == "human":
        return f"People: {SCOPE_LABELS.get(segmenter, segmenter)}"
    if single_model:
        return "Model elements"
    return f"{display_name('method', method)} × {display_name('segmenter', segmenter)}"


def sources_charts(sources_summary, *, metric: str = "accuracy") -> list[BarChart]:
    """Model elements vs people's boxes vs random at equal coverage: one panel per test, one group
    per cell (each method x segmenter, then ``people: item`` / ``trial`` / ``tag``), two bars each
    (the boxes, and random boxes of matched count, sizes and coverage) with 95 % bootstrap CIs, from
    :func:`geoquiz.faithfulness.human_stats.sources_summary`; the mean coverage is under the group
    name."""
    if len(sources_summary) == 0:
        return []
    cells = list(dict.fromkeys(zip(sources_summary["method"], sources_summary["segmenter"])))
    cells.sort(key=lambda c: (c[0] == "human", c))
    single_model = sum(1 for m, _ in cells if m != "human") == 1
    label = "accuracy" if metric == "accuracy" else "true-class probability"
    charts = []
    for test in TESTS:
        sub = sources_summary[sources_summary["test"] == test]
        groups, series = [], {"guided": ([], [], []), "random": ([], [], [])}
        for method, segmenter in cells:
            cell = sub[(sub["method"] == method) & (sub["segmenter"] == segmenter)]
            guided = cell[cell["selection"] == "guided"]
            cov = float(guided["coverage"].iloc[0]) if len(guided) else math.nan
            name = source_display(method, segmenter, single_model=single_model)
            name = name.replace(": ", "\n").replace(" × ", " ×\n")  # narrow groups: one part a line
            groups.append(f"{name}\n{cov:.0%} covered")
            for selection, (vals, los, his) in series.items():
                row = cell[cell["selection"] == selection]
                ok = len(row) > 0
                vals.append(float(row[metric].iloc[0]) if ok else math.nan)
                los.append(float(row[f"{metric}_lo"].iloc[0]) if ok else math.nan)
                his.append(float(row[f"{metric}_hi"].iloc[0]) if ok else math.nan)
        bars = tuple(
            Series(
                "the boxes" if sel == "guided" else "random, same coverage",
                tuple(v),
                tuple(lo),
                tuple(hi),
                SOURCE_COLOURS[sel],
            )
            for sel, (v, lo, hi) in series.items()
        )
        charts.append(
            BarChart(
                f"{test.capitalize()}: model vs people vs random",
                f"{label} after {test}",
                tuple(groups),
                bars,
            )
        )
    return charts


SEGMENT_COLOURS = {"segments": (44, 160, 44), "elements": (31, 119, 180)}


def segmenter_charts(segmenter_summary, *, method: str | None = None) -> list[BarChart]:
    """Segment counts and coverage per segmenter for one method (Grad-CAM++ when present, else the
    first), from :func:`geoquiz.faithfulness.stats.segmenter_summary`: paper 000 links SAM3's
    stronger deletion / insertion results to its many segments and larger coverage.

    Two panels: segments and guided elements per image; the fraction of the image covered by the
    segments' union and by the element boxes (95% bootstrap CIs as error bars)."""
    if len(segmenter_summary) == 0:
        return []
    present = list(dict.fromkeys(segmenter_summary["method"]))
    method = method or ("gradcampp" if "gradcampp" in present else present[0])
    sub = segmenter_summary[segmenter_summary["method"] == method]
    groups = tuple(display_name("segmenter", g) for g in sub["segmenter"])

    def series(name: str, col: str, colour: tuple[int, int, int]) -> Series:
        return Series(
            name,
            tuple(float(v) for v in sub[col]),
            tuple(float(v) for v in sub[f"{col}_lo"]),
            tuple(float(v) for v in sub[f"{col}_hi"]),
            colour,
        )

    counts = (
        series("segments", "segments", SEGMENT_COLOURS["segments"]),
        series("elements", "elements", SEGMENT_COLOURS["elements"]),
    )
    top = max([v for s in counts for v in s.hi + s.values if not math.isnan(v)] or [1.0])
    return [
        BarChart(
            f"Segments and elements per image ({display_name('method', method)})",
            "count per image",
            groups,
            counts,
            ymax=top * 1.1 or 1.0,
        ),
        BarChart(
            f"Coverage ({display_name('method', method)})",
            "fraction of the image",
            groups,
            (
                series("segments", "segment_coverage", SEGMENT_COLOURS["segments"]),
                series("elements", "element_coverage", SEGMENT_COLOURS["elements"]),
            ),
        ),
    ]


def curve_charts(
    curve_summary, *, method: str | None = None, segmenter: str | None = None
) -> list[LineChart]:
    """Mean progressive curves (true-class probability vs fraction of elements) per test, guided vs
    random, for one method x segmenter (defaults: the first present), from
    :func:`geoquiz.faithfulness.stats.curve_summary` output. AUCs are in the legend."""
    if len(curve_summary) == 0:
        return []
    method = method or curve_summary["method"].iloc[0]
    segmenter = segmenter or curve_summary["segmenter"].iloc[0]
    sub = curve_summary[(curve_summary["method"] == method) & (curve_summary["segmenter"] == segmenter)]
    charts = []
    for test in TESTS:
        lines = []
        for selection in ("guided", "random"):
            row = sub[(sub["test"] == test) & (sub["selection"] == selection)]
            if not len(row):
                continue
            r = row.iloc[0]
            ys = tuple(float(v) for v in r["curve"])
            xs = tuple(i / (len(ys) - 1) for i in range(len(ys))) if len(ys) > 1 else (0.0,)
            name = f"{SELECTION_NAMES[selection]} (AUC {r['auc']:.3f})"
            lines.append(Line(name, xs, ys, COLOURS[selection], dashed=selection == "random"))
        charts.append(
            LineChart(
                f"Progressive {test}: {display_name('method', method)} × {display_name('segmenter', segmenter)}",
                "fraction of elements " + ("removed" if test == "deletion" else "kept"),
                "true-class probability",
                tuple(lines),
            )
        )
    return charts


# ---------------------------------------------------------------- rendering (SVG and PNG)

_W, _H = 480, 340
_M = {"l": 50, "r": 16, "t": 50, "b": 70}


def _rgb(c: tuple[int, int, int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


class _Canvas:
    """Tiny drawing API with two back ends: SVG elements or a PIL ImageDraw."""

    def __init__(self, kind: str, width: int, height: int) -> None:
        self.kind = kind
        self.width, self.height = width, height
        self.parts: list[str] = []
        if kind == "png":
            from PIL import Image, ImageDraw, ImageFont

            self.image = Image.new("RGB", (width, height), "white")
            self.draw = ImageDraw.Draw(self.image)
            self.font = ImageFont.load_default()

    def line(self, x0, y0, x1, y1, colour=(0, 0, 0), width=1, dashed=False) -> None:
        if self.kind == "svg":
            dash = ' stroke-dasharray="6,4"' if dashed else ""
            self.parts.append(
                f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{_rgb(colour)}" '
                f'stroke-width="{width}"{dash}/>'
            )
        elif dashed:
            n = max(1, int(math.hypot(x1 - x0, y1 - y0) / 10))
            for i in range(n):
                a, b = i / n, (i + 0.6) / n
                self.draw.line(
                    [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                    fill=colour,
                    width=width,
                )
        else:
            self.draw.line([(x0, y0), (x1, y1)], fill=colour, width=width)

    def rect(self, x0, y0, x1, y1, colour) -> None:
        if self.kind == "svg":
            self.parts.append(
                f'<rect x="{x0:.1f}" y="{min(y0, y1):.1f}" width="{x1 - x0:.1f}" height="{abs(y1 - y0):.1f}" '
                f'fill="{_rgb(colour)}"/>'
            )
        else:
            self.draw.rectangle([x0, min(y0, y1), x1, max(y0, y1)], fill=colour)

    def text(self, x, y, s: str, anchor: str = "middle", size: int = 11) -> None:
        if self.kind == "svg":
            self.parts.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-family="sans-serif" font-size="{size}" '
                f'text-anchor="{anchor}">{escape(s)}</text>'
            )
        else:
            w = self.draw.textlength(s, font=self.font)
            dx = {"start": 0, "middle": -w / 2, "end": -w}[anchor]
            self.draw.text((x + dx, y - 10), s, fill=(0, 0, 0), font=self.font)


def _axes(c: _Canvas, ox: float, title: str, ylabel: str, ymax: float) -> tuple[float, float, float, float]:
    x0, x1 = ox + _M["l"], ox + _W - _M["r"]
    y0, y1 = _H - _M["b"], _M["t"]
    c.text(ox + _W / 2, 20, title, size=13)
    c.line(x0, y0, x1, y0)
    c.line(x0, y0, x0, y1)
    for i in range(6):
        v = ymax * i / 5
        y = y0 - (y0 - y1) * i / 5
        c.line(x0 - 4, y, x0, y)
        c.line(x0, y, x1, y, colour=(230, 230, 230))
        c.text(x0 - 6, y + 4, f"{v:.1f}", anchor="end", size=10)
    c.text(x0 + 4, y1 - 4, ylabel, anchor="start", size=10)
    return x0, x1, y0, y1


def _draw_bars(c: _Canvas, chart: BarChart, ox: float) -> None:
    x0, x1, y0, y1 = _axes(c, ox, chart.title, chart.ylabel, chart.ymax)

    def ypos(v: float) -> float:
        return y0 - (y0 - y1) * max(0.0, min(v, chart.ymax)) / chart.ymax

    n_groups, n_series = max(1, len(chart.groups)), max(1, len(chart.series))
    gw = (x1 - x0) / n_groups
    bw = gw * 0.7 / n_series
    for gi, group in enumerate(chart.groups):
        gx = x0 + gi * gw + gw * 0.15
        for si, s in enumerate(chart.series):
            v = s.values[gi]
            if math.isnan(v):
                continue
            bx = gx + si * bw
            c.rect(bx, y0, bx + bw * 0.92, ypos(v), s.colour)
            if not (math.isnan(s.lo[gi]) or math.isnan(s.hi[gi])):
                mx = bx + bw * 0.46
                c.line(mx, ypos(s.lo[gi]), mx, ypos(s.hi[gi]), width=2)
                c.line(mx - 4, ypos(s.lo[gi]), mx + 4, ypos(s.lo[gi]), width=2)
                c.line(mx - 4, ypos(s.hi[gi]), mx + 4, ypos(s.hi[gi]), width=2)
        for li, line in enumerate(group.split("\n")):  # a group name may have a second line
            c.text(x0 + (gi + 0.5) * gw, y0 + 16 + 13 * li, line, size=11 if li == 0 else 10)
    for si, s in enumerate(chart.series):
        lx = x0 + 10 + si * 110
        c.rect(lx, _H - 24, lx + 12, _H - 12, s.colour)
        c.text(lx + 16, _H - 13, s.name, anchor="start", size=11)


def _draw_lines(c: _Canvas, chart: LineChart, ox: float) -> None:
    x0, x1, y0, y1 = _axes(c, ox, chart.title, chart.ylabel, chart.ymax)
    for i in range(6):
        c.text(x0 + (x1 - x0) * i / 5, y0 + 16, f"{i / 5:.1f}", size=10)
    c.text((x0 + x1) / 2, y0 + 34, chart.xlabel, size=11)
    for li, line in enumerate(chart.lines):
        pts = [
            (x0 + (x1 - x0) * x, y0 - (y0 - y1) * max(0.0, min(y, chart.ymax)) / chart.ymax)
            for x, y in zip(line.xs, line.ys)
        ]
        for (ax, ay), (bx, by) in zip(pts, pts[1:]):
            c.line(ax, ay, bx, by, colour=line.colour, width=2, dashed=line.dashed)
        lx = x0 + 10 + li * 180
        c.line(lx, _H - 18, lx + 20, _H - 18, colour=line.colour, width=2, dashed=line.dashed)
        c.text(lx + 24, _H - 13, line.name, anchor="start", size=11)


def render(charts: list[BarChart | LineChart], kind: str):
    """Draw ``charts`` side by side. ``kind='svg'`` returns the SVG text, ``'png'`` a PIL image."""
    if not charts:
        raise ValueError("nothing to draw: no results")
    c = _Canvas(kind, _W * len(charts), _H)
    if kind == "svg":
        c.rect(0, 0, c.width, c.height, (255, 255, 255))
    for i, chart in enumerate(charts):
        (_draw_bars if isinstance(chart, BarChart) else _draw_lines)(c, chart, i * _W)
    if kind == "png":
        return c.image
    body = "\n".join(c.parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{c.width}" height="{c.height}" '
        f'viewBox="0 0 {c.width} {c.height}">\n{body}\n</svg>\n'
    )


def save_figure(charts: list[BarChart | LineChart], path: str | Path) -> Path:
    """Write ``charts`` to ``path``; the format follows the suffix (``.svg`` or ``.png``)."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("svg", "png"):
        raise ValueError(f"{path}: figures are written as .svg or .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = render(charts, kind)
    tmp = path.with_name(path.name + ".tmp")
    if kind == "svg":
        tmp.write_text(out, encoding="utf-8")
    else:
        out.save(tmp, format="PNG")
    tmp.replace(path)
    return path
