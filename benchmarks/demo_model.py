"""Write pinet-tf's built-in demo model (`pinet_tf/inference/demo/`) from a quality-benchmark
recipe's run.

    python -m benchmarks.quality --recipe small --work /tmp/quality --demo   # trains, then writes
    python -m benchmarks.demo_model --run /tmp/quality/runs/gan              # from a finished run

The run must be the recipe's demo variant (`Recipe.demo_variant`: 'gan' for `small`, 'no_gan' for
`appearance`); its config and train_config.json are checked against the recipe's: steps, batch
size, learning rate and its decay, GAN, perceptual and person-L1 weights, seed, output clamp.
For a recipe with a fine-tune (`Recipe.fine_tune_args`, the `appearance` recipe) the run is the
fine-tune, and the run it started from (its `init_weights`) is checked against the first
command. The
manifest records what the model is: the recipe, the `pinet-tf train` command, the data (the
`pinet-tf synth` command and the held-out identities), the run's own train_config.json, its wall
time when the benchmark recorded it, and the command that regenerates it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict

from benchmarks.quality_recipes import FIRST_SUFFIX, RECIPES, fine_tune_args, train_args


def _option(command: list, name: str, default):
    """The value after `name` in a `pinet-tf train` argument list (the last one wins, as in
    argparse), else `default`."""
    values = [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == name]
    return values[-1] if values else default


def _check_run(run: str, recipe_name: str, recipe, command: list, what: str) -> dict:
    """`run`'s train_config.json, after checking it and its config against the `pinet-tf train`
    arguments `command` (steps, batch size, learning rate and its decay, loss weights, seed,
    output clamp); a ValueError names what differs."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.models.io import RUN_CONFIG
    from pinet_tf.training.config import TrainConfig

    cfg = ModelConfig.load(os.path.join(run, RUN_CONFIG)) if os.path.isdir(run) else None
    if cfg is None or cfg.name != recipe.config:
        raise ValueError(f"{run}: not a run of the {recipe_name!r} recipe (config "
                         f"{cfg.name if cfg else None!r}, expected {recipe.config!r})")
    # through TrainConfig, so that a key a run from before an option did not write takes the
    # value the trainer gave it (e.g. the joint phase's person weight: the person weight)
    train_config = TrainConfig.load(os.path.join(run, "train_config.json")).to_dict()
    want = {"schedule": _option(command, "--schedule", "paper"),
            "steps": [int(s) for s in _option(command, "--steps", "").split(",")],
            "batch_size": int(_option(command, "--batch-size", 0)),
            "learning_rate": float(_option(command, "--lr", 0)),
            "gan_weight": float(_option(command, "--gan-weight", 5)),
            "perceptual_weight": float(_option(command, "--perceptual-weight", 0)),
            "seed": int(_option(command, "--seed", 0)),
            "l1_person_weight": float(_option(command, "--l1-person-weight", 1))}
    want["l1_person_weight_joint"] = float(_option(command, "--l1-person-weight-joint",
                                                   want["l1_person_weight"]))
    decay = _option(command, "--decay-steps", None)
    if decay is not None:
        want["decay_steps"] = int(decay)
    used = {k: train_config[k] for k in want}
    clamp = _option(command, "--output-clamp", None)
    if clamp is not None:
        want["output_clamp"], used["output_clamp"] = clamp, cfg.output_clamp
    differ = [f"{k} {used[k]} (recipe: {want[k]})" for k in want if used[k] != want[k]]
    if differ:
        raise ValueError(f"{run}: not the {recipe_name!r} recipe's {what}: " + ", ".join(differ))
    return train_config


def _first_run(run: str, train_config: dict) -> str:
    """The run a fine-tune started from (its train_config's init_weights: absolute, or relative
    to where it was trained, tried from here and from the fine-tune's own folder)."""
    start = train_config.get("init_weights")
    if not start:
        raise ValueError(f"{run}: not a fine-tune (its train_config.json has no init_weights)")
    for path in (start, os.path.join(os.path.dirname(os.path.abspath(run)), start)):
        if os.path.isdir(path):
            return path
    raise ValueError(f"{run}: the run it was fine-tuned from, {start}, is not found (tried "
                     f"{os.path.abspath(start)} and beside {run})")


