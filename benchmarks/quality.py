"""Quality benchmark: does the model carry appearance into the new pose, and what does the GAN add?

    python -m benchmarks.quality --recipe small --work /tmp/quality     # two runs, ~2 h on 2 cores
    python -m benchmarks.quality --recipe small --variants full,vanilla   # Table 3-like
    python -m benchmarks.quality --recipe small --work /tmp/quality --demo  # + the demo model

One command, from a clean clone: it makes a synthetic people set (identities x poses, the last
10% of identities held out), converts it to records, trains the recipe once per variant with
`pinet-tf train` (everything equal but the variant's own change: by default the GAN term off and
on; a recipe with `fine_tune_args`, such as `appearance`, trains twice, the second run from the
first's weights, and evaluates the second), evaluates each with `pinet-tf evaluate` (L1, SSIM,
PSNR and its baselines copy-the-source, mean image, paint-by-parsing with the model's predicted
and with the true target parsing, flat grey) and adds the appearance measures of
`pinet_tf.metrics.appearance` (per-region mean-colour error, garment high-frequency energy ratio
and high-pass correlation) and the person-region L1 (0..255) for every variant and baseline, on
every held-out pair. It writes
`benchmarks/results/quality-RECIPE.json` (figures, goals, conditions, wall times) and a picture
(`docs/images/quality.png`): source | target pose | predicted parsing (of the first variant that
has one: a one-stage model has none) | paint-by-parsing with it (else with the true parsing) |
one column per variant | target, for 6 held-out pairs at evenly spaced indices of the test
split in record order (a fixed rule, not a choice).

Each step is a subprocess of the CLI a user runs, so the benchmark measures what users get.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np

from benchmarks.quality_recipes import (FIRST_SUFFIX, RECIPES, SAME_RUN, VARIANTS,  # noqa: F401
                                        Recipe, fine_tune_args, train_args)
from pinet_tf.utils.atomic import write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: The issue's goals: (measure, how it is read, bound).
GOALS = (
    ("l1_vs_copy_source", "<=", 0.6),
    ("skin_colour_error_vs_mean_image", "<=", 0.5),
    ("upper_clothes_colour_error_vs_mean_image", "<=", 0.5),
    ("hf_energy_ratio", ">=", 0.5),
    ("hf_correlation", ">=", 0.3),
)
PICTURE_PAIRS = 6


def cli(*args, log=None) -> float:
    """Run `pinet-tf ARGS` in a subprocess; return its wall time; stop on failure."""
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pinet_tf.cli", *map(str, args)]
    print("+ pinet-tf " + " ".join(map(str, args)), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT if log else None)
    if result.returncode:
        raise SystemExit(f"benchmarks.quality: `pinet-tf {args[0]}` failed with exit status "
                         f"{result.returncode}" + (f" (log: {log.name})" if log else ""))
    return time.perf_counter() - start


def make_data(recipe: Recipe, work: str, log) -> str:
    records = os.path.join(work, "records")
    if not os.path.isfile(os.path.join(records, "manifest.json")):
        data = os.path.join(work, "data")
        cli("synth", "--out", data, "--identities", recipe.identities, "--poses-per-identity",
            recipe.poses_per_identity, "--size", recipe.size, "--seed", recipe.seed, log=log)
        cli("make-tfrecords", "--data", data, "--out", records, log=log)
    return records


def train_and_evaluate(recipe: Recipe, variant: str, records: str, work: str, log) -> dict:
    run = os.path.join(work, "runs", SAME_RUN.get(variant, variant))
    timing = run + ".train_seconds.json"
    if not os.path.isfile(os.path.join(run, "generator.weights.h5")):
        if recipe.fine_tune_args:  # train, then fine-tune from its weights
            first = run + FIRST_SUFFIX
            seconds = 0.0
            if not os.path.isfile(os.path.join(first, "generator.weights.h5")):
                seconds = cli(*train_args(recipe, variant, records, first), log=log)
            seconds += cli(*fine_tune_args(recipe, records, first, run), log=log)
        else:
            seconds = cli(*train_args(recipe, variant, records, run), log=log)
        write_json(timing, {"train_seconds": seconds, "load_average": os.getloadavg()})
    seconds = None
    if os.path.isfile(timing):  # a run reused from an earlier call keeps its own wall time
        with open(timing) as f:
            seconds = json.load(f)["train_seconds"]
    report_path = os.path.join(work, "eval", variant, "report.json")
    cli("evaluate", "--run", run, "--data", records, "--out", report_path, "--no-progress",
        log=log)
    with open(report_path) as f:
        report = json.load(f)
    return {"run": run, "train_seconds": seconds, "report": report}


def _test_pairs(records: str, cfg):
    """The held-out pairs in record order, as uint8 arrays (what the model's frame holds)."""
    from pinet_tf.datasets import make_dataset
    from pinet_tf.models.encoding import float_to_uint8

    pairs = {k: [] for k in ("source_image", "source_parsing", "source_keypoints",
                             "target_keypoints", "target_image", "target_parsing")}
    for batch in make_dataset(records, "test", cfg, 16, training=False):
        for key in pairs:
            value = batch[key]
            if key.endswith("_image"):
                value = float_to_uint8(value)
            pairs[key].append(np.asarray(value))
    return {k: np.concatenate(v) for k, v in pairs.items()}


def _mean_training_image(records: str, cfg) -> np.ndarray:
    from pinet_tf.datasets import make_dataset

    total, count = 0.0, 0
    for batch in make_dataset(records, "train", cfg, 32, training=False):
        images = (np.asarray(batch["target_image"], np.float64) + 1.0) * 127.5
        total, count = total + images.sum(0), count + len(images)
    return np.round(total / count).clip(0, 255).astype(np.uint8)


def _predicted_parsing(results: dict):
    """The predicted parsing of the first variant that has one (a one-stage model has none)."""
    return next((r["parsing"] for r in results.values() if r["parsing"] is not None), None)


def baseline_images(pairs: dict, results: dict, mean_image: np.ndarray) -> dict:
    """Each baseline's predictions (`pinet_tf.evaluation.baselines`): copy-the-source, the mean
    image, paint-by-parsing with the first variant's predicted parsing (when one has it) and
    with the true target parsing, flat grey."""
    from pinet_tf.evaluation import baselines as b

    src, sp = pairs["source_image"], pairs["source_parsing"]
    out = {b.COPY_SOURCE: src,
           b.MEAN_IMAGE: np.broadcast_to(mean_image, pairs["target_image"].shape)}
    parsed = _predicted_parsing(results)
    if parsed is not None:
        out[b.PAINT] = b.paint_by_parsing(src, sp, parsed)
    out[b.PAINT_TRUE] = b.paint_by_parsing(src, sp, pairs["target_parsing"])
    out[b.FLAT_GREY] = np.full_like(src, 128)
    return out


def appearance(results: dict, pairs: dict, mean_image: np.ndarray) -> dict:
    """Appearance measures and the person-region and background L1 (0..255) of each variant and
    baseline (the background L1 shows a person drawn too wide, which the person-region L1 cannot
    see), and the fraction of pairs with a stray mark away from the person
    (`pinet_tf.metrics.person.stray_pixels`)."""
    from pinet_tf.metrics.appearance import appearance_measures
    from pinet_tf.metrics.person import STRAY_MIN_PIXELS, background_l1, person_l1, stray_pixels

    targets, parsings = pairs["target_image"], pairs["target_parsing"]
    methods = {name: r["images"] for name, r in results.items()}
    methods.update(baseline_images(pairs, results, mean_image))
    out = {}
    for name, images in methods.items():
        out[name] = appearance_measures(images, targets, parsings)
        values = person_l1(images, targets, parsings)
        out[name]["person_l1"] = {"mean": float(np.nanmean(values)),
                                  "pairs": int(np.isfinite(values).sum())}
        values = background_l1(images, targets, parsings)
        out[name]["background_l1"] = {"mean": float(np.nanmean(values)),
                                      "pairs": int(np.isfinite(values).sum())}
        values = stray_pixels(images, targets, parsings)
        out[name]["stray_mark_pairs"] = {"mean": float(np.mean(values >= STRAY_MIN_PIXELS)),
                                         "pairs": int(len(values))}
    return out


def goals(variant_report: dict, measures: dict, variant: str) -> list:
    """Each goal's value for `variant` and whether it is met."""
    l1 = variant_report["metrics"]["model"]["l1"]
    copy_l1 = variant_report["metrics"]["copy_source"]["l1"]
    m, mean = measures[variant], measures["mean_image"]
    value = {
        "l1_vs_copy_source": l1 / copy_l1,
        "skin_colour_error_vs_mean_image":
            m["colour_error_skin"]["mean"] / mean["colour_error_skin"]["mean"],
        "upper_clothes_colour_error_vs_mean_image":
            m["colour_error_upper_clothes"]["mean"] / mean["colour_error_upper_clothes"]["mean"],
        "hf_energy_ratio": m["hf_energy_ratio"]["mean"],
        "hf_correlation": m["hf_correlation"]["mean"],
    }
    return [{"goal": name, "rule": f"{op} {bound}", "value": value[name],
             "met": value[name] <= bound if op == "<=" else value[name] >= bound}
            for name, op, bound in GOALS]


def picture(pairs: dict, results: dict, path: str, names: dict | None = None) -> None:
    """names: a column title per variant (default: the variant's name)."""
    from pinet_tf.metrics.person import paint_by_parsing
    from pinet_tf.utils import drawing

    n = len(pairs["source_image"])
    index = np.linspace(0, n - 1, min(PICTURE_PAIRS, n)).round().astype(int)
    h, w = pairs["source_image"].shape[1:3]
    parsed = _predicted_parsing(results)
    # paint-by-parsing with that parsing (else with the true target parsing)
    painted = paint_by_parsing(pairs["source_image"], pairs["source_parsing"],
                               pairs["target_parsing"] if parsed is None else parsed)
    rows = []
    for i in index:
        row = [pairs["source_image"][i],
               drawing.draw_skeleton(pairs["target_keypoints"][i], h, w)]
        row += [] if parsed is None else [drawing.colorize_parsing(parsed[i])]
        row += [painted[i]] + [r["images"][i] for r in results.values()]
        rows.append(row + [pairs["target_image"][i]])
    scale = max(1, -(-96 // w))  # small frames are enlarged so that the column titles fit
    rows = [[np.repeat(np.repeat(np.asarray(c), scale, 0), scale, 1) for c in row] for row in rows]
    titles = (["source", "target pose"] + ([] if parsed is None else ["predicted parsing"])
              + ["paint-by-parsing" if parsed is not None else "paint (true parsing)"]
              + [(names or {}).get(v, v) for v in results] + ["target"])
    drawing.save_png_atomic(path, drawing.image_grid(rows, titles=titles,
                                                     legend=parsed is not None))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split(
        "\n")[0])
    p.add_argument("--recipe", default="small", choices=sorted(RECIPES))
    p.add_argument("--variants", help=f"comma-separated, from {sorted(VARIANTS)} (default: the "
                                      f"recipe's no_gan,gan)")
    p.add_argument("--work", required=True, help="folder for data, runs and reports (reused)")
    p.add_argument("--results", help="results JSON (default benchmarks/results/quality-RECIPE"
                                     "[-VARIANTS].json)")
    p.add_argument("--picture", help="picture PNG (default docs/images/quality.png)")
    p.add_argument("--demo", action="store_true",
                   help="also write the built-in demo model (pinet_tf/inference/demo/) from the "
                        "recipe's demo variant's run (benchmarks/demo_model.py)")
    args = p.parse_args(argv)
    recipe = RECIPES[args.recipe]
    variants = tuple(args.variants.split(",")) if args.variants else recipe.variants
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    if args.demo and recipe.demo_variant not in variants:
        p.error(f"--demo writes the demo model from the {recipe.demo_variant!r} variant: add it "
                f"to --variants")
    suffix = "" if variants == recipe.variants else "-" + "-".join(variants)
    results_path = args.results or os.path.join(ROOT, "benchmarks", "results",
                                                f"quality-{args.recipe}{suffix}.json")
    picture_path = args.picture or os.path.join(ROOT, "docs", "images", f"quality{suffix}.png")
    os.makedirs(args.work, exist_ok=True)
    start = time.perf_counter()
    with open(os.path.join(args.work, "log.txt"), "a") as log:
        records = make_data(recipe, args.work, log)
        runs = {v: train_and_evaluate(recipe, v, records, args.work, log) for v in variants}

    from pinet_tf.inference.predictor import load_predictor
    from pinet_tf.models.io import load_generator

    cfg = load_generator(next(iter(runs.values()))["run"])[1]
    pairs = _test_pairs(records, cfg)
    for run in runs.values():
        predictor = load_predictor(run["run"])
        run["images"], run["parsing"] = predictor.transfer(
            pairs["source_image"], pairs["source_parsing"], pairs["source_keypoints"],
            pairs["target_keypoints"])
    measures = appearance(runs, pairs, _mean_training_image(records, cfg))
    picture(pairs, runs, picture_path, {"no_gan": "model (no GAN term)"})
    out = {
        "recipe": {"name": args.recipe, **asdict(recipe), "variants": list(variants)},
        "held_out_pairs": int(len(pairs["source_image"])),
        "conditions": {"machine": platform.processor() or platform.machine(),
                       "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "wall_seconds": time.perf_counter() - start},
        "variants": {v: {"train_seconds": r["train_seconds"],
                         "metrics": r["report"]["metrics"],
                         "appearance": measures[v], "goals": goals(r["report"], measures, v)}
                     for v, r in runs.items()},
        "baselines": {b: {"metrics": next(iter(runs.values()))["report"]["metrics"].get(b),
                          "appearance": measures[b]}
                      for b in measures if b not in runs},
        "picture": os.path.relpath(picture_path, ROOT),
    }
    write_json(results_path, out)
    print(f"wrote {results_path} and {picture_path}")
    if args.demo:
        from benchmarks.demo_model import write_demo_model

        write_demo_model(runs[recipe.demo_variant]["run"], args.recipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
