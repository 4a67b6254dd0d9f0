"""`PINetTrainer`: one keras.Model whose `train_step` runs a whole GAN step, driven by `fit`.

Each step, in the authors' order (`docs/official_training.md`): generate (G_p and/or G_i) once,
update D_P and D_A on real vs generated (generated with stop-gradient; each D called separately
on real and on fake, so spectral norm's u advances once per call), then update the generators
against the *updated* discriminators (one more call of each D), from the same forward pass. The
official schedule's optimizers are `TorchAdam` (PyTorch's Adam formula; made by
`schedules.make_optimizers`); the step is checked update for update against the authors' step in
`tests/training/test_parity.py`. Which
networks run and train depends on the phase (`pinet_tf.training.config`):

    phase 1  G_p alone            CE (+ L1 on the softmax)
    phase 2  G_i alone + D_P, D_A G_i fed the one-hot ground-truth target parsing
    phase 3  everything           G_i fed ParsingGuide(cfg.parsing_feed)(G_p logits), no gradient

The phase lives in a non-trainable variable (saved in checkpoints); a callback assigns it at step
boundaries (`PhaseScheduler`). How the switch works under Keras 3 `fit`: `fit` calls
`self.train_function(iterator)` once per step from Python, so `make_train_function` installs a
small Python dispatcher that reads the phase variable and calls a `tf.function` traced for that
phase (created on first use, then cached). Each traced step contains only its phase's networks
and optimizer updates: no `tf.cond` around optimizer updates (whose `merge_call` under
MirroredStrategy does not work inside a cond branch), no wasted compute. It requires
`steps_per_execution=1` (one step per call, so a switch lands on the exact step).

One-stage models (`ModelConfig.stages == 1`, paper Table 3 "One w/ GC"): there is no G_p, so
the trainer holds G_i, D_P and D_A only (no parsing optimizer in the checkpoint), phase 1 has
nothing to train (`pinet_tf.training.run` starts such a run at the first step of phase 2, so the
step numbers, learning-rate schedules and data order equal the two-stage run's), and phases 2
and 3 are the same step: G_i on (source image, source heatmaps, target heatmaps) with the image
losses (L1, perceptual, GAN) and both discriminators. No parsing loss or accuracy is reported.
"""

import contextlib
import functools

import keras
import tensorflow as tf
from keras import ops

from pinet_tf.config import ModelConfig
from pinet_tf.layers.spectral_norm import SIGMA_GRADIENTS, sigma_gradient_from_next_call
from pinet_tf.losses import (discriminator_loss, generator_adversarial_loss, l1_class_factors,
                             l1_loss, parsing_cross_entropy, parsing_l1, person_pixel_weights)
from pinet_tf.losses.pixel import wide
from pinet_tf.metrics.standard import scores as standard_scores
from pinet_tf.models import (build_appearance_discriminator, build_generator,
                             build_image_generator, build_parsing_generator,
                             build_pose_discriminator)
from pinet_tf.models.generators import PARSING_GENERATOR_INPUTS, generator_inputs
from pinet_tf.training.config import (ONE_STAGE_PHASE_NAMES, PHASE_IMAGE, PHASE_JOINT,
                                      PHASE_NAMES, PHASE_PARSING)

#: The loss weights `compile` takes (`TrainConfig.loss_weights`).
LOSS_WEIGHTS = ("l1", "perceptual", "gan", "parsing_ce", "parsing_l1")
#: Loss weights `compile` may be given, with the value that keeps the authors' loss: "l1_person",
#: how many times a person pixel (true target class not background) counts in the image L1.
OPTIONAL_LOSS_WEIGHTS = {"l1_person": 1.0}
#: Every loss the trainer can report (the progress bar shows those of the current phase).
LOSS_NAMES = ("parsing_ce", "parsing_l1", "l1", "perceptual", "g_gan", "d_pose",
              "d_appearance", "g_total")
EVAL_NAMES = ("l1", "ssim", "parsing_accuracy")
_PARSING_NAMES = ("parsing_ce", "parsing_l1", "parsing_accuracy")


