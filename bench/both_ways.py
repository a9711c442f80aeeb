"""Issue 13 (both ways): preparing ablated pictures, and people's boxes in the faithfulness tests.

1. **Preparation.** A 20-item ablation study (conditions intact / model / random, the demo model's
   top 3 Grad-CAM++ x default elements removed, blur fill) on GeoScenes test images, with the
   explanations already in the cache (computed first, as a researcher's earlier runs leave them):
   the time :func:`geoquiz.study.ablation.prepare_ablation` takes, per item and per picture, against
   the raw library calls it wraps on the same items (image read, the two fills, two PNG writes and
   the model's three answers), measured in the same process.
2. **People's boxes vs the model's elements, per item.** Simulated participants box planted cues
   (one all of them, one the signs and road markings, one the buildings); the same items are tested
   with the model's elements alone and with people's boxes alone (their union per item, 10 random
   repeats each, no curves), and the per-item evaluation time of each is compared (the issue asks
   for at most 1.2x), plus all three scopes (per trial, item, tag) for reference.

The machine may be shared: ratios within one process run are what to compare.

Run: ``python -m bench.both_ways [--project DIR] [--items 20] [--repeats 10]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

STUDY = """slug = "{slug}"
title = "Bench"
[consent]
text = "c"
[instructions]
text = "i"
[items]
dataset = "{dataset}"
selection = "fixed"
keys = [{keys}]
[trials]
count = {n}
{ablation}
[responses]
top_k = 3
"""


def _install(project, slug: str, dataset: str, keys: list[str], ablation: str = "") -> None:
    from geoquiz.study.store import install_study

    path = Path(project.root) / f"{slug}.toml"
    text = STUDY.format(
        slug=slug, dataset=dataset, keys=", ".join(f'"{k}"' for k in keys), n=len(keys), ablation=ablation
    )
    path.write_text(text, encoding="utf-8")
    install_study(project, path, replace=True)


def bench_preparation(project, model: str, items, slug: str) -> dict:
    import numpy as np

    from geoquiz.data.dataset import read_sample
    from geoquiz.data.imageio import write_image
    from geoquiz.db import transaction
    from geoquiz.explain import Explainer
    from geoquiz.faithfulness.perturb import make_fill
    from geoquiz.models.store import load_project_model
    from geoquiz.study.ablation import prepare_ablation

    option = f'ablation = {{ conditions = ["intact", "model", "random"], model = "{model}", top_k = 3 }}'
    _install(project, slug, "geoscenes", [it.key for it in items], option)
    explainer = Explainer(project, model, device="cpu")
    t0 = time.perf_counter()
    for it in items:
        explainer.elements(it, "gradcampp", "default")
    warm = time.perf_counter() - t0
    reader = Explainer(project, model, device="cpu")  # a fresh one: what a preparation reads
    t0 = time.perf_counter()
    for it in items:
        reader.heatmaps(it, "gradcampp")
        reader.elements(it, "gradcampp", "default")
    cached = time.perf_counter() - t0
    with transaction(project.db):  # a fresh preparation every time the bench runs
        project.db.execute(
            "DELETE FROM ablation_sets WHERE study_id = (SELECT id FROM studies WHERE slug = ?)", [slug]
        )
    shutil.rmtree(Path(project.root) / "ablation" / slug, ignore_errors=True)
    load_project_model(project, model, device="cpu")  # loaded once, as in the app
    t0 = time.perf_counter()
    prepared = prepare_ablation(project, slug, device="cpu")
    prep = time.perf_counter() - t0

    loaded = load_project_model(project, model, device="cpu")
    fill = make_fill("blur")
    out = Path(tempfile.mkdtemp(prefix="geoquiz-bench-raw-"))
    t0 = time.perf_counter()
    for n, it in enumerate(items):
        image = read_sample(it)
        mask = np.zeros(image.shape[:2], bool)
        mask[: image.shape[0] // 4, : image.shape[1] // 4] = True
        pictures = [image]
        for c in ("model", "random"):
            pictures.append(fill(image, mask))
            write_image(out / f"{n}_{c}.png", pictures[-1])
        loaded.predict_arrays(pictures)
    raw = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return {
        "items": len(items),
        "pictures": prepared.n_files,
        "warm_s": warm,
        "cached_s": cached,
        "prepare_s": prep,
        "raw_s": raw,
    }


def _participants(db, slug: str) -> None:
    from geoquiz.data.dataset import get_item
    from geoquiz.study.session import QuizSession, TrialResponse

    wanted = (None, {"signs", "road_markings"}, {"architecture"})
    for p, tags in enumerate(wanted):
        s = QuizSession.create(db, slug, seed=p)
        s.accept_consent()
        s.begin_trials()
        for spec in s.order:
            cues = [c for c in get_item(db, spec.image_id).cues if tags is None or c.tag in tags]
            s.submit(spec.position, TrialResponse(guesses=(spec.label,), confidence=3, boxes=tuple(cues)))


def _per_item(project, model: str, n: int, repeats: int, **kw) -> tuple[float, int]:
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.store import get_run

    run_id = run_grid(
        project,
        model,
        "geoscenes",
        "test",
        ["gradcampp"],
        ["default"],
        repeats=repeats,
        curves=False,
        resume=False,
        device="cpu",
        **kw,
    )
    s = get_run(project.db, run_id).summary
    return s["evaluate_s"] / s["n_units"], s["n_variants"] // s["n_units"]


def bench_people(project, model: str, items, slug: str, repeats: int) -> dict:
    if (
        project.db.execute(
            "SELECT COUNT(*) FROM sessions s JOIN studies st ON st.id = s.study_id WHERE st.slug = ?", [slug]
        ).fetchone()[0]
        == 0
    ):
        _install(project, slug, "geoscenes", [it.key for it in items])
        _participants(project.db, slug)
    n = len(items)
    out = {}
    for name, kw in (
        ("model elements", {"selections": ("model",)}),
        ("people, item union", {"selections": ("human",), "study": slug, "human_scopes": ("item",)}),
        ("model elements (again)", {"selections": ("model",)}),
        ("people, item union (again)", {"selections": ("human",), "study": slug, "human_scopes": ("item",)}),
        ("people, trial + item + tag", {"selections": ("human",), "study": slug}),
    ):
        out[name] = _per_item(project, model, n, repeats, limit=n, **kw)
    return out


def main(argv: list[str] | None = None) -> None:
    from bench.faithfulness_geoscenes import add_project_arguments, ensure_project
    from geoquiz.data.dataset import load_items

    parser = argparse.ArgumentParser(prog="bench.both_ways", description=__doc__.splitlines()[0])
    add_project_arguments(parser)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--skip-people", action="store_true", help="only the preparation")
    args = parser.parse_args(argv)
    project, model = ensure_project(args.project, args.n_per_class)
    model = args.model or model
    with project:
        items = [it for it in load_items(project.db, "geoscenes", "test") if it.cues][: args.items]
        prep = bench_preparation(project, model, items, f"bench-ablation-{args.items}")
        per_item = prep["prepare_s"] / prep["items"]
        print(
            f"prepare {prep['items']} items x 3 conditions ({prep['pictures']} pictures written, explanations cached "
            f"after a {prep['warm_s']:.1f} s warm-up): {prep['prepare_s']:.2f} s = {per_item * 1000:.0f} ms per item, "
            f"{prep['prepare_s'] / max(1, prep['pictures']) * 1000:.0f} ms per picture"
        )
        raw = prep["raw_s"] + prep["cached_s"]
        print(
            f"  raw library calls on the same items: read, 2 blur fills, 2 PNG writes, 3 model answers "
            f"{prep['raw_s']:.2f} s + reading the cached maps and elements {prep['cached_s']:.2f} s = {raw:.2f} s "
            f"-> ratio {prep['prepare_s'] / raw:.2f}x"
        )
        if args.skip_people:
            return
        people = bench_people(project, model, items, f"bench-people-{args.items}", args.repeats)
        print(
            f"\nper-item evaluation, {len(items)} items, {args.repeats} random repeats, deletion + insertion:"
        )
        for name, (seconds, variants) in people.items():
            print(f"  {name:<28} {seconds * 1000:8.1f} ms per item ({variants} scored variants per item)")
        model_s = min(people["model elements"][0], people["model elements (again)"][0])
        human_s = min(people["people, item union"][0], people["people, item union (again)"][0])
        print(
            f"  people's boxes (item union) / model elements: {human_s / model_s:.2f}x (best of two runs each)"
        )
        print("(shared machine: compare the ratios, not the absolute times)")


if __name__ == "__main__":
    main()
