"""Statistics of people's cue boxes as an explanation of the model ("model needs people's cues").

A run with the ``human`` selection (:mod:`geoquiz.faithfulness.human`) stores, beside the model's
elements, the deletion and insertion tests of people's boxes against random boxes of matched count,
sizes and coverage. This module reads them with the statistics of :mod:`geoquiz.faithfulness.stats`
(random repeats averaged first; percentile-bootstrap 95 % CIs; two-sided Wilcoxon signed-rank test of
the paired guided - random differences, zero differences dropped, p = 1 when all are zero), per:

* :func:`by_participant` -- ``trial`` rows; a pair per trial (that participant's boxes vs their own
  matched random boxes), grouped by participant;
* :func:`by_tag` -- ``tag`` rows; a pair per item that has boxes of the tag, grouped by tag;
* :func:`by_item` -- ``item`` rows (the union of every participant's boxes); one guided value per
  item, so the interval and test of an item are over its *random repeats* (how unusual people's
  boxes are among random placements of the same boxes on that image);
* :func:`sources` / :func:`sources_summary` -- side by side on the items that have both: the model's
  elements (each method x segmenter), people's boxes (each scope) and their random baselines at
  equal coverage, paired per item (:func:`geoquiz.faithfulness.stats.compare`), with the mean
  coverage of each (the check that the comparison is at equal coverage).

``diff_*`` is always guided minus random. For deletion a negative difference means removing the
boxes hurts the model more than removing random boxes of the same coverage (the model *needs* what
is in them); for insertion a positive one means the boxes alone keep more than random boxes.
"""

from __future__ import annotations

import numpy as np

from geoquiz.faithfulness.stats import bootstrap_ci, compare, of_source, per_unit, summarise, wilcoxon_paired

#: Metrics of the paired tables: (column in the results, name in the output).
METRICS = (("correct", "accuracy"), ("true_prob", "true_prob"))


def _unit(df):
    df = df.copy()
    df["unit"] = df["location_id"].where(df["location_id"].notna(), df["image_id"])
    return df


def pairs(df, scope: str, keys: list[str]):
    """One row per ``keys`` x test of the ``scope`` rows of people's boxes: the guided value and the
    mean of the random repeats of ``correct``, ``true_prob`` and ``coverage``, as
    ``guided_<col>`` / ``random_<col>``."""
    import pandas as pd

    rows = _unit(of_source(df, "human"))
    rows = rows[rows["human_scope"] == scope]
    if not len(rows):
        return pd.DataFrame()
    for col in ("correct", "true_prob", "coverage"):
        rows[col] = rows[col].astype(float)
    group = ["unit", "label", *keys, "test", "selection"]
    means = rows.groupby(group, as_index=False, sort=True, dropna=False)[
        ["correct", "true_prob", "coverage"]
    ].mean()
    wide = means.pivot_table(
        index=["unit", "label", *keys, "test"],
        columns="selection",
        values=["correct", "true_prob", "coverage"],
    )
    wide.columns = [f"{sel}_{col}" for col, sel in wide.columns]
    return wide.reset_index().dropna(subset=["guided_true_prob", "random_true_prob"])


def paired_table(pairs_df, group: list[str], *, n_boot: int = 2000):
    """Per ``group`` x test: n pairs, guided and random means, the paired difference with its
    bootstrap CI and Wilcoxon p for accuracy and the true-class probability, mean coverages, and
    ``expected`` (the faithful direction, as :func:`geoquiz.faithfulness.stats.compare`)."""
    import pandas as pd

    rows = []
    if not len(pairs_df):
        return pd.DataFrame()
    for key, g in pairs_df.groupby([*group, "test"], sort=True):
        out = dict(zip([*group, "test"], key if isinstance(key, tuple) else (key,)))
        out["n"] = len(g)
        for col, name in METRICS:
            gd, rd = g[f"guided_{col}"].to_numpy(float), g[f"random_{col}"].to_numpy(float)
            diff, lo, hi = bootstrap_ci(gd - rd, n_boot=n_boot)
            stat, p = wilcoxon_paired(gd, rd)
            out.update(
                {
                    f"guided_{name}": float(gd.mean()),
                    f"random_{name}": float(rd.mean()),
                    f"diff_{name}": diff,
                    f"diff_{name}_lo": lo,
                    f"diff_{name}_hi": hi,
                    f"wilcoxon_{name}": stat,
                    f"p_{name}": p,
                }
            )
        out["guided_coverage"] = float(g["guided_coverage"].mean())
        out["random_coverage"] = float(g["random_coverage"].mean())
        out["expected"] = _expected(out)
        rows.append(out)
    return pd.DataFrame(rows)


def _expected(row: dict) -> bool:
    sign = -1.0 if row["test"] == "deletion" else 1.0
    primary = row["diff_accuracy"] if row["diff_accuracy"] != 0 else row["diff_true_prob"]
    return bool(sign * primary > 0)