def _phase_losses(phase, schedule_weights, has_parsing=True):
    """Loss names a phase reports (a one-stage model: none in phase 1, image losses after)."""
    if not has_parsing and phase == PHASE_PARSING:
        return []
    names = []
    if phase in (PHASE_PARSING, PHASE_JOINT) and has_parsing:
        names.append("parsing_ce")
        if schedule_weights["parsing_l1"] > 0:
            names.append("parsing_l1")
    if phase in (PHASE_IMAGE, PHASE_JOINT):
        names.append("l1")
        if schedule_weights["perceptual"] > 0:
            names.append("perceptual")
        if schedule_weights["gan"] > 0:
            names += ["g_gan", "d_pose", "d_appearance"]
    return names + ["g_total"]


class PINetTrainer(keras.Model):
    """Holds G_p, G_i, D_P, D_A; `self.generator` is the composed inference model (shared weights).

    Build it (and `compile` it) inside `strategy.scope()` when distributing.
    """

    def __init__(self, cfg: ModelConfig, parsing_generator=None, image_generator=None,
                 pose_discriminator=None, appearance_discriminator=None, **kwargs):
        kwargs.setdefault("name", "pinet_trainer")
        super().__init__(**kwargs)
        self.cfg = cfg
        self.has_parsing = cfg.has_parsing
        if not self.has_parsing and parsing_generator is not None:
            raise ValueError("a one-stage config (stages=1) has no parsing generator")
        self.parsing_generator = (parsing_generator or build_parsing_generator(cfg)) \
            if self.has_parsing else None
        self.image_generator = image_generator or build_image_generator(cfg)
        self.pose_discriminator = pose_discriminator or build_pose_discriminator(cfg)
        self.appearance_discriminator = (appearance_discriminator
                                         or build_appearance_discriminator(cfg))
        self.generator = build_generator(cfg, self.parsing_generator, self.image_generator)
        # G_p logits -> G_i's guide in the joint phase: the composed generator's own layer.
        self.parsing_guide = self.generator.get_layer("parsing_guide") if self.has_parsing \
            else None
        self.phase_names = PHASE_NAMES if self.has_parsing else ONE_STAGE_PHASE_NAMES
        self.phase = keras.Variable(PHASE_JOINT, dtype="int32", trainable=False, name="phase")
        self.step = keras.Variable(0, dtype="int64", trainable=False, name="step")
        self._trackers = {n: keras.metrics.Mean(name=n)
                          for n in dict.fromkeys(LOSS_NAMES + EVAL_NAMES)
                          if self.has_parsing or n not in _PARSING_NAMES}
        self._compiled_steps = {}

    def call(self, inputs, training=False):
        return self.generator({k: inputs[k] for k in generator_inputs(self.cfg)},
                              training=training)

    @property
    def metrics(self):
        return list(self._trackers.values())

    # -- compile -------------------------------------------------------------------------
    def compile(self, parsing_optimizer, image_optimizer, discriminator_optimizer, *,
                loss_weights, gan_kind, perceptual_loss=None, spectral_norm_gradient="exact",
                l1_class_weights=None, **kwargs):
        """Ready optimizers and losses (keras-io GAN style); `TrainConfig` resolves the values
        (`pinet_tf.training.run.build_trainer` makes them from one).

        Args:
            parsing_optimizer, image_optimizer: G_p's and G_i's (separate Adam states: in the
                paper schedule G_i starts later; a one-stage trainer ignores the parsing one).
                discriminator_optimizer: D_P's and D_A's.
                Under a mixed_float16 policy each must be a `keras.optimizers.LossScaleOptimizer`.
            loss_weights: {"l1", "perceptual", "gan", "parsing_ce", "parsing_l1"} and optionally
                "l1_person" (default 1: the authors' plain mean) and "l1_person_joint" (the same
                in the joint phase; default: "l1_person") (`TrainConfig.loss_weights`).
                gan_kind: "log" or "lsgan".
            perceptual_loss: a `VGGPerceptualLoss`, needed when the perceptual weight is > 0.
            spectral_norm_gradient: "exact" or "authors" (`TrainConfig.spectral_norm_gradient`;
                `pinet_tf.layers.spectral_norm` says why): how the D step's real pass forms the
                gradient of each spectral norm's sigma.
            l1_class_weights: {parsing class name: factor > 0} or None: that class's pixels
                count `factor` times more in the image L1, on top of the person weight
                (`TrainConfig.l1_class_weights`).
            kwargs: passed to `keras.Model.compile` (e.g. jit_compile, run_eagerly).
        """
        missing = sorted(set(LOSS_WEIGHTS) - set(loss_weights))
        if missing:
            raise ValueError(f"loss_weights lacks {missing}")
        self.loss_weights_ = {k: float(loss_weights[k]) for k in LOSS_WEIGHTS}
        self.loss_weights_.update({k: float(loss_weights.get(k, v))
                                   for k, v in OPTIONAL_LOSS_WEIGHTS.items()})
        self.loss_weights_["l1_person_joint"] = float(
            loss_weights.get("l1_person_joint", self.loss_weights_["l1_person"]))
        for key in ("l1_person", "l1_person_joint"):
            if not self.loss_weights_[key] > 0:
                raise ValueError(f"the {key} weight must be > 0, got {self.loss_weights_[key]}")
        self.l1_class_factors = l1_class_factors(l1_class_weights)
        self.gan_kind = gan_kind
        if spectral_norm_gradient not in SIGMA_GRADIENTS:
            raise ValueError(f"spectral_norm_gradient must be one of {SIGMA_GRADIENTS}, got "
                             f"{spectral_norm_gradient!r}")
        self.spectral_norm_gradient = spectral_norm_gradient
        if self.loss_weights_["perceptual"] > 0 and perceptual_loss is None:
            raise ValueError(f"perceptual weight {self.loss_weights_['perceptual']} needs a "
                             f"perceptual_loss (VGGPerceptualLoss)")
        self.perceptual_loss = perceptual_loss
        optimizers = (parsing_optimizer, image_optimizer, discriminator_optimizer)
        if keras.config.dtype_policy().name == "mixed_float16" and not all(
                isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers):
            raise ValueError("under mixed_float16 every optimizer must be a LossScaleOptimizer "
                             "(float16 gradients underflow without loss scaling)")
        self.parsing_optimizer, self.image_optimizer, self.discriminator_optimizer = optimizers
        kwargs.setdefault("jit_compile", False)
        if kwargs.get("steps_per_execution", 1) != 1:
            raise ValueError("PINetTrainer needs steps_per_execution=1 (the phase is chosen "
                             "per step)")
        # Keras's own `optimizer` slot gets G_p's (already built below), so `fit` builds nothing
        # else; the step uses the three optimizers explicitly.
        super().compile(optimizer=self.parsing_optimizer if self.has_parsing
                        else self.image_optimizer, **kwargs)
        # Build the optimizer slots now (inside the caller's strategy scope, if any).
        slots = [(self.image_optimizer, self.image_generator.trainable_variables),
                 (self.discriminator_optimizer, self._discriminator_variables())]
        if self.has_parsing:
            slots.insert(0, (self.parsing_optimizer, self.parsing_generator.trainable_variables))
        for opt, variables in slots:
            if not opt.built:
                opt.build(variables)
        self._compiled_steps = {}

    def _discriminator_variables(self):
        return (self.pose_discriminator.trainable_variables
                + self.appearance_discriminator.trainable_variables)

    # -- checkpointing ---------------------------------------------------------------------
    def checkpoint(self) -> tf.train.Checkpoint:
        """Everything a resumed run needs: the four networks, three optimizers, step, phase, and
        the dropout layers' random-seed states (which `tf.train.Checkpoint` does not track
        through a Keras model), so a resumed run draws the masks the uninterrupted one would."""
        # A one-stage trainer has neither G_p nor its optimizer; the order (of `seed_states`)
        # is the two-stage one, so earlier checkpoints restore unchanged.
        gp = {"parsing_generator": self.parsing_generator} if self.has_parsing else {}
        networks = {**gp, "image_generator": self.image_generator,
                    "pose_discriminator": self.pose_discriminator,
                    "appearance_discriminator": self.appearance_discriminator}
        optimizers = {"parsing_optimizer": self.parsing_optimizer} if self.has_parsing else {}
        optimizers.update(image_optimizer=self.image_optimizer,
                          discriminator_optimizer=self.discriminator_optimizer)
        seeds = []
        for net in networks.values():
            weights = {id(w) for w in net.weights}
            seeds += [v for v in net.variables if id(v) not in weights]
        return tf.train.Checkpoint(**networks, **optimizers, step=self.step, phase=self.phase,
                                   seed_states=seeds)

    # -- the step ------------------------------------------------------------------------
    def current_phase(self) -> int:
        return int(ops.convert_to_numpy(self.phase))

    def phase_losses(self, phase):
        return _phase_losses(phase, self.loss_weights_, self.has_parsing)

    def traced_phase(self, phase) -> int:
        """The phase whose traced step runs `phase`: a one-stage model's phases 2 and 3 are one
        step, traced once."""
        return phase if self.has_parsing or phase == PHASE_PARSING else PHASE_JOINT

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function

        def train_function(iterator):
            phase = self.traced_phase(self.current_phase())
            fn = self._compiled_steps.get(phase)
            if fn is None:
                fn = self._compiled_steps[phase] = self._make_function(
                    functools.partial(self.phase_train_step, phase))
            return fn(iterator)

        self.train_function = train_function
        return train_function

    def train_step(self, data):
        """One step in the current phase (for eager use; `fit` uses per-phase functions)."""
        if not tf.executing_eagerly():
            raise RuntimeError("PINetTrainer.train_step reads the phase in Python; inside a "
                               "tf.function call phase_train_step(phase, data) instead")
        return self.phase_train_step(self.current_phase(), data)

    def phase_train_step(self, phase, data):
        """The GAN step for a fixed phase (traced once per phase). Returns the phase's losses."""
        if isinstance(data, (tuple, list)):
            data = data[0]
        w = self.loss_weights_
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if not self.has_parsing and phase == PHASE_PARSING:
            raise ValueError("a one-stage model (stages=1) has no phase 1 (parsing generator "
                             "alone); its run starts at phase 2")
        trains_gp = phase in (PHASE_PARSING, PHASE_JOINT) and self.has_parsing
        trains_gi = phase in (PHASE_IMAGE, PHASE_JOINT)
        target = data["target_image"]
        target_onehot = data["target_parsing_onehot"] if self.has_parsing else None
        losses = {}
        gp_vars = self.parsing_generator.trainable_variables if trains_gp else []
        gi_vars = self.image_generator.trainable_variables if trains_gi else []
        with tf.GradientTape() as tape:
            parsing_loss = image_loss = 0.0
            if trains_gp:
                logits = self.parsing_generator({k: data[k] for k in PARSING_GENERATOR_INPUTS},
                                                training=True)["parsing_logits"]
                losses["parsing_ce"] = parsing_cross_entropy(logits, target_onehot)
                parsing_loss = w["parsing_ce"] * losses["parsing_ce"]
                if w["parsing_l1"] > 0:
                    losses["parsing_l1"] = parsing_l1(logits, target_onehot)
                    parsing_loss = ops.add(parsing_loss, w["parsing_l1"] * losses["parsing_l1"])
            if trains_gi:
                fake = self.image_generator(self._image_inputs(phase, data, logits if trains_gp
                                                               else None), training=True)["image"]
                person = w["l1_person_joint" if phase == PHASE_JOINT else "l1_person"]
                losses["l1"] = l1_loss(fake, target, person_pixel_weights(
                    data.get("target_parsing_onehot"), person, self.l1_class_factors))
                image_loss = w["l1"] * losses["l1"]
                if w["perceptual"] > 0:
                    losses["perceptual"] = self.perceptual_loss(fake, target)
                    image_loss = ops.add(image_loss, w["perceptual"] * losses["perceptual"])
                if w["gan"] > 0:
                    with tape.stop_recording():
                        losses.update(self._discriminator_update(data, ops.stop_gradient(fake),
                                                                 replicas))
                    losses["g_gan"] = 0.5 * (
                        generator_adversarial_loss(self._pose_scores(data, fake),
                                                   self.gan_kind)
                        + generator_adversarial_loss(self._appearance_scores(data, fake),
                                                     self.gan_kind))
                    image_loss = ops.add(image_loss, w["gan"] * losses["g_gan"])
            # ops.add: terms may differ in width (float32 model outputs in a float64 check)
            losses["g_total"] = ops.add(parsing_loss, image_loss)
            # Parsing and image losses reach disjoint variables (the guide has no gradient), so
            # one backward pass of their (separately loss-scaled) sum gives both gradients.
            scaled = 0.0
            if trains_gp:
                scaled = ops.add(scaled, self.parsing_optimizer.scale_loss(parsing_loss / replicas))
            if trains_gi:
                scaled = ops.add(scaled, self.image_optimizer.scale_loss(image_loss / replicas))
        grads = tape.gradient(scaled, gp_vars + gi_vars)
        if trains_gp:
            self.parsing_optimizer.apply(grads[:len(gp_vars)], gp_vars)
        if trains_gi:
            self.image_optimizer.apply(grads[len(gp_vars):], gi_vars)
        for name, value in losses.items():
            self._trackers[name].update_state(value)
        return {n: self._trackers[n].result() for n in self.phase_losses(phase)}

    def _image_inputs(self, phase, data, logits=None):
        """G_i's inputs: the one-stage G_i's three, or the guide of the phase (ground truth in
        phase 2, G_p's output without gradient in phase 3)."""
        if not self.has_parsing:
            return {k: data[k] for k in generator_inputs(self.cfg)}
        guide = data["target_parsing_onehot"] if phase == PHASE_IMAGE \
            else self.parsing_guide(logits)
        return {"source_image": data["source_image"],
                "source_parsing_onehot": data["source_parsing_onehot"],
                "parsing_guide": guide, "target_heatmaps": data["target_heatmaps"]}

    def _pose_scores(self, data, images):
        return self.pose_discriminator({"target_heatmaps": data["target_heatmaps"],
                                        "image": images}, training=True)["score"]

    def _appearance_scores(self, data, images):
        return self.appearance_discriminator({"image": images,
                                              "source_image": data["source_image"]},
                                             training=True)["score"]

    def _discriminator_update(self, data, fake, replicas):
        """One update of both discriminators, as the authors' step does it: each D is called
        separately on real, then on fake (so spectral norm's u advances once per call and the
        two passes see different sigmas), loss 0.5 * (loss(real, 1) + loss(fake, 0)) each, one
        optimizer step for both (Adam is per tensor: equal to the authors' two optimizers).
        With spectral_norm_gradient "authors", the real pass's sigmas take their gradient from
        the u, v the fake pass computes, as in the authors' code (one backward after both)."""
        w, kind = self.loss_weights_["gan"], self.gan_kind
        real, fake = data["target_image"], wide(fake)
        d_vars = self._discriminator_variables()
        real_pass = (sigma_gradient_from_next_call if self.spectral_norm_gradient == "authors"
                     else lambda model: contextlib.nullcontext())
        with tf.GradientTape() as tape:
            with real_pass(self.pose_discriminator):
                pose_real = self._pose_scores(data, real)
            d_pose = discriminator_loss(pose_real, self._pose_scores(data, fake), kind=kind)
            with real_pass(self.appearance_discriminator):
                app_real = self._appearance_scores(data, real)
            d_app = discriminator_loss(app_real, self._appearance_scores(data, fake), kind=kind)
            scaled = self.discriminator_optimizer.scale_loss(w * ops.add(d_pose, d_app) / replicas)
        grads = tape.gradient(scaled, d_vars)
        self.discriminator_optimizer.apply(grads, d_vars)
        return {"d_pose": d_pose, "d_appearance": d_app}

    # -- evaluation ------------------------------------------------------------------------
    def test_step(self, data):
        """L1 and SSIM of generated vs target (full G_p -> G_i path) as `pinet-tf evaluate`
        defines them (`pinet_tf.metrics.standard`: uint8 images, L1 / 255, SSIM data range 255),
        parsing accuracy (not for a one-stage model, which predicts no parsing)."""
        if isinstance(data, (tuple, list)):
            data = data[0]
        out = self(data, training=False)
        image = ops.cast(out["image"], "float32")
        target = data["target_image"]
        per_image = standard_scores(target, image)  # the project's one L1/SSIM definition
        self._trackers["l1"].update_state(per_image["l1"])
        self._trackers["ssim"].update_state(per_image["ssim"])
        if self.has_parsing:
            predicted = ops.argmax(out["parsing_logits"], axis=-1)
            truth = ops.argmax(data["target_parsing_onehot"], axis=-1)
            self._trackers["parsing_accuracy"].update_state(
                ops.mean(ops.cast(ops.equal(predicted, truth), "float32"), axis=(1, 2)))
        return {n: self._trackers[n].result() for n in EVAL_NAMES if n in self._trackers}
