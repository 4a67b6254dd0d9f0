"""A whole training run into RUN_DIR (docs/contracts.md): what `pinet-tf train` calls.

    RUN_DIR/config.json, train_config.json   the model and training configs
    RUN_DIR/checkpoints/                     tf.train.Checkpoint: networks, optimizers, step, phase
    RUN_DIR/logs/                            TensorBoard
    RUN_DIR/samples/results.png              held-out pairs at the end of the run
    RUN_DIR/metrics.json                     held-out L1, SSIM, parsing accuracy at the end
    RUN_DIR/generator.weights.h5             final generator (`pinet_tf.models.io`)

One worker (default or MirroredStrategy) trains with `fit`; MultiWorkerMirroredStrategy runs the
same per-phase step function in a custom loop, because Keras 3's `fit` fails under it
(`docs/keras3-notes.md`).
"""

from __future__ import annotations

import json
import math
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.models.io import RUN_CONFIG, RUN_WEIGHTS, save_generator
from pinet_tf.training.callbacks import (PhaseScheduler, RunController, TrainingLogger,
                                         check_finite, sample_grid)
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.schedules import make_optimizers
from pinet_tf.training.trainer import PINetTrainer

TRAIN_CONFIG = "train_config.json"
CHECKPOINTS = "checkpoints"
STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable "
                             "(cluster and task of this worker)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def build_trainer(cfg: ModelConfig, train_cfg: TrainConfig, strategy=None,
                  **compile_kwargs) -> PINetTrainer:
    """Trainer with its optimizers and losses, variables created inside `strategy.scope()`.

    compile_kwargs go to `keras.Model.compile` (e.g. run_eagerly=True, jit_compile=True).
    """
    from pinet_tf.losses import VGGPerceptualLoss

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        trainer = PINetTrainer(cfg)
        perceptual = None
        if train_cfg.perceptual_weight > 0:
            perceptual = VGGPerceptualLoss(train_cfg.vgg_weights, train_cfg.perceptual_layers,
                                           train_cfg.vgg_preprocessing)
        g_opt, gi_opt, d_opt = make_optimizers(train_cfg)
        trainer.compile(g_opt, d_opt, gi_optimizer=gi_opt, schedule=train_cfg.schedule,
                        l1=train_cfg.l1_weight, perceptual=train_cfg.perceptual_weight,
                        gan=train_cfg.gan_weight, parsing_ce=train_cfg.parsing_ce_weight,
                        parsing_l1=train_cfg.parsing_l1_weight, gan_kind=train_cfg.gan_kind,
                        perceptual_loss=perceptual, **compile_kwargs)
    return trainer


def _prepare_run_dir(out, cfg, train_cfg, resume):
    ckpt_dir = os.path.join(out, CHECKPOINTS)
    has_ckpt = tf.train.latest_checkpoint(ckpt_dir) is not None
    if resume:
        if not has_ckpt:
            raise FileNotFoundError(f"--resume: no checkpoint in {ckpt_dir}")
        saved_cfg = ModelConfig.load(os.path.join(out, RUN_CONFIG))
        saved_train = TrainConfig.load(os.path.join(out, TRAIN_CONFIG))
        if saved_cfg != cfg:
            raise ValueError(f"--resume: {os.path.join(out, RUN_CONFIG)} holds config "
                             f"{saved_cfg.name!r}, which differs from the requested one")
        return saved_train
    if has_ckpt:
        raise ValueError(f"{out} already holds a run (checkpoints in {ckpt_dir}); pass --resume "
                         f"to continue it or choose another --out")
    os.makedirs(out, exist_ok=True)
    cfg.save(os.path.join(out, RUN_CONFIG))
    train_cfg.save(os.path.join(out, TRAIN_CONFIG))
    return train_cfg


def resolve_data(data, out, cfg, seed=0):
    """A records directory: `data` itself, or a synthetic set made under RUN_DIR/data."""
    from pinet_tf import datasets

    if data:
        if not os.path.isdir(data):
            raise FileNotFoundError(f"--data: records directory not found: {data}")
        return data
    identities, poses = datasets.SYNTHETIC_SIZE
    print(f"no --data: making a synthetic set ({identities} identities x {poses} poses, "
          f"{cfg.image_height}x{cfg.image_width}) under {os.path.join(out, 'data')}", flush=True)
    return datasets.prepare_synthetic(os.path.join(out, "data"), cfg, identities, poses, seed)


def _held_out(records, cfg, batch_size):
    """The test split (the train split when the records have none), fixed order."""
    from pinet_tf import datasets

    try:
        return datasets.make_dataset(records, "test", cfg, batch_size, training=False,
                                     deterministic=True)
    except ValueError:
        return datasets.make_dataset(records, "train", cfg, batch_size, training=False,
                                     deterministic=True)


def _sample_batch(records, cfg, n=4):
    return next(iter(_held_out(records, cfg, n)))