def by_participant(df, *, n_boot: int = 2000):
    """Per participant x test, over that participant's trials (see the module doc)."""
    return paired_table(pairs(df, "trial", ["participant", "trial_id"]), ["participant"], n_boot=n_boot)


def by_tag(df, *, n_boot: int = 2000):
    """Per cue tag x test, over the items with boxes of that tag (see the module doc)."""
    return paired_table(pairs(df, "tag", ["cue_tag"]), ["cue_tag"], n_boot=n_boot)


def by_item(df, *, n_boot: int = 2000):
    """Per item x test for the union of people's boxes: guided value, mean of the random repeats,
    their difference with a bootstrap CI and a Wilcoxon test over the repeats, and the coverages."""
    import pandas as pd

    rows = _unit(of_source(df, "human"))
    rows = rows[rows["human_scope"] == "item"]
    out = []
    for (unit, label, test), g in rows.groupby(["unit", "label", "test"], sort=True):
        guided, random = g[g["selection"] == "guided"], g[g["selection"] == "random"]
        if not len(guided) or not len(random):
            continue
        row: dict = {"unit": unit, "label": label, "test": test, "n_repeats": len(random)}
        row["image_id"], row["location_id"] = guided["image_id"].iloc[0], guided["location_id"].iloc[0]
        for col, name in METRICS:
            gv = float(guided[col].astype(float).iloc[0])
            rv = random[col].to_numpy(float)
            _, lo, hi = bootstrap_ci(gv - rv, n_boot=n_boot)
            stat, p = wilcoxon_paired(np.full(len(rv), gv), rv)
            row.update(
                {
                    f"guided_{name}": gv,
                    f"random_{name}": float(rv.mean()),
                    f"diff_{name}": gv - float(rv.mean()),
                    f"diff_{name}_lo": lo,
                    f"diff_{name}_hi": hi,
                    f"p_{name}": p,
                }
            )
        row["base_true_prob"] = float(guided["base_true_prob"].astype(float).iloc[0])
        row["base_correct"] = float(guided["base_correct"].astype(float).iloc[0])
        row["guided_coverage"] = float(guided["coverage"].astype(float).iloc[0])
        row["random_coverage"] = float(random["coverage"].astype(float).mean())
        row["n_boxes"] = int(guided["n_boxes"].iloc[0])
        out.append(row)
    return pd.DataFrame(out)


def common_items(df):
    """The rows of ``df`` on the items that have both the model's elements and people's boxes."""
    units = _unit(df)
    model = set(units.loc[of_source(units, "model").index, "unit"])
    human = set(units.loc[of_source(units, "human").index, "unit"])
    return df[units["unit"].isin(model & human)]


def source_label(method: str, segmenter: str) -> str:
    """How a cell is named side by side: ``gradcampp x default`` or ``people: item``."""
    return f"people: {segmenter}" if method == "human" else f"{method} x {segmenter}"


def sources(df, *, n_boot: int = 2000):
    """Model elements vs people's boxes vs random at equal coverage, on the common items: one row per
    cell (each method x segmenter, each scope of people's boxes) x test, with ``source`` (``model``
    or ``human``), ``name`` (:func:`source_label`), :func:`~geoquiz.faithfulness.stats.compare`'s
    paired columns (guided minus random, per item) and the mean coverage of the guided and the
    random boxes."""
    import pandas as pd

    common = common_items(df)
    if not len(common):
        return pd.DataFrame()
    table = compare(common, n_boot=n_boot, source=None)
    cov = per_unit(common).groupby(["method", "segmenter", "test", "selection"])["coverage"].mean()
    table["source"] = ["human" if m == "human" else "model" for m in table["method"]]
    table["name"] = [source_label(m, s) for m, s in zip(table["method"], table["segmenter"])]
    table["guided_coverage"] = [
        float(cov.get((m, s, t, "guided"), np.nan))
        for m, s, t in zip(table["method"], table["segmenter"], table["test"])
    ]
    table["random_coverage"] = [
        float(cov.get((m, s, t, "random"), np.nan))
        for m, s, t in zip(table["method"], table["segmenter"], table["test"])
    ]
    first = ["source", "name", "method", "segmenter", "test", "n"]
    return table[first + [c for c in table.columns if c not in first]]


def sources_summary(df, *, n_boot: int = 2000):
    """:func:`geoquiz.faithfulness.stats.summarise` of every cell on the common items (means with
    bootstrap CIs per selection), for the side-by-side figure."""
    return summarise(common_items(df), n_boot=n_boot, source=None)


__all__ = [
    "by_item",
    "by_participant",
    "by_tag",
    "common_items",
    "paired_table",
    "pairs",
    "source_label",
    "sources",
    "sources_summary",
]
