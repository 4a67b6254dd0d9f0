"""Learning curves of the held-out appearance measure: one picture for one or more runs.

Each run's RUN_DIR/curve.jsonl (written by `pinet_tf.training.callbacks.AppearanceCurve` when a
run trains with `--curve-every N`) holds, every N steps, the held-out person-region L1 (0..255)
of the model and of the parameter-free baselines on the same pairs. This draws the model's curve
of every run, with each run's paint-by-parsing (own parsing) as a dashed line of the same colour,
and writes a summary JSON (the last point of every run, and the first step where the model beats
paint-by-parsing, if any):

    python -m benchmarks.curves RUN_DIR[=LABEL] ... --out docs/images/appearance_curves.png \
        [--summary benchmarks/results/appearance_curves.json] [--title TEXT]
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks.plot import PALETTE, line_plot


def _read(run):
    from pinet_tf.training.callbacks import read_curve

    path = os.path.join(run, "curve.jsonl")
    if not os.path.isfile(path):
        raise ValueError(f"{run}: no curve.jsonl (train with --curve-every N)")
    points = read_curve(path)
    if not points:
        raise ValueError(f"{path}: no points")
    return points


def summarise(points) -> dict:
    """The last point, the best model point and the first step where model < paint-by-parsing.

    The step-0 point (untrained weights) is left out of the last two: there G_p's parsing is
    noise, so paint-by-parsing with it is worse than the untrained model's near-grey picture,
    and every run would "beat" it before learning anything."""
    last = points[-1]
    trained = [p for p in points if p["step"] > 0] or points
    crossed = next((p["step"] for p in trained if "paint_by_parsing" in p
                    and p["model"] < p["paint_by_parsing"]), None)
    best = min(trained, key=lambda p: p["model"])
    return {"last": last, "best_model": {"step": best["step"], "model": best["model"]},
            "first_step_below_paint_by_parsing": crossed,
            "points": [{k: p[k] for k in ("step", "model", "paint_by_parsing",
                                          "paint_by_parsing_true", "flat_grey") if k in p}
                       for p in points]}


def plot(runs: dict, title: str = "") -> object:
    """runs: {label: points}. The picture (uint8 array)."""
    series = []
    for i, (label, points) in enumerate(runs.items()):
        colour = PALETTE[i % len(PALETTE)]
        steps = [p["step"] for p in points]
        series.append({"label": f"{label}: model", "x": steps, "y": [p["model"] for p in points],
                       "colour": colour})
        if any("paint_by_parsing" in p for p in points):
            series.append({"label": f"{label}: paint (own parsing)", "x": steps,
                           "y": [p.get("paint_by_parsing") for p in points], "colour": colour,
                           "dashed": True})
    first = next(iter(runs.values()))
    steps = [p["step"] for p in first]
    for name, colour in (("paint_by_parsing_true", (0, 0, 0)), ("flat_grey", (160, 160, 160))):
        series.append({"label": f"{name} ({list(runs)[0]})", "x": steps,
                       "y": [p[name] for p in first], "colour": colour, "dashed": True})
    return line_plot(series, title=title, xlabel="training step",
                     ylabel="held-out person L1 (0..255)", ylim=(0, 80))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="RUN_DIR or RUN_DIR=LABEL")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--summary", default=None, help="a JSON summary to write")
    parser.add_argument("--title", default="held-out person-region L1: model vs paint-by-parsing")
    parser.add_argument("--notes", default=None, help="a JSON file of {label: text} (the exact "
                        "command and conditions of each run) to store in the summary")
    args = parser.parse_args(argv)
    from pinet_tf.utils.atomic import write_json
    from pinet_tf.utils.drawing import save_png_atomic

    try:
        runs = {}
        for spec in args.runs:
            run, _, label = spec.partition("=")
            runs[label or os.path.basename(os.path.normpath(run))] = _read(run)
    except (OSError, ValueError) as e:
        print(f"benchmarks.curves: error: {e}", file=sys.stderr)
        return 2
    save_png_atomic(args.out, plot(runs, args.title))
    if args.summary:
        notes = {}
        if args.notes:
            import json

            with open(args.notes) as f:
                notes = json.load(f)
        write_json(args.summary, {label: {"run": notes.get(label), **summarise(p)}
                                  for label, p in runs.items()})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
