"""What does the image generator take from the source? A probe of a trained run on held-out pairs.

    python -m benchmarks.appearance_probe RUN_DIR --data RECORDS [--pairs 64] [--split train]
        [--out JSON]

Person-region L1 (0..255, `pinet_tf.metrics.person.person_l1`) on the first `--pairs` held-out
pairs, in record order (`--split train`: the first training pairs instead), of:

- `model`: the run's generator, G_p then G_i in inference mode (what the learning curve measures);
- `gi_true_guide`: G_i given the *true* target parsing (G_p's mistakes taken out);
- `gi_identity`: G_i asked for the source itself (target pose and parsing = the source's): a
  network that carries appearance does this best of all, since nothing has to move;
- `gi_no_attention`: `gi_true_guide` with G_i's self-attention block switched off (its `gamma`
  set to 0 for this prediction, then restored): how much of what G_i draws comes through its one
  global path, the attention, rather than its convolutions;
- `class_prior`: no source information at all: each class of the true target parsing painted with
  the training split's median colour of that class (the typical hair, garment, skin colours);
- `paint_by_parsing` (the model's parsing), `paint_by_parsing_true`, `flat_grey`: the baselines.

Beside them, of the model (not person-region L1): `model_background` (its L1 over the true
background, `background_l1`), `stray_mark_pairs` (the fraction of pairs with a stray mark,
`stray_pixels` >= STRAY_MIN_PIXELS) and `parsing_accuracy` (G_p's argmax against the true
target parsing, per pair, then averaged), so that a lower person L1 cannot hide a worse
background or a worse parsing.

Reading it: `gi_true_guide` near `class_prior` means G_i paints each body part in the dataset's
typical colour and takes (almost) nothing from the source; `gi_identity` near `class_prior` means
it does not even copy an unmoved person, so the limit is learning to carry colour at all, not
learning where to move it. With `--split train` the same figures on pairs the run trained on tell
underfitting from memorising: a G_i that does no better on its own training pairs than on
held-out ones, and no better than `paint_by_parsing_true` on either, has not fitted what it was
shown. Issue 24's demo run was read this way (docs/results/appearance.md).

`where` says *where* inside the person G_i on the true guide loses to flat colours: the
pixel-mean L1 of `gi_true_guide`, `paint_by_parsing_true` and `class_prior` over each class of the
true target parsing (with the class's share of the person's pixels), and over the person's
boundary pixels (a pixel whose 3x3 neighbourhood holds another class) against its interior.
A class where `gi_true_guide` is near `class_prior` and far above `paint_by_parsing_true` is one
whose colour G_i does not take from the source.

`where_unmoved` is the same breakdown for the unmoved source, over the classes of the *source*
parsing: `gi_identity` against `paint_by_parsing_unmoved` (each class of the source painted with
its own mean colour). A class G_i misdraws there as badly as after a pose change is lost on the
way through the network, not on the way to its new place.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

#: The training pairs the class medians are taken from (every 7th pixel of each class).
PRIOR_PAIRS = 640
#: The predictions `where` breaks down by class and by boundary / interior.
WHERE = ("gi_true_guide", "paint_by_parsing_true", "class_prior")
#: The same for the unmoved source (`where_unmoved`), over the source's classes.
WHERE_UNMOVED = ("gi_identity", "paint_by_parsing_unmoved")
#: Each breakdown of the result: its predictions.
BREAKDOWNS = {"where": WHERE, "where_unmoved": WHERE_UNMOVED}


def class_boundary(parsing) -> np.ndarray:
    """[B,H,W] bool: pixels whose 3x3 neighbourhood (edge-padded) holds another class."""
    parsing = np.asarray(parsing)
    height, width = parsing.shape[1:3]
    padded = np.pad(parsing, ((0, 0), (1, 1), (1, 1)), mode="edge")
    found = np.zeros(parsing.shape, bool)
    for dy in range(3):
        for dx in range(3):
            found |= padded[:, dy:dy + height, dx:dx + width] != parsing
    return found


def class_medians(records: str, cfg, num_classes: int = 12, pairs: int = PRIOR_PAIRS):
    """[num_classes, 3] uint8: each class's median colour in the training split's target images
    (grey 128 for a class that never occurs)."""
    from pinet_tf.datasets import make_dataset
    from pinet_tf.models.encoding import float_to_uint8

    pixels = {c: [] for c in range(num_classes)}
    seen = 0
    for batch in make_dataset(records, "train", cfg, 32, training=False):
        images = np.asarray(float_to_uint8(batch["target_image"]))
        labels = np.asarray(batch["target_parsing"])
        for c in range(num_classes):
            found = images[labels == c]
            if len(found):
                pixels[c].append(found[::7])
        seen += len(images)
        if seen >= pairs:
            break
    return np.stack([np.median(np.concatenate(p), 0) if p else np.full(3, 128.0)
                     for p in pixels.values()]).round().astype(np.uint8)


def probe(run: str, records: str, pairs: int = 64, split: str | None = None) -> dict:
    """{measure: its mean} over the first `pairs` pairs of `split` (None: the held-out split;
    module docstring), with "pairs", "split", "where" and "where_unmoved"."""
    from benchmarks.image_generator_alone import pair_inputs
    from pinet_tf.metrics.person import (STRAY_MIN_PIXELS, background_l1, paint_by_parsing,
                                         person_l1, stray_pixels)
    from pinet_tf.models.encoding import float_to_uint8
    from pinet_tf.models.generators import PARSING_GENERATOR_INPUTS
    from pinet_tf.models.io import load_generator
    from pinet_tf.training.run import held_out, held_out_split

    generator, cfg = load_generator(run)
    if not cfg.has_parsing:
        raise ValueError(f"{run}: a one-stage model has no parsing to probe with")
    image_generator = generator.get_layer("image_generator")
    gamma = image_generator.get_layer("gi_attention").gamma
    trained_gamma = gamma.numpy()
    prior = class_medians(records, cfg)
    split = split or held_out_split(records)
    scores, n = {}, 0
    counts = {name: {} for name in BREAKDOWNS}  # breakdown -> {region -> its pixels}
    sums = {name: {} for name in BREAKDOWNS}  # breakdown -> {region -> {prediction: summed L1}}
    for batch in held_out(records, split, cfg, 16):
        if n >= pairs:
            break
        b = {k: np.asarray(v)[:pairs - n] for k, v in batch.items() if v.dtype.name != "string"}
        n += len(b["source_image"])
        source, target = (np.asarray(float_to_uint8(b[k])) for k in ("source_image",
                                                                     "target_image"))
        truth = b["target_parsing"]

        def image(identity, attention=True):  # G_i on the true guide: the target, or the source
            inputs, _, _ = pair_inputs(b, identity)
            if not attention:
                gamma.assign(np.zeros_like(trained_gamma))
            try:
                out = image_generator(inputs, training=False)["image"]
            finally:
                gamma.assign(trained_gamma)
            return np.asarray(float_to_uint8(out))

        out = generator({k: b[k] for k in PARSING_GENERATOR_INPUTS}, training=False)
        own = np.argmax(np.asarray(out["parsing_logits"]), -1)
        predictions = {
            "model": (np.asarray(float_to_uint8(out["image"])), target, truth),
            "gi_true_guide": (image(identity=False), target, truth),
            "gi_identity": (image(identity=True), source, b["source_parsing"]),
            "gi_no_attention": (image(identity=False, attention=False), target, truth),
            "class_prior": (prior[truth], target, truth),
            "paint_by_parsing": (paint_by_parsing(source, b["source_parsing"], own), target,
                                 truth),
            "paint_by_parsing_true": (paint_by_parsing(source, b["source_parsing"], truth),
                                      target, truth),
            "flat_grey": (np.full_like(target, 128), target, truth),
        }
        for name, (prediction, goal, parsing) in predictions.items():
            scores.setdefault(name, []).append(person_l1(prediction, goal, parsing))
        model = predictions["model"][0]
        for name, values in (
                ("model_background", background_l1(model, target, truth)),
                ("stray_mark_pairs", stray_pixels(model, target, truth) >= STRAY_MIN_PIXELS),
                ("parsing_accuracy", (own == truth).mean(axis=(1, 2)))):
            scores.setdefault(name, []).append(np.asarray(values, np.float64))
        unmoved = {"gi_identity": predictions["gi_identity"][0],
                   "paint_by_parsing_unmoved": paint_by_parsing(source, b["source_parsing"],
                                                                b["source_parsing"])}
        for breakdown, parsing, goal, images in (
                ("where", truth, target, {k: predictions[k][0] for k in WHERE}),
                ("where_unmoved", b["source_parsing"], source, unmoved)):
            _add_regions(counts[breakdown], sums[breakdown], parsing, goal, images)
    if not n:
        raise ValueError(f"{records}: no {split} pairs")
    result = {name: float(np.nanmean(np.concatenate(v))) for name, v in scores.items()}
    result.update(pairs=n, split=split)
    for breakdown in counts:
        person = max(1, counts[breakdown]["boundary"] + counts[breakdown]["interior"])
        result[breakdown] = {  # no person pixel: no rows
            region: {"share": count / person,
                     **{k: v / count for k, v in sums[breakdown][region].items()}}
            for region, count in counts[breakdown].items() if count}
    return result


def _add_regions(counts: dict, sums: dict, parsing, goal, images: dict) -> None:
    """Add to `counts` each region's person pixels (each class of `parsing`, its class edges and
    its interior) and to `sums` each image's summed per-pixel L1 against `goal` there."""
    from pinet_tf.config import CLASS_NAMES

    parsing = np.asarray(parsing)
    person, edge = parsing != 0, class_boundary(parsing)
    masks = {CLASS_NAMES[c]: parsing == c for c in range(1, len(CLASS_NAMES))}
    masks.update(boundary=person & edge, interior=person & ~edge)
    diffs = {name: np.abs(image.astype(np.float64) - goal).mean(-1)
             for name, image in images.items()}
    for region, mask in masks.items():
        counts[region] = counts.get(region, 0) + int(mask.sum())
        row = sums.setdefault(region, dict.fromkeys(images, 0.0))
        for name, diff in diffs.items():
            row[name] += float(diff[mask].sum())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.appearance_probe",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--data", required=True, metavar="RECORDS", help="the run's records")
    p.add_argument("--pairs", type=int, default=64)
    p.add_argument("--split", choices=("train",), default=None,
                   help="probe the first training pairs instead of held-out ones")
    p.add_argument("--out", help="write the figures as JSON here")
    args = p.parse_args(argv)
    if args.pairs < 1:
        print(f"{p.prog}: error: --pairs must be >= 1, got {args.pairs}", file=sys.stderr)
        return 2
    try:
        result = probe(args.run, args.data, args.pairs, args.split)
    except (OSError, ValueError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    for name, value in result.items():
        if name in BREAKDOWNS:
            columns = BREAKDOWNS[name]
            print(f"{name + ' (pixel-mean L1)':32s} {'share':>6s} "
                  + " ".join(f"{k:>24s}" for k in columns))
            for region, row in value.items():
                print(f"  {region:30s} {row['share']:6.3f} "
                      + " ".join(f"{row[k]:24.2f}" for k in columns))
        elif name in ("pairs", "split"):
            print(f"{name:24s} {value}")
        else:  # shares to 4 places, L1 (0..255) to 2
            places = 4 if name in ("stray_mark_pairs", "parsing_accuracy") else 2
            print(f"{name:24s} {value:.{places}f}")
    if args.out:
        from pinet_tf.utils.atomic import write_json

        write_json(args.out, {"run": os.path.abspath(args.run), **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
