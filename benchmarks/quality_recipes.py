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
    # step 500 (--decay-steps 21500), the person's pixels counted 10 times in G_i's L1 and 4 times
    # in the joint phase. Held-out person L1 on all 1,200 pairs: 23.0 against 25.6 for
    # paint-by-parsing (0.90x), background L1 7.9, whole-picture L1 0.045. The same with 10 in
    # the joint phase: 21.6 (0.85x) but background 10.6 and L1 0.052; the earlier 11,000-step
    # recipes (lr falling over the last 5,000): 25.2 with weight 10, 36.4 with the plain L1
    # (docs/results/appearance.md, items 12 and 14).
    "appearance": Recipe(config="tiny", size="64x44", identities=2000, poses_per_identity=3,
                         steps="500,18000,3500", batch_size=8, lr=1e-3, gan_weight=0.0,
                         variants=("no_gan",), demo_variant="no_gan",
                         extra_train_args=("--parsing-feed", "onehot", "--decay-steps", "21500",
                                           "--l1-person-weight", "10",
                                           "--l1-person-weight-joint", "4",
                                           "--curve-every", "500", "--checkpoint-every", "500")),
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