def about(run: str, recipe_name: str) -> dict:
    """The manifest's description of the demo model trained by `run`."""
    from pinet_tf.datasets.synthetic import split_identities

    recipe = RECIPES[recipe_name]
    what = f"{recipe.demo_variant!r} run"
    first_command = train_args(recipe, recipe.demo_variant, "RECORDS",
                               "RUN" + FIRST_SUFFIX if recipe.fine_tune_args else "RUN")
    if recipe.fine_tune_args:
        command = fine_tune_args(recipe, "RECORDS", "RUN" + FIRST_SUFFIX, "RUN")
        train_config = _check_run(run, recipe_name, recipe, command, f"fine-tune of the {what}")
        first = _first_run(run, train_config)
        first_train_config = _check_run(first, recipe_name, recipe, first_command, what)
        commands = [first_command, command]
    else:
        train_config = _check_run(run, recipe_name, recipe, first_command, what)
        first_train_config, commands = None, [first_command]
    training_command = " && ".join("pinet-tf " + shlex.join(map(str, c)) for c in commands)
    timing = run.rstrip(os.sep) + ".train_seconds.json"
    timed = {}
    if os.path.isfile(timing):  # what the quality benchmark recorded for this run
        with open(timing) as f:
            timed = json.load(f)
    plan = split_identities(recipe.identities, 0.1)
    synth = (f"pinet-tf synth --out DATA --identities {recipe.identities} --poses-per-identity "
             f"{recipe.poses_per_identity} --size {recipe.size} --seed {recipe.seed}")
    return {
        "what": f"pinet-tf's built-in demo model: the generator (G_p and G_i) of the "
                f"{recipe_name!r} recipe's run (benchmarks/quality_recipes.py), trained on "
                f"synthetic people only (not photos)",
        "recipe": {"name": recipe_name, **asdict(recipe)},
        "training_command": training_command,
        "train_config": train_config,
        # a recipe with a fine-tune: the train_config.json of the run it started from
        **({"first_train_config": first_train_config} if first_train_config else {}),
        "train_seconds": timed.get("train_seconds"),
        "train_load_average": timed.get("load_average"),
        # how the run was made, where the one command above is not the whole story
        "train_note": timed.get("note"),
        "data": {"command": synth, "records": "pinet-tf make-tfrecords --data DATA --out RECORDS",
                 "train_identities": [plan.train_identities[0], plan.train_identities[-1]],
                 "held_out_identities": [plan.test_identities[0], plan.test_identities[-1]],
                 "held_out": "the last 10% of identities (inclusive range above), never "
                             "trained on",
                 "seed": recipe.seed, "size": recipe.size, "identities": recipe.identities,
                 "poses_per_identity": recipe.poses_per_identity},
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "regenerate": (f"python -m benchmarks.quality --recipe {recipe_name} --work /tmp/quality "
                       f"--demo") if recipe_name != "appearance" else (
            f"{synth}; pinet-tf make-tfrecords --data DATA --out RECORDS; "
            + training_command.replace(" && ", "; ")
            + "; python -m benchmarks.demo_model --recipe appearance --run RUN"),
        "note": "training on CPU is not bit-reproducible across machines and thread counts, so a "
                "regenerated model has another sha256 and slightly different figures",
    }


CURVES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                      "appearance_curves.json")


def write_demo_model(run: str, recipe_name: str = "small", out_dir: str | None = None,
                     curve: str | None = None) -> dict:
    from pinet_tf.inference.demo import DEMO_DIR, write_demo
    from pinet_tf.utils.readers import read_json

    described = about(run, recipe_name)
    if curve:  # the run's held-out appearance curve (benchmarks/curves.py summary)
        runs = read_json(CURVES, "appearance curves")
        if curve not in runs:
            raise ValueError(f"{CURVES}: no run labelled {curve!r} (has {sorted(runs)})")
        summary = runs[curve]
        described["held_out_person_l1"] = {
            "source": f"benchmarks/results/appearance_curves.json[{curve!r}]",
            "measure": "mean |result - truth| in 0..255 over the true target person, "
                       "held-out identities",
            **{k: summary["last"].get(k) for k in ("step", "pairs", "model",
                                                    "paint_by_parsing",
                                                    "paint_by_parsing_true", "flat_grey",
                                                    "copy_source")}}
    manifest = write_demo(run, described, out_dir)
    folder = out_dir or DEMO_DIR
    print(f"wrote the demo model to {folder} ({manifest['weights']['bytes'] / 1e6:.1f} MB, "
          f"sha256 {manifest['weights']['sha256'][:16]}...)")
    return manifest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.demo_model",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="the run directory of the recipe's demo "
                   "variant (quality benchmark: WORK/runs/VARIANT)")
    p.add_argument("--curve", default=None, help="the run's curve summary to record (a label "
                   "of benchmarks/results/appearance_curves.json)")
    p.add_argument("--recipe", default="small", choices=sorted(RECIPES))
    p.add_argument("--out", help="folder (default: pinet_tf/inference/demo/ of this checkout)")
    args = p.parse_args(argv)
    try:
        write_demo_model(args.run, args.recipe, args.out, args.curve)
    except (ValueError, OSError) as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
