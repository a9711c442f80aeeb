"""Export a faithfulness run: tidy CSVs and Figure 2 / Figure 3 / curve figures (PNG, SVG).

Files written to ``out_dir`` (prefix ``faithfulness_run<ID>``):

``_results.csv``      every stored result (one row per image x method x segmenter x test x selection x repeat)
``_summary.csv``      :func:`~geoquiz.faithfulness.stats.summarise` (means with bootstrap 95% CIs)
``_comparison.csv``   :func:`~geoquiz.faithfulness.stats.compare` (paired differences, Wilcoxon)
``_per_class.csv``    :func:`~geoquiz.faithfulness.stats.per_class`
``_curves.csv``       every curve step; ``_curve_auc.csv`` mean normalised AUCs with CIs
``_segmenters.csv``   :func:`~geoquiz.faithfulness.stats.segmenter_summary` (segments, coverage and
                      elements per image, per method x segmenter)
``_sources.csv``      runs with people's boxes: model elements vs people's boxes vs random at equal
                      coverage on the same items (:func:`~geoquiz.faithfulness.human_stats.sources`)
``_human_by_item.csv`` / ``_human_by_participant.csv`` / ``_human_by_tag.csv``
                      people's boxes per item (their union), per participant (their trials) and per
                      cue tag (:mod:`geoquiz.faithfulness.human_stats`)
``_config.json``      the run's configuration as recorded: model, dataset, split, methods, segmenters,
                      every method's resolved parameters (``method_params``), fill, repeats, seeds,
                      element settings; its status and where its top-p came from

CSVs go through :func:`geoquiz.csvio.write_csv`: UTF-8, written to a temp file and renamed,
and text cells a spreadsheet would run as a formula (a leading ``=``, ``+``, ``-``, ``@``) quoted.
``_figure2.<fmt>``    bars by method (first segmenter), ``_figure3.<fmt>`` bars by segmenter
                      (Grad-CAM++ or the first method), ``_curve_plot.<fmt>`` progressive curves,
                      ``_segmenters.<fmt>`` segment counts and coverage per segmenter,
                      ``_sources.<fmt>`` model vs people vs random (runs with people's boxes)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step

FORMATS = ("csv", "png", "svg")


def export_run(
    db,
    run_id: int,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    reporter: Reporter | None = None,
) -> list[Path]:
    """Write the run's CSVs and figures (see module doc); returns the paths written."""
    from geoquiz.csvio import write_csv as _write_csv  # neutralised, UTF-8, atomic
    from geoquiz.faithfulness import figures, human_stats, stats, store

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise GeoQuizError(f"unknown export format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    run = store.get_run(db, run_id)
    if run.kind != "grid":
        raise GeoQuizError(f"run #{run_id} is a {run.kind} run; only faithfulness grids are exported")
    df = store.load_run(db, run_id)
    if len(df) == 0:
        raise GeoQuizError(f"run #{run_id} has no results to export")
    curves = store.load_curves(db, run_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"faithfulness_run{run_id}"
    written: list[Path] = []
    step(reporter, 0, 3, "statistics")
    summary = stats.summarise(df)
    curve_summary = stats.curve_summary(curves) if len(curves) else None
    segmenters = stats.segmenter_summary(df)
    with_people = bool((df["selection_source"] == "human").any())
    sources_summary = human_stats.sources_summary(df) if with_people else None
    if "csv" in formats:
        from geoquiz.csvio import write_json

        record = {
            "run_id": run.id,
            "model": run.model,
            "dataset": run.dataset,
            "split": run.split,
            "status": run.status,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "top_p_source": run.summary.get("top_p_source"),
            "config": run.config,
        }
        written.append(write_json(record, out / f"{prefix}_config.json"))
        written.append(_write_csv(df, out / f"{prefix}_results.csv"))
        written.append(_write_csv(summary, out / f"{prefix}_summary.csv"))
        written.append(_write_csv(stats.compare(df), out / f"{prefix}_comparison.csv"))
        written.append(_write_csv(stats.per_class(df), out / f"{prefix}_per_class.csv"))
        written.append(_write_csv(segmenters, out / f"{prefix}_segmenters.csv"))
        if len(curves):
            written.append(_write_csv(curves, out / f"{prefix}_curves.csv"))
            written.append(_write_csv(curve_summary, out / f"{prefix}_curve_auc.csv"))
        if with_people:
            tables = {
                "sources": human_stats.sources(df),
                "human_by_item": human_stats.by_item(df),
                "human_by_participant": human_stats.by_participant(df),
                "human_by_tag": human_stats.by_tag(df),
            }
            for name, table in tables.items():
                written.append(_write_csv(table, out / f"{prefix}_{name}.csv"))
    step(reporter, 1, 3, "figures")
    for fmt in (f for f in formats if f != "csv"):
        written.append(
            figures.save_figure(
                figures.comparison_charts(summary, group_by="method"), out / f"{prefix}_figure2.{fmt}"
            )
        )
        written.append(
            figures.save_figure(
                figures.comparison_charts(summary, group_by="segmenter"), out / f"{prefix}_figure3.{fmt}"
            )
        )
        written.append(
            figures.save_figure(figures.segmenter_charts(segmenters), out / f"{prefix}_segmenters.{fmt}")
        )
        if sources_summary is not None and len(sources_summary):
            written.append(
                figures.save_figure(figures.sources_charts(sources_summary), out / f"{prefix}_sources.{fmt}")
            )
        if curve_summary is not None and len(curve_summary):
            written.append(
                figures.save_figure(figures.curve_charts(curve_summary), out / f"{prefix}_curve_plot.{fmt}")
            )
    step(reporter, 3, 3, "exported")
    return written
