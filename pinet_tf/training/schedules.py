"""Learning rate: constant, then linear decay to 0 at the end of the run (paper and code).

Each optimizer counts only its own updates (`optimizer.iterations`), and in the paper schedule
G_i and the discriminators start later than G_p, so the schedule takes `offset` = the global step
at which its optimizer starts; the decay then happens at the same *global* steps for all three.
"""

import keras
from keras import ops


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
        s = ops.cast(step, "float32") + float(self.offset)
        if self.decay_steps <= 0:
            return ops.convert_to_tensor(self.initial_learning_rate, "float32")
        frac = ops.clip((s - self.decay_start) / float(self.decay_steps), 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - frac)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_start": self.decay_start, "decay_steps": self.decay_steps,
                "offset": self.offset}


def make_optimizers(train_cfg):
    """(parsing, image, discriminator) Adam optimizers for a TrainConfig, LR schedules aligned.

    Separate Adam states for G_p and G_i: in the paper schedule G_i starts at step a, and a
    shared optimizer's bias correction (based on its iteration count) would then be wrong for
    G_i's fresh moments, making its first updates ~15x too large.
    """
    total, decay = train_cfg.total_steps, train_cfg.decay_steps

    def adam(network):
        lr = ConstantThenLinearDecay(train_cfg.learning_rate, total - decay, decay,
                                     offset=train_cfg.first_step_training(network))
        opt = keras.optimizers.Adam(lr, beta_1=train_cfg.beta_1, beta_2=train_cfg.beta_2,
                                    name=f"{network}_adam")
        if train_cfg.mixed_precision:
            opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{network}_loss_scale")
        return opt

    return adam("parsing"), adam("image"), adam("discriminators")