def train(cfg: ModelConfig, train_cfg: TrainConfig, out: str, data: str | None = None,
          resume: bool = False, verbose: int = 1, evaluate: bool = True) -> dict:
    """Train into RUN_DIR `out`; returns {"step", "metrics", "results"}."""
    from pinet_tf import datasets

    train_cfg = _prepare_run_dir(out, cfg, train_cfg, resume)
    if train_cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(train_cfg.seed)
        records = resolve_data(data, out, cfg, train_cfg.seed)
        strategy = make_strategy(train_cfg.strategy)
        trainer = build_trainer(cfg, train_cfg, strategy)
        manager = tf.train.CheckpointManager(trainer.checkpoint(),
                                             os.path.join(out, CHECKPOINTS), max_to_keep=3)
        if resume:
            manager.checkpoint.restore(manager.latest_checkpoint).expect_partial()
            print(f"resumed {manager.latest_checkpoint} at step {int(trainer.step.numpy())}, "
                  f"phase {trainer.current_phase()}", flush=True)
        train_ds = datasets.make_dataset(records, "train", cfg, train_cfg.batch_size,
                                         training=True, repeat=True, seed=train_cfg.seed)
        sample = _sample_batch(records, cfg)
        if train_cfg.strategy == "multiworker":
            run_custom_loop(trainer, train_cfg, train_ds, manager, strategy, verbose=verbose)
        else:
            run_fit(trainer, train_cfg, train_ds, manager, os.path.join(out, "logs"), sample,
                    verbose=verbose)
        return finish(trainer, cfg, records, out, sample, evaluate=evaluate,
                      chief=_is_chief(strategy))
    finally:
        if train_cfg.mixed_precision:
            keras.mixed_precision.set_global_policy("float32")


def numeric_features(ds):
    """Drop the string fields (source_name, target_name): the step does not use them, and
    distributing string tensors across replicas fails (AddN on strings)."""
    return ds.map(lambda d: {k: v for k, v in d.items() if v.dtype != tf.string})


def run_fit(trainer, train_cfg, train_ds, manager, log_dir, sample_batch=None, verbose=1):
    """`fit` from the trainer's current step to train_cfg.total_steps."""
    train_ds = numeric_features(train_ds)
    total = train_cfg.total_steps
    remaining = total - int(trainer.step.numpy())
    if remaining <= 0:
        return None
    steps_per_epoch = min(remaining, train_cfg.log_every)
    callbacks = [PhaseScheduler(train_cfg.phase_at, verbose=verbose),
                 RunController(manager, total, train_cfg.checkpoint_every),
                 TrainingLogger(log_dir, sample_batch, train_cfg.log_every,
                                train_cfg.image_every)]
    return trainer.fit(train_ds, epochs=math.ceil(remaining / steps_per_epoch),
                       steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                       shuffle=False)  # the tf.data pipeline shuffles


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def run_custom_loop(trainer, train_cfg, train_ds, manager, strategy, verbose=1):
    """The multi-worker loop: the same per-phase step in `strategy.run`, one tf.function per
    phase. Every worker saves (a collective op); only the chief writes into RUN_DIR."""
    total = train_cfg.total_steps
    dist = iter(strategy.experimental_distribute_dataset(numeric_features(train_ds)))
    chief = _is_chief(strategy)
    if not chief:
        task = strategy.cluster_resolver.task_id
        tmp_dir = os.path.join(manager.directory, f".worker-{task}")
        worker_manager = tf.train.CheckpointManager(manager.checkpoint, tmp_dir, max_to_keep=1)
    steps = {}
    step = int(trainer.step.numpy())
    while step < total:
        phase = train_cfg.phase_at(step)
        if phase != trainer.current_phase():
            trainer.phase.assign(phase)
        fn = steps.get(phase)
        if fn is None:
            def fn(batch, _phase=phase):
                return strategy.run(trainer.phase_train_step, args=(_phase, batch))
            fn = steps[phase] = tf.function(fn)
        logs = fn(next(dist))
        step = int(trainer.step.assign_add(1).numpy())
        values = {k: float(np.asarray(strategy.experimental_local_results(v)[0]))
                  for k, v in logs.items()}
        check_finite(values, step, manager.latest_checkpoint, trainer.phase_losses(phase))
        if step % train_cfg.checkpoint_every == 0 or step >= total:
            (manager if chief else worker_manager).save(checkpoint_number=step)
        if verbose and (step % train_cfg.log_every == 0 or step >= total):
            print(f"step {step}/{total} phase {phase} " + " ".join(
                f"{k} {v:.4f}" for k, v in values.items()), flush=True)
    if not chief:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def finish(trainer, cfg, records, out, sample, evaluate=True, chief=True) -> dict:
    """Final weights, held-out metrics and the results picture."""
    from pinet_tf.utils import drawing

    result = {"step": int(trainer.step.numpy())}
    if evaluate:
        test_ds = _held_out(records, cfg, 4)
        metrics = trainer.evaluate(numeric_features(test_ds), verbose=0, return_dict=True)
        result["metrics"] = {k: float(v) for k, v in metrics.items()}
    if not chief:
        return result
    save_generator(trainer.generator, cfg, os.path.join(out, RUN_WEIGHTS))
    picture = os.path.join(out, "samples", "results.png")
    scale = max(1, round(256 / cfg.image_height))  # a readable picture for small configs
    drawing.save_png_atomic(picture, sample_grid(trainer, sample, scale=min(scale, 4)))
    result["results"] = picture
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    return result
