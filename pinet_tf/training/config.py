"""Training settings (`TrainConfig`): schedule, step counts, loss weights, optimizer, logging.

Two schedules (`docs/architecture.md`):

* ``paper`` (Sec. 3.4): phase 1 trains G_p alone (CE + L1 on the softmax), phase 2 trains G_i
  alone fed the ground-truth target parsing (L1 + 0.5 perceptual relu1_1..relu5_1 + 5 log-GAN),
  phase 3 trains everything jointly with G_i fed G_p's output. `steps` = (a, b, c) steps per phase.
  The learning rate decays linearly to 0 over the last 4/9 of phase 3 (paper: 90K joint steps,
  decay after 50K).
* ``official`` (the authors' code): one joint phase from the start (CE only, perceptual relu1_2
  weight 1, least-squares GAN weight 5). `steps` = (total,). The learning rate decays over the last
  2/7 of the run (the code: 500 constant "epochs", then 200 of decay).

`TrainConfig` resolves every default (steps, loss weights, GAN form, perceptual layers, decay):
what it holds is what the run does, and `PINetTrainer.compile` takes those values as they are.
`RECIPES` names the settings of one documented purpose (`--recipe tiny`: the Quick start, the
own-photo walk-through, the TFLite section and the tests' trained run).

The config is written to RUN_DIR/train_config.json so that `--resume` continues the same run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pinet_tf.config import dataclass_from_dict, load_config_file
from pinet_tf.utils.atomic import write_json

SCHEDULES = ("paper", "official")
#: Phase ids stored in the trainer's `phase` variable.
PHASE_PARSING, PHASE_IMAGE, PHASE_JOINT = 1, 2, 3
PHASE_NAMES = {PHASE_PARSING: "parsing generator alone",
               PHASE_IMAGE: "image generator alone (ground-truth target parsing)",
               PHASE_JOINT: "joint"}
#: The phases of a one-stage model (`ModelConfig.stages == 1`): phase 1 is skipped (nothing to
#: train without G_p), phases 2 and 3 are the same image-only step (`pinet_tf.training.trainer`).
ONE_STAGE_PHASE_NAMES = {PHASE_PARSING: "skipped: no parsing generator",
                         PHASE_IMAGE: "one-stage image generator",
                         PHASE_JOINT: "one-stage image generator, joint phase's schedule"}
#: The official schedule's default length: the authors' 500 + 200 "epochs" of 4,000 pairs.
OFFICIAL_EPOCHS, OFFICIAL_PAIRS_PER_EPOCH = 700, 4000
PAPER_STEPS = (60_000, 60_000, 90_000)

#: Named recipes: the model preset ("config") and the TrainConfig values of one purpose; explicit
#: options override them. "tiny": the smallest run that learns (64x44 synthetic people, ~3 minutes
#: on 2 CPU cores; held-out L1 0.59x copy-the-source). lr 1e-3 because a few hundred steps at the
#: authors' 2e-4 move little, while at 4e-3 the image generator stops improving after ~50 steps;
#: no GAN term (over a few hundred steps it only adds artefacts: held-out L1 0.27 vs 0.24) and no
#: perceptual term (it needs VGG19 weights). Measurements: tests/fixtures_training.py.
#: A run of a few minutes is checkpointed every 100 steps (so `--resume` loses little), logs a
#: TensorBoard point every 20 (43 points; every phase boundary 60, 560, 860 is one) and a
#: results picture every 100. The test suite's trained run is this command itself (CI reuses the
#: Quick start's run), so the tests check what the README's user gets.
RECIPES = {
    "tiny": {"config": "tiny", "schedule": "paper", "steps": (60, 500, 300), "batch_size": 8,
             "learning_rate": 1e-3, "gan_weight": 0.0, "perceptual_weight": 0.0,
             "checkpoint_every": 100, "log_every": 20, "image_every": 100},
}


def recipe(name: str) -> tuple:
    """(model preset name, TrainConfig keyword values) of a named recipe."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(sorted(RECIPES))}")
    values = dict(RECIPES[name])
    return values.pop("config"), values


