"""Training: the `PINetTrainer` keras.Model, its config, schedules, callbacks and run directory.

    PINetTrainer            trainer.py    G_p, G_i, D_P, D_A; per-phase GAN steps under `fit`
    TrainConfig             config.py     schedule (paper / official), steps, loss weights, logging
    ConstantThenLinearDecay schedules.py  the learning rate; `make_optimizers`
    PhaseScheduler, ...     callbacks.py  phase switch, checkpoints + NaN guard, TensorBoard
    train                   run.py        a whole run into RUN_DIR (what `pinet-tf train` calls)
    make_strategy, ...      distribute.py strategy set-up, the multi-worker custom loop

Names are imported lazily, so `pinet-tf --help` does not load TensorFlow.
"""

from pinet_tf.utils.lazy import lazy_exports

_EXPORTS = {
    "PINetTrainer": "pinet_tf.training.trainer",
    "TrainConfig": "pinet_tf.training.config",
    "ConstantThenLinearDecay": "pinet_tf.training.schedules",
    "make_optimizers": "pinet_tf.training.schedules",
    "PhaseScheduler": "pinet_tf.training.callbacks",
    "RunController": "pinet_tf.training.callbacks",
    "TrainingLogger": "pinet_tf.training.callbacks",
    "NonFiniteLossError": "pinet_tf.training.callbacks",
    "train": "pinet_tf.training.run",
    "build_trainer": "pinet_tf.training.run",
    "make_strategy": "pinet_tf.training.distribute",
    "run_custom_loop": "pinet_tf.training.distribute",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
