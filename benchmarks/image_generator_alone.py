"""The image generator G_i trained alone, fast, to ask one question at a time (issue 24).

    python -m benchmarks.image_generator_alone --data RECORDS --steps 1500 --out RUN.jsonl \
        [--identity-fraction P] [--batch-size 8] [--lr 1e-3] [--beta-1 0.5] \
        [--output-clamp hard|straight_through] [--convolution gated|vanilla] \
        [--attention-gamma G] [--no-output-batch-norm] [--person-weight W] \
        [--lr-decay constant|linear] [--ngf 16] [--every 250] [--seed 0]

G_i of the tiny preset (64x44, ngf 16; `--ngf` sets the width of every layer) is trained as in
the paper's phase 2 (the true target parsing as its one-hot guide, L1 on the whole picture,
Adam), without G_p, the discriminators or the trainer's bookkeeping, so one question costs
minutes. Every `--every` steps it writes one JSON line with the held-out person-region L1
(0..255, `pinet_tf.metrics.person.person_l1`, inference mode, the first 64 pairs of the records'
test split) of:

- `cross`: the pose transfer it is trained for (source -> target, true target parsing);
- `ident`: the unmoved source (target pose and parsing = the source's), scored against the source;
- `stray_mark_pairs`: the fraction of those pairs whose `cross` picture has a stray mark
  (`pinet_tf.metrics.person.stray_pixels`, at least `STRAY_MIN_PIXELS` pixels);
- `clamped`: the fraction of `cross` output values (pixels x channels) at the clamp, |x| >= 1.

`--identity-fraction P` trains a fraction P of the steps on such unmoved pairs (P = 1: only).
`--person-weight W` is `pinet-tf train --l1-person-weight W`: the L1 counts each pixel of the
picture's person (true class not background) W times. `--lr-decay linear` lowers the learning
rate linearly from `--lr` to 0 over the run (the trainer's `--decay-steps` = all the steps).
`--no-output-batch-norm` is `pinet-tf train --no-output-batch-norm` (no BatchNorm on G_i's last
layer). The one knob that is not a `pinet-tf train` option is an experiment, not a setting: the
attention's `gamma` starting value (the authors': 0). `docs/results/appearance.md` has what they
measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np

HELD_OUT_BATCHES = 4  # of 16 pairs


def build(args):
    import keras

    from pinet_tf.config import ModelConfig
    from pinet_tf.models.generators import build_image_generator

    cfg = dataclasses.replace(ModelConfig.tiny(), ngf=args.ngf, output_clamp=args.output_clamp,
                              convolution=args.convolution,
                              output_batch_norm=not args.no_output_batch_norm)
    keras.utils.set_random_seed(args.seed)
    model = build_image_generator(cfg)
    if args.attention_gamma is not None:
        model.get_layer("gi_attention").gamma.assign([args.attention_gamma])
    return model, cfg


def pair_inputs(batch, identity: bool):
    """(G_i inputs, the picture it should draw, that picture's parsing)."""
    side = "source" if identity else "target"
    inputs = {"source_image": batch["source_image"],
              "source_parsing_onehot": batch["source_parsing_onehot"],
              "parsing_guide": batch[f"{side}_parsing_onehot"],
              "target_heatmaps": batch[f"{side}_heatmaps"]}
    return inputs, batch[f"{side}_image"], batch[f"{side}_parsing"]


def run(args, log=print) -> list:
    import keras
    import tensorflow as tf

    from pinet_tf.losses import l1_loss, person_pixel_weights
    from pinet_tf.metrics.person import STRAY_MIN_PIXELS, person_l1, stray_pixels
    from pinet_tf.models.encoding import float_to_uint8
    from pinet_tf.training.config import TrainConfig
    from pinet_tf.training.distribute import numeric_features
    from pinet_tf.training.run import held_out, held_out_split, training_data

    model, cfg = build(args)
    lr = args.lr if args.lr_decay == "constant" else (
        keras.optimizers.schedules.PolynomialDecay(args.lr, args.steps, 0.0))
    optimizer = keras.optimizers.Adam(lr, beta_1=args.beta_1, beta_2=0.999)
    stream = iter(numeric_features(training_data(args.data, cfg,
                                                 TrainConfig(batch_size=args.batch_size))))
    held = [{k: v for k, v in b.items() if v.dtype != tf.string}
            for b in held_out(args.data, held_out_split(args.data), cfg, 16).take(
                HELD_OUT_BATCHES)]

    @tf.function
    def step(inputs, goal, parsing_onehot):
        with tf.GradientTape() as tape:
            loss = l1_loss(model(inputs, training=True)["image"], goal,
                           person_pixel_weights(parsing_onehot, args.person_weight))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def score():
        found, marks, clamped = {}, [], []
        for batch in held:
            for name, identity in (("cross", False), ("ident", True)):
                inputs, goal, parsing = pair_inputs(batch, identity)
                raw = model(inputs, training=False)["image"]
                image, truth = np.asarray(float_to_uint8(raw)), np.asarray(float_to_uint8(goal))
                found.setdefault(name, []).append(person_l1(image, truth, np.asarray(parsing)))
                if not identity:
                    marks.append(stray_pixels(image, truth, np.asarray(parsing)))
                    clamped.append(np.mean(np.abs(np.asarray(raw)) >= 1.0, axis=(1, 2, 3)))
        return {**{k: float(np.nanmean(np.concatenate(v))) for k, v in found.items()},
                "stray_mark_pairs": float(np.mean(np.concatenate(marks) >= STRAY_MIN_PIXELS)),
                "clamped": float(np.mean(np.concatenate(clamped)))}

    rng, points, start = np.random.default_rng(args.seed), [], time.perf_counter()
    for s in range(1, args.steps + 1):
        identity = bool(rng.random() < args.identity_fraction)
        inputs, goal, _ = pair_inputs(next(stream), identity)
        loss = step(inputs, goal, inputs["parsing_guide"])  # the guide: the goal's true parsing
        if s % args.every == 0 or s == args.steps:
            point = {"step": s, **score(), "loss": float(loss),
                     "seconds": round(time.perf_counter() - start, 1)}
            points.append(point)
            log(json.dumps(point))
    return points


def parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks.image_generator_alone",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, metavar="RECORDS")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", required=True, help="JSON lines, one per --every steps")
    p.add_argument("--identity-fraction", type=float, default=0.0, metavar="P")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta-1", type=float, default=0.5)
    p.add_argument("--output-clamp", default="hard", choices=("hard", "straight_through"))
    p.add_argument("--convolution", default="gated", choices=("gated", "vanilla"))
    p.add_argument("--attention-gamma", type=float, default=None, metavar="G")
    p.add_argument("--no-output-batch-norm", action="store_true")
    p.add_argument("--person-weight", type=float, default=1.0, metavar="W")
    p.add_argument("--lr-decay", default="constant", choices=("constant", "linear"))
    p.add_argument("--ngf", type=int, default=16, help="G_i's width unit (the tiny preset's: 16)")
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    problems = [f"{name} must be >= 1, got {value}" for name, value in
                (("--steps", args.steps), ("--batch-size", args.batch_size),
                 ("--every", args.every)) if value < 1]
    if not 0 <= args.identity_fraction <= 1:
        problems.append(f"--identity-fraction must be in [0, 1], got {args.identity_fraction}")
    if not args.person_weight > 0:
        problems.append(f"--person-weight must be > 0, got {args.person_weight}")
    if problems:
        print(f"{p.prog}: error: {problems[0]}", file=sys.stderr)
        return 2
    try:
        points = run(args)
    except (OSError, ValueError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    from pinet_tf.utils.atomic import write_text

    write_text(args.out, "".join(json.dumps(point) + "\n" for point in points))
    return 0


if __name__ == "__main__":
    sys.exit(main())
