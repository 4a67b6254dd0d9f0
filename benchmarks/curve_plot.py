"""Line charts of held-out learning curves, drawn with `benchmarks.plot.line_plot`.

    plot_reference_curves(results, "docs/images/reference_curve.png")

One panel per learning rate of a `benchmarks.reference_curve` results dict: the person-region L1
(0..255) of every run (the reference in blues, pinet-tf in reds, one shade per seed), the
paint-by-parsing baseline with the true target parsing (grey line) and with each run's own parsing
(thin grey curve: the mean over the runs), a legend and the conditions in the title.
"""

from __future__ import annotations

import numpy as np

from benchmarks.plot import line_plot
from pinet_tf.utils.drawing import save_png_atomic

#: (side, seed index) -> colour; seed 0 dark, seed 1 light.
COLOURS = {("torch", 0): (20, 60, 170), ("torch", 1): (90, 150, 235),
           ("pinet_tf", 0): (190, 30, 30), ("pinet_tf", 1): (245, 140, 60)}
GREY, LIGHT_GREY = (110, 110, 110), (175, 175, 175)
LABELS = {"torch": "reference (PyTorch)", "pinet_tf": "pinet-tf"}


def plot_reference_curves(results: dict, path: str) -> np.ndarray:
    """Draw the results' curves (module docstring) into `path` (PNG); returns the pixels."""
    runs = results["runs"]
    seeds = sorted({r["seed"] for r in runs})
    s = results["settings"]
    reached = min(r["curve"][-1]["step"] for r in runs)
    planned = f" (cut: {s['steps']} planned)" if reached < s["steps"] else ""
    panels = []
    for lr in sorted({r["lr"] for r in runs}):
        series, own = [], []
        for r in sorted((r for r in runs if r["lr"] == lr), key=lambda r: (r["side"], r["seed"])):
            series.append({"label": f"{LABELS[r['side']]}, seed {r['seed']}",
                           "colour": COLOURS[r["side"], min(seeds.index(r["seed"]), 1)],
                           "x": [p["step"] for p in r["curve"]],
                           "y": [p["model"] for p in r["curve"]]})
            own.append([p["paint_by_parsing"] for p in r["curve"]])
        n = min(map(len, own))  # the points every run of this lr reached
        steps = [p["step"] for p in next(r for r in runs if r["lr"] == lr)["curve"][:n]]
        series.append({"label": "paint, own parsing (mean)", "colour": LIGHT_GREY, "x": steps,
                       "y": list(np.mean([o[:n] for o in own], axis=0)), "dashed": True})
        true = results["baselines"]["paint_by_parsing_true"]
        series.append({"label": "paint, true parsing", "colour": GREY, "dashed": True,
                       "x": [steps[0], steps[-1]], "y": [true, true]})
        panels.append(line_plot(
            series, title=f"lr {lr:g}, batch {s['batch']}, {reached} steps{planned}, "
                          f"{results['baselines']['held_out_pairs']} held-out pairs",
            xlabel="training step", ylabel="person L1 (0..255)"))
    pixels = np.concatenate(panels, axis=1)
    save_png_atomic(path, pixels)
    return pixels