@dataclass(frozen=True)
class TrainConfig:
    schedule: str = "paper"
    # Steps per phase; None: PAPER_STEPS, or the official OFFICIAL_EPOCHS at the batch size.
    steps: tuple | None = None
    batch_size: int = 6
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    # Steps at the end of the run over which the LR falls linearly to 0 (None: schedule default).
    decay_steps: int | None = None
    # Loss weights; None takes the schedule's default.
    l1_weight: float = 1.0
    # How many times a person pixel (true target class not background) counts in G_i's L1
    # (`--l1-person-weight`); 1 is the authors' plain mean. Not the authors': at the tiny size the
    # person is a quarter of the picture and G_i learns its colours several times faster with 10
    # (docs/results/appearance.md).
    l1_person_weight: float = 1.0
    # The person weight in the joint phase (phase 3 of the paper schedule; every step of the
    # official one), `--l1-person-weight-joint`; None: `l1_person_weight`. Not the authors': 10,
    # then 4 in the joint phase, keeps most of the person's gain and gives back much of the
    # background (held-out background L1 7.9 instead of 10.6, person 23.0 instead of 21.6;
    # docs/results/appearance.md, item 14, `joint4`).
    l1_person_weight_joint: float | None = None
    # {parsing class name: factor}: that class's pixels count `factor` times more in G_i's L1,
    # on top of the person weight (`--l1-class-weight NAME=W`); None: every class 1. Not the
    # authors'. Measured (docs/results/appearance.md, item 17): G_i loses to flat source colours
    # mostly on the small parts; hair, shoes and hat x4 for 3,000 steps from the demo model took
    # their error down and every other class's up, the person as a whole slightly worse.
    l1_class_weights: dict | None = None
    perceptual_weight: float | None = None
    gan_weight: float = 5.0
    parsing_ce_weight: float = 1.0
    parsing_l1_weight: float | None = None
    gan_kind: str | None = None
    perceptual_layers: dict | None = None
    # The perceptual loss's VGG19: a Keras notop .h5 or torchvision's .pth; None finds (or
    # downloads) the published file, as keras.applications does: torchvision's VGG19 for the
    # official schedule (the authors' network), Keras's for the paper's. `check_run` resolves
    # it to the file used before any work. Preprocessing None follows the file.
    vgg_weights: str | None = None
    vgg_preprocessing: str | None = None
    # How the D step's real pass forms d sigma / dW of spectral norm: "authors" (the official
    # schedule's default: their `SpectralNorm` reads the u, v the fake pass left) or "exact"
    # (the paper schedule's). `pinet_tf.layers.spectral_norm` explains; None: the schedule's.
    spectral_norm_gradient: str | None = None
    # False forbids downloads (None: allowed unless $PINET_TF_NO_DOWNLOAD=1).
    allow_download: bool | None = None
    # Data order: shuffled pairs (seeded), or the split's record order (`--no-shuffle`).
    shuffle: bool = True
    # Weights the run started from (`--init-weights`; a record: --resume restores checkpoints).
    init_weights: str | None = None
    # Run features.
    checkpoint_every: int = 1000
    log_every: int = 100
    image_every: int = 1000
    # The held-out appearance curve (`callbacks.AppearanceCurve`): every N steps; 0 = off.
    curve_every: int = 0
    curve_pairs: int = 64
    mixed_precision: bool = False
    strategy: str = "default"
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.steps is None:
            object.__setattr__(self, "steps", PAPER_STEPS if self.schedule == "paper" else (
                OFFICIAL_EPOCHS * OFFICIAL_PAIRS_PER_EPOCH // self.batch_size,))
        steps = tuple(int(s) for s in self.steps)
        want = 3 if self.schedule == "paper" else 1
        if len(steps) != want:
            raise ValueError(
                f"--steps for the {self.schedule} schedule takes {want} number(s) "
                f"({'a,b,c: parsing, image, joint phase' if want == 3 else 'total joint steps'}),"
                f" got {','.join(map(str, steps))}")
        if any(s < 0 for s in steps) or sum(steps) <= 0:
            raise ValueError(f"steps must be >= 0 with a positive total, got {steps}")
        object.__setattr__(self, "steps", steps)
        if not self.learning_rate > 0:
            raise ValueError(f"learning rate (--lr) must be > 0, got {self.learning_rate}")
        from pinet_tf.losses import (GAN_KINDS, OFFICIAL_LAYERS,  # needs TensorFlow
                                     PAPER_LAYERS, l1_class_factors)

        paper = self.schedule == "paper"
        defaults = {
            "perceptual_weight": 0.5 if paper else 1.0,
            "parsing_l1_weight": 1.0 if paper else 0.0,
            "gan_kind": "log" if paper else "lsgan",
            "spectral_norm_gradient": "exact" if paper else "authors",
            "perceptual_layers": dict(PAPER_LAYERS if paper else OFFICIAL_LAYERS),
            "decay_steps": (round(steps[2] * 40 / 90) if paper else round(steps[0] * 2 / 7)),
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name in ("l1_weight", "perceptual_weight", "gan_weight", "parsing_ce_weight",
                     "parsing_l1_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.l1_person_weight_joint is None:
            object.__setattr__(self, "l1_person_weight_joint", self.l1_person_weight)
        for name, option in (("l1_person_weight", "--l1-person-weight"),
                             ("l1_person_weight_joint", "--l1-person-weight-joint")):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} ({option}) must be > 0, got {getattr(self, name)}")
        l1_class_factors(self.l1_class_weights)  # a clear error for a bad name or factor
        if self.spectral_norm_gradient not in ("exact", "authors"):
            raise ValueError(f"spectral_norm_gradient must be 'exact' or 'authors', got "
                             f"{self.spectral_norm_gradient!r}")
        if self.gan_kind not in GAN_KINDS:
            raise ValueError(f"gan_kind must be one of {GAN_KINDS}, got {self.gan_kind!r}")
        if not 0 <= self.decay_steps <= self.total_steps:
            raise ValueError(f"decay_steps must be in [0, {self.total_steps}], got "
                             f"{self.decay_steps}")
        for name in ("checkpoint_every", "log_every", "image_every", "curve_pairs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.curve_every < 0:
            raise ValueError(f"curve_every must be >= 0 (0: off), got {self.curve_every}")

    @property
    def loss_weights(self) -> dict:
        """The weights `PINetTrainer.compile` takes."""
        return {"l1": float(self.l1_weight), "perceptual": float(self.perceptual_weight),
                "gan": float(self.gan_weight), "parsing_ce": float(self.parsing_ce_weight),
                "parsing_l1": float(self.parsing_l1_weight),
                "l1_person": float(self.l1_person_weight),
                "l1_person_joint": float(self.l1_person_weight_joint)}

    # -- the schedule -----------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        return sum(self.steps)

    @property
    def phase_starts(self) -> dict:
        """{phase: first global step} for the phases that run."""
        if self.schedule == "official":
            return {PHASE_JOINT: 0}
        starts, begin = {}, 0
        for phase, n in zip((PHASE_PARSING, PHASE_IMAGE, PHASE_JOINT), self.steps):
            if n:
                starts[phase] = begin
            begin += n
        return starts

    def phase_at(self, step: int) -> int:
        """The phase that global step `step` (0-based) trains in."""
        phase = None
        for p, start in sorted(self.phase_starts.items(), key=lambda kv: kv[1]):
            if step >= start:
                phase = p
        return phase

    def first_step_training(self, network: str) -> int:
        """Global step at which `network` ("parsing", "image", "discriminators") first trains."""
        starts = self.phase_starts
        phases = {"parsing": (PHASE_PARSING, PHASE_JOINT),
                  "image": (PHASE_IMAGE, PHASE_JOINT),
                  "discriminators": (PHASE_IMAGE, PHASE_JOINT)}[network]
        firsts = [starts[p] for p in phases if p in starts]
        return min(firsts) if firsts else self.total_steps

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["steps"] = list(d["steps"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return dataclass_from_dict(cls, d)

    def save(self, path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path) -> "TrainConfig":
        return load_config_file(cls, path, "training config (TrainConfig JSON)")
