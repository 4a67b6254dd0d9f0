"""Learning rates and the optimizers of a run.

* paper schedule: `ConstantThenLinearDecay`, constant then linear to 0, changed every step.
* official schedule: `EpochLinearDecay`, the authors' rule (`docs/official_training.md`):
  constant for `niter` epochs, then linear over `niter_decay` epochs, changed once per epoch,
  ``lr_e = lr * (1 - max(0, e + 1 - niter) / (niter_decay + 1))`` for 0-based epoch e (so it
  ends at lr / (niter_decay + 1), not 0), an epoch being `steps_per_epoch` steps of the given data.

Each optimizer counts only its own updates (`optimizer.iterations`), and in the paper schedule
G_i and the discriminators start later than G_p, so the schedule takes `offset` = the global step
at which its optimizer starts; the decay then happens at the same *global* steps for all three.
"""

import math

import keras
from keras import ops

from pinet_tf.training.optimizers import TorchAdam


@keras.saving.register_keras_serializable(package="pinet_tf")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(s) = initial for s < decay_start, then falls linearly to 0 at decay_start + decay_steps.

    s = optimizer iterations + offset (the global training step).
    """

    def __init__(self, initial_learning_rate, decay_start, decay_steps, offset=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_start = int(decay_start)
        self.decay_steps = int(decay_steps)
        self.offset = int(offset)

    def __call__(self, step):
        dtype = keras.config.floatx()  # float64 in a float64 check: lr not rounded to float32
        s = ops.cast(step, dtype) + float(self.offset)
        if self.decay_steps <= 0:
            return ops.convert_to_tensor(self.initial_learning_rate, dtype)
        frac = ops.clip((s - self.decay_start) / float(self.decay_steps), 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - frac)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_start": self.decay_start, "decay_steps": self.decay_steps,
                "offset": self.offset}


@keras.saving.register_keras_serializable(package="pinet_tf")
class EpochLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The authors' rule: lr * (1 - max(0, e + 1 - niter) / (niter_decay + 1)), e the 0-based
    epoch = (optimizer iterations + offset) // steps_per_epoch; constant within an epoch."""

    def __init__(self, initial_learning_rate, steps_per_epoch, niter, niter_decay, offset=0):
        if int(steps_per_epoch) < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.niter = int(niter)
        self.niter_decay = int(niter_decay)
        self.offset = int(offset)

    def __call__(self, step):
        s = ops.cast(step, "int64") + self.offset
        # floatx: float64 in a float64 check (a float32 lr is 2.5e-8 off 2e-4, in every update).
        epoch = ops.cast(ops.floor_divide(s, self.steps_per_epoch), keras.config.floatx())
        decayed = ops.maximum(0.0, epoch + 1.0 - float(self.niter)) / float(self.niter_decay + 1)
        return self.initial_learning_rate * (1.0 - decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "steps_per_epoch": self.steps_per_epoch, "niter": self.niter,
                "niter_decay": self.niter_decay, "offset": self.offset}


def official_epochs(train_cfg, steps_per_epoch):
    """(niter, niter_decay) in epochs of `steps_per_epoch` steps for an official-schedule config:
    the decay epochs are decay_steps / steps_per_epoch (rounded), the constant ones the rest of
    the run's epochs. 700 * S steps with 200 * S decay steps give the authors' (500, 200)."""
    epochs = math.ceil(train_cfg.total_steps / steps_per_epoch)
    niter_decay = round(train_cfg.decay_steps / steps_per_epoch)
    return epochs - niter_decay, niter_decay


def make_optimizers(train_cfg, steps_per_epoch=None):
    """(parsing, image, discriminator) optimizers for a TrainConfig, LR schedules aligned.

    Official schedule: `TorchAdam` (PyTorch's Adam formula, eps 1e-8) with the authors' per-epoch
    LR rule, epochs of `steps_per_epoch` steps (ceil(training pairs / batch size); None counts
    every step as an epoch). Paper schedule: Keras's Adam with `ConstantThenLinearDecay`.

    Separate Adam states for G_p and G_i: in the paper schedule G_i starts at step a, and a
    shared optimizer's bias correction (based on its iteration count) would then be wrong for
    G_i's fresh moments, making its first updates ~15x too large. (Adam is per tensor, so
    splitting one optimizer into several changes nothing when all of them step together, as in
    the official schedule: the authors' one Adam for netG equals our G_p + G_i pair.)
    """
    total, decay = train_cfg.total_steps, train_cfg.decay_steps
    official = train_cfg.schedule == "official"
    if official:
        niter, niter_decay = official_epochs(train_cfg, steps_per_epoch or 1)

    def adam(network):
        offset = train_cfg.first_step_training(network)
        if official:
            lr = EpochLinearDecay(train_cfg.learning_rate, steps_per_epoch or 1, niter,
                                  niter_decay, offset=offset)
            opt = TorchAdam(lr, beta_1=train_cfg.beta_1, beta_2=train_cfg.beta_2,
                            name=f"{network}_adam")
        else:
            lr = ConstantThenLinearDecay(train_cfg.learning_rate, total - decay, decay,
                                         offset=offset)
            opt = keras.optimizers.Adam(lr, beta_1=train_cfg.beta_1, beta_2=train_cfg.beta_2,
                                        name=f"{network}_adam")
        if train_cfg.mixed_precision:
            opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{network}_loss_scale")
        return opt

    return adam("parsing"), adam("image"), adam("discriminators")
