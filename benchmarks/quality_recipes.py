"""The quality benchmark's recipes and variants (`benchmarks/quality.py`), on their own so that
the demo-model writer (`benchmarks/demo_model.py`) quotes the same training command without
importing the benchmark (which imports it for `--demo`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    """One data set and one training recipe; the variants change only what their name says."""

    config: str
    size: str
    identities: int
    poses_per_identity: int
    steps: str
    batch_size: int
    lr: float
    gan_weight: float
    variants: tuple = ("no_gan", "gan")
    # The variant the built-in demo model is written from (`benchmarks/demo_model.py`).
    demo_variant: str = "gan"
    seed: int = 0
    extra_train_args: tuple = field(default=())
    # A second `pinet-tf train` run after the first, from its final weights (`--init-weights`):
    # these are its arguments besides --init-weights, --data and --out (`fine_tune_args`). Empty:
    # one run. With them each variant's run is the second one; the first is RUN + FIRST_SUFFIX.
    fine_tune_args: tuple = field(default=())


#: Where a recipe with `fine_tune_args` keeps the first run: the variant's run directory + this.
FIRST_SUFFIX = "_first"


RECIPES = {
    # 128x88 (the `small` preset). Measured on 2 cores at batch 8: 1.1 s/step alone for G_p,
    # 2.6 s/step for G_i with both discriminators, 2.7 s/step joint. Batch 4 halves that, so
    # these steps cost ~20 min per run alone: four variants (no_gan, gan, vanilla, one_stage)
    # fit in the ~2 h background stretch the issue allows for the benchmark, beside other work.
    "small": Recipe(config="small", size="128x88", identities=400, poses_per_identity=3,
                    steps="80,450,400", batch_size=4, lr=1e-3, gan_weight=1.0),
    # The demo model's recipe since issue 24 (docs/results/appearance.md): the tiny size, 2,000
    # synthetic identities (with 100 the run memorised its people: held-out person L1 rose from
    # 42 to 56 between 2,500 and 6,000 steps while the train split's fell), G_i fed the one-hot of
    # G_p's argmax (the kind of guide it trains on in phase 2), no GAN term, the held-out curve
    # every 500 steps. ~0.2 s a step alone on 2 cores.
    # 22,000 steps, most of them G_i's (phase 2), the learning rate falling linearly to 0 from
    # step 500 (--decay-steps 21500), the person's pixels counted 10 times in G_i's L1
    # (docs/results/appearance.md, items 12 and 14: held-out person L1 21.6 against 25.6 for
    # paint-by-parsing on all 1,200 held-out pairs, background 10.6, and a stray mark in 21% of
    # the pictures). Then, from its weights, 10,000 more G_i steps and 1,000 joint ones with the
    # learning rate at 4e-4 falling to 0 and the straight-through clamp: the marks' pixels sit
    # at the hard clamp, whose zero gradient keeps them (item 13); with the gradient through
    # it the L1 removes them. Held-out: person 22.0 against 25.1 (0.88x), background 9.0, marks
    # in 1.6% of the pictures. (G_i on the true parsing, its first 1,000 steps took the marks
    # from 21% to 12%; the same steps with the hard clamp, to 36%.)
    "appearance": Recipe(config="tiny", size="64x44", identities=2000, poses_per_identity=3,
                         steps="500,18000,3500", batch_size=8, lr=1e-3, gan_weight=0.0,
                         variants=("no_gan",), demo_variant="no_gan",
                         extra_train_args=("--parsing-feed", "onehot", "--decay-steps", "21500",
                                           "--l1-person-weight", "10",
                                           "--curve-every", "500", "--checkpoint-every", "500"),
                         fine_tune_args=("--schedule", "paper", "--steps", "0,10000,1000",
                                         "--batch-size", "8", "--lr", "0.0004",
                                         "--decay-steps", "11000", "--gan-weight", "0",
                                         "--perceptual-weight", "0", "--seed", "1",
                                         "--l1-person-weight", "10",
                                         "--output-clamp", "straight_through",
                                         "--curve-every", "1000", "--checkpoint-every", "500")),
    # The test suite's smoke recipe: the same code path in about a minute.
    "smoke": Recipe(config="tiny", size="64x44", identities=12, poses_per_identity=2,
                    steps="2,2,2", batch_size=2, lr=1e-3, gan_weight=1.0),
}

#: Variant name -> the `pinet-tf train` arguments that make it (on top of the recipe's).
VARIANTS = {
    "no_gan": lambda r: ["--gan-weight", "0"],
    "gan": lambda r: ["--gan-weight", str(r.gan_weight)],
    "full": lambda r: ["--gan-weight", str(r.gan_weight)],
    "vanilla": lambda r: ["--gan-weight", str(r.gan_weight), "--convolution", "vanilla"],
    "one_stage": lambda r: ["--gan-weight", str(r.gan_weight), "--stages", "1"],
}
#: Variants whose arguments are another's: they share its run (trained once).
SAME_RUN = {"full": "gan"}

def train_args(recipe: Recipe, variant: str, records: str, run: str) -> list:
    """The `pinet-tf train` arguments of one variant's run."""
    return ["train", "--config", recipe.config, "--data", records, "--out", run,
            "--steps", recipe.steps, "--batch-size", recipe.batch_size, "--lr",
            recipe.lr, "--perceptual-weight", "0", "--seed", recipe.seed,
            *VARIANTS[variant](recipe), *recipe.extra_train_args]


def fine_tune_args(recipe: Recipe, records: str, first_run: str, run: str) -> list:
    """The `pinet-tf train` arguments of a recipe's second run (`Recipe.fine_tune_args`)."""
    return ["train", "--init-weights", first_run, "--data", records, "--out", run,
            *recipe.fine_tune_args]
