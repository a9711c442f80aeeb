"""First launch (issue 17): how soon the window shows the demo data, how soon the demo model is ready.

Starts the app in a fresh process exactly as ``make run`` does on a first launch (``main.py``'s
``create_window(None)`` with ``GEOQUIZ_HOME`` in a new temporary folder, so nothing is built yet;
Qt offscreen unless ``--visible``) and prints, in seconds from the moment the process was started:

* **window**: the main window is shown;
* **window with data**: the Dataset tab lists the demo's first GeoScenes images (goal: <= 10 s);
* **training starts** / **model ready**: the demo model's stage begins / it is trained and
  evaluated (the Model / Explain tabs have it); their difference is the training + test evaluation
  time, printed with its CPU seconds;
* **all ready**: the whole demo project is built (remaining images, 4-view dataset, studies);

then the CPU time of the app and its rendering processes. The machine may be shared: the load
average before and after is printed, and CPU seconds / 2 is what 2 quiet cores would need at best
(CPU seconds are themselves inflated on a busy machine, by cache and core sharing).

Run: ``python -m bench.first_launch [--keep DIR] [--timeout 3600] [--visible]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = float(sys.argv[1])
def mark(name, **extra):
    print(json.dumps({"mark": name, "t": time.time() - t0, **extra}), flush=True)
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from ui.app import create_window
window = create_window(None)
app.processEvents()
mark("window")
view, launcher, seen = window.views["Dataset"], window.demo_launcher, set()
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    app.processEvents()
    time.sleep(0.02)
    if "data" not in seen and view.model.rowCount() > 0:
        seen.add("data"); mark("data", rows=view.model.rowCount())
    if "training" not in seen and "training" in launcher.times:
        seen.add("training"); mark("training", cpu=launcher.cpu["training"])
    if "model" not in seen and "model" in launcher.times:
        seen.add("model"); mark("model", cpu=launcher.cpu["model"])
    if "ready" in launcher.times:
        mark("ready", rows=view.model.rowCount())
        break
else:
    mark("timeout")
window.close()
from ui.workers import wait_all
wait_all(60000)
"""


def training_seconds(home: Path) -> dict:
    """The demo model's training time (sum of epoch times) and recipe, from its checkpoint."""
    import torch

    from geoquiz.models.demo import DEMO_MODEL

    path = home / "demo" / "models" / f"{DEMO_MODEL}.pt"
    if not path.exists():
        return {}
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    training = ckpt.get("training") or {}
    history = training.get("history") or []
    return {
        "epochs": len(history),
        "train_seconds": float(sum(e.get("seconds", 0.0) for e in history)),
        "val_acc": history[-1].get("val_acc") if history else None,
        "images_per_s": float(sum(e.get("images_per_s", 0.0) for e in history) / max(len(history), 1)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.first_launch", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="GEOQUIZ_HOME to use and keep")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--visible", action="store_true", help="a real window (needs a display)")
    args = parser.parse_args(argv)

    home = args.keep or Path(tempfile.mkdtemp(prefix="geoquiz-first-launch-"))
    env = {**os.environ, "GEOQUIZ_HOME": str(home)}
    if not args.visible:
        env["QT_QPA_PLATFORM"] = "offscreen"
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    load_before = os.getloadavg()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(t0), str(args.timeout)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    marks: dict[str, dict] = {}
    for line in proc.stdout:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        marks[rec["mark"]] = rec
        print(
            f"  {rec['mark']:<7} at {rec['t']:7.1f} s{'  ' + str(rec.get('rows')) + ' images listed' if 'rows' in rec else ''}"
        )
    proc.wait()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    load_after = os.getloadavg()
    train = training_seconds(home)
    print(
        f"\nfirst launch of the demo project ({os.cpu_count()} CPUs; load average before {load_before[0]:.1f}, after {load_after[0]:.1f}):"
    )
    for key, text in (
        ("window", "window shown"),
        ("data", "window with data (goal <= 10 s)"),
        ("training", "demo model training starts"),
        ("model", "demo model ready"),
        ("ready", "whole demo project ready"),
    ):
        if key in marks:
            print(f"  {text:<34} {marks[key]['t']:7.1f} s")
    if "timeout" in marks:
        print(f"  timed out after {args.timeout:.0f} s")
    if "training" in marks and "model" in marks:
        wall = marks["model"]["t"] - marks["training"]["t"]
        cpu_model = marks["model"]["cpu"] - marks["training"]["cpu"]
        print(
            f"  training + test evaluation: {wall:.1f} s wall, {cpu_model:.0f} CPU s "
            f"(>= {cpu_model / 2:.0f} s on 2 quiet cores; goal <= 120 s)"
        )
    if train:
        print(
            f"  best checkpoint: epoch {train['epochs']} after {train['train_seconds']:.1f} s of epochs "
            f"({train['images_per_s']:.0f} images/s, val acc {train['val_acc']:.3f})"
        )
    print(f"  CPU time of the app and its render processes: {cpu:.0f} s (/2 = {cpu / 2:.0f} s on 2 cores)")
    if args.keep is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
