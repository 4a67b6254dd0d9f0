"""The image generator G_i trained alone, fast, to ask one question at a time (issue 24).

    python -m benchmarks.image_generator_alone --data RECORDS --steps 1500 --out RUN.jsonl \
        [--identity-fraction P] [--batch-size 8] [--lr 1e-3] [--beta-1 0.5] \
        [--output-clamp hard|straight_through] [--convolution gated|vanilla] \
        [--attention-gamma G] [--no-output-batch-norm] [--person-weight W] \
        [--lr-decay constant|linear] [--ngf 16] [--every 250] [--seed 0] \
        [--attention-class-weight W] [--attention-class-rows all|person] \
        [--attention-oracle] [--skip-connections]

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
- `clamped`: the fraction of `cross` output values (pixels x channels) at the clamp, |x| >= 1;
- `lookup_person`: how far G_i's self-attention is from a class lookup in the target person,
  on those pairs: the cross-entropy of each attention row of a person position against the
  source positions of that position's class, equally weighted (`class_lookup_targets`: what
  paint-by-parsing takes the mean colour of), and `lookup_person_floor`, that cross-entropy
  for an attention equal to the lookup (one spread evenly over the 176 positions of 64x44:
  log 176 = 5.17);
- and of the last training batch: `loss`, `lookup` (the same cross-entropy over the rows the
  loss uses, below) and the attention's `gamma`.

`--identity-fraction P` trains a fraction P of the steps on such unmoved pairs (P = 1: only).
`--person-weight W` is `pinet-tf train --l1-person-weight W`: the L1 counts each pixel of the
picture's person (true class not background) W times. `--lr-decay linear` lowers the learning
rate linearly from `--lr` to 0 over the run (the trainer's `--decay-steps` = all the steps).
`--no-output-batch-norm` is `pinet-tf train --no-output-batch-norm` (no BatchNorm on G_i's last
layer). The knobs that are not `pinet-tf train` options are experiments, not settings: the
attention's `gamma` starting value (the authors': 0), and `--attention-class-weight W`, which
adds W times the lookup cross-entropy to the loss, over every position of the picture (`all`)
or the target person's (`person`): a training signal that teaches the attention to fetch each
class from where the source has it, with no change to the network. Two more change the network
and are measurements, not models (`rebuilt`): `--attention-oracle` puts the exact class lookup
in place of the attention's softmax (what a perfectly learnt lookup would give), and
`--skip-connections` adds the encoder's features to the decoder's at 1/2 and full resolution, a
U-Net's path, which PINet does not have.
`docs/results/appearance.md` has what they measured.
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


def class_lookup_targets(guide, source_onehot, size):
    """[B, N, N] attention each query position should have, and two [B, N] masks: the rows
    that have one, and those of them in the target person (class not background).

    At the attention's resolution (`size` = (h, w), N = h w positions), with the parsing maps
    area-pooled to it: query position p (target parsing, the guide) should look at the source
    positions q of its own class c, equally, as paint-by-parsing takes the mean colour of c in
    the source: T[p, q] = sum_c t[p, c] s[q, c] / n_c, n_c = sum_q s[q, c], renormalised over
    the classes the source has. A row whose classes the source mostly lacks (weight < 0.5) has
    no target.
    """
    from keras import ops

    def pooled(onehot):
        factor = onehot.shape[1] // size[0]
        x = ops.average_pool(ops.cast(onehot, "float32"), factor, factor)
        return ops.reshape(x, (-1, size[0] * size[1], onehot.shape[-1]))

    t, s = pooled(guide), pooled(source_onehot)
    count = ops.sum(s, axis=1, keepdims=True)  # [B, 1, C]
    per_class = ops.divide_no_nan(s, count)  # [B, N, C]: each class's source positions, sum 1
    present = ops.cast(count > 0, "float32")
    t = t * present
    covered = ops.sum(t, axis=-1)  # [B, N]
    targets = ops.matmul(t, ops.transpose(per_class, (0, 2, 1)))
    targets = ops.divide_no_nan(targets, covered[..., None])
    rows = ops.cast(covered >= 0.5, "float32")
    return targets, rows, rows * ops.cast(t[..., 0] < 0.5, "float32")


def rebuilt(model, inputs, training, lookup=False, skips=False):
    """(image, attention input) of G_i applied layer by layer, with its own layers and weights
    in its own order, and either or both of two experiments (not networks of this package):

    - `lookup` (`--attention-oracle`): the attention's query-key softmax replaced by the class
      lookup itself (`class_lookup_targets`, from the true parsings), its value projection and
      `gamma` kept: what G_i would draw if its attention had learnt the lookup exactly;
    - `skips` (`--skip-connections`): the encoder's output at 1/2 and at full resolution
      (layers 3 and 1) added to the decoder's upsampled features of the same size and width
      (layers 13 and 15), as a U-Net passes them on; PINet has no such path.

    With neither, it draws exactly what `model` draws."""
    from keras import ops

    from pinet_tf.models.generators import IMAGE_GENERATOR_INPUTS

    x = model.get_layer("gi_inputs")([inputs[k] for k in IMAGE_GENERATOR_INPUTS])
    encoder = {}
    for i in range(1, 10):
        x = encoder[i] = model.get_layer(f"gi_gc{i}")(x, training=training)
    features, attention = x, model.get_layer("gi_attention")
    if lookup:
        _, h, w, c = x.shape
        targets = class_lookup_targets(inputs["parsing_guide"], inputs["source_parsing_onehot"],
                                       (h, w))[0]
        looked_up = ops.matmul(targets, attention.value(ops.reshape(x, (-1, h * w, c))))
        x = attention.gamma * ops.reshape(looked_up, (-1, h, w, c)) + x
    else:
        x = attention(x)
    for i in range(11, 18):
        x = model.get_layer(f"gi_gc{i}")(x, training=training)
        if skips and i in (13, 15):
            x = x + encoder[16 - i]  # 13 <- 3 (1/2 resolution), 15 <- 1 (full)
    return model.get_layer("image")(x), features


def class_lookup_loss(attention_layer, features, guide, source_onehot, person_only=False):
    """Cross-entropy of the attention's rows against `class_lookup_targets` (an experiment),
    over every row that has a target or (`person_only`) those in the target person; and that
    loss's floor, the targets' entropy (the cross-entropy of an attention equal to them)."""
    from keras import ops

    _, h, w, c = features.shape
    logits = attention_layer.logits(ops.reshape(features, (-1, h * w, c)))
    targets, rows, person = class_lookup_targets(guide, source_onehot, (h, w))
    rows = person if person_only else rows
    ce = -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)
    entropy = -ops.sum(targets * ops.log(ops.where(targets > 0, targets, 1.0)), axis=-1)
    return tuple(ops.divide_no_nan(ops.sum(x * rows), ops.sum(rows)) for x in (ce, entropy))


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

    attention = model.get_layer("gi_attention")
    probe = keras.Model(model.input, [model.output["image"], attention.input])

    def forward(inputs, training):
        if args.attention_oracle or args.skip_connections:
            return rebuilt(model, inputs, training, args.attention_oracle, args.skip_connections)
        return probe(inputs, training=training)

    @tf.function
    def step(inputs, goal, parsing_onehot):
        with tf.GradientTape() as tape:
            image, features = forward(inputs, training=True)
            loss = l1_loss(image, goal, person_pixel_weights(parsing_onehot, args.person_weight))
            lookup, _ = class_lookup_loss(attention, features, inputs["parsing_guide"],
                                          inputs["source_parsing_onehot"],
                                          args.attention_class_rows == "person")
            if args.attention_class_weight:
                loss += args.attention_class_weight * lookup
        grads = tape.gradient(loss, model.trainable_variables)
        # (the oracle leaves the attention's query and key without a gradient)
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables)
                                   if g is not None])
        return loss, lookup

    def score():
        found, marks, clamped = {}, [], []
        for batch in held:
            for name, identity in (("cross", False), ("ident", True)):
                inputs, goal, parsing = pair_inputs(batch, identity)
                raw, features = forward(inputs, training=False)
                image, truth = np.asarray(float_to_uint8(raw)), np.asarray(float_to_uint8(goal))
                found.setdefault(name, []).append(person_l1(image, truth, np.asarray(parsing)))
                if not identity:
                    for key, value in zip(("lookup_person", "lookup_person_floor"),
                                          class_lookup_loss(attention, features,
                                                            inputs["parsing_guide"],
                                                            inputs["source_parsing_onehot"],
                                                            person_only=True)):
                        found.setdefault(key, []).append(np.atleast_1d(float(value)))
                    marks.append(stray_pixels(image, truth, np.asarray(parsing)))
                    clamped.append(np.mean(np.abs(np.asarray(raw)) >= 1.0, axis=(1, 2, 3)))
        return {**{k: float(np.nanmean(np.concatenate(v))) for k, v in found.items()},
                "stray_mark_pairs": float(np.mean(np.concatenate(marks) >= STRAY_MIN_PIXELS)),
                "clamped": float(np.mean(np.concatenate(clamped)))}

    rng, points, start = np.random.default_rng(args.seed), [], time.perf_counter()
    for s in range(1, args.steps + 1):
        identity = bool(rng.random() < args.identity_fraction)
        inputs, goal, _ = pair_inputs(next(stream), identity)
        # the guide: the true parsing of the picture to draw
        loss, lookup = step(inputs, goal, inputs["parsing_guide"])
        if s % args.every == 0 or s == args.steps:
            point = {"step": s, **score(), "loss": float(loss), "lookup": float(lookup),
                     "gamma": float(attention.gamma.numpy()[0]),
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
    p.add_argument("--attention-class-weight", type=float, default=0.0, metavar="W")
    p.add_argument("--attention-class-rows", default="all", choices=("all", "person"))
    p.add_argument("--attention-oracle", action="store_true")
    p.add_argument("--skip-connections", action="store_true")
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
    if not args.attention_class_weight >= 0:
        problems.append(f"--attention-class-weight must be >= 0, got "
                        f"{args.attention_class_weight}")
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
