"""A whole training run into RUN_DIR (docs/contracts.md): what `pinet-tf train` calls.

    RUN_DIR/config.json, train_config.json   the model and training configs
    RUN_DIR/checkpoints/                     tf.train.Checkpoint: networks, optimizers, step, phase
    RUN_DIR/logs/                            TensorBoard
    RUN_DIR/samples/results.png              held-out pairs at the end of the run
    RUN_DIR/metrics.json                     held-out L1, SSIM, parsing accuracy, and which split
    RUN_DIR/generator.weights.h5             final generator (`pinet_tf.models.io`), and the final
    RUN_DIR/{pose,appearance}_discriminator.weights.h5   discriminators

The order of a run: check the inputs (nothing is written before), create RUN_DIR, build the
trainer (VGG19 and `--init-weights` read and checked here), prepare the data (a synthetic set when none is
given), train (`run_fit`, or `distribute.run_custom_loop` under MultiWorkerMirroredStrategy),
save. A run that fails before its first checkpoint leaves nothing of what it created.

A one-stage model (`ModelConfig.stages == 1`) has nothing to train in phase 1 (G_p alone), so its
run starts at the first step of phase 2 (`skip_parsing_phase`, with a log line): the steps it
trains carry the same global step numbers, learning rates and training pairs as the two-stage
run's G_i steps, and its final step is the same `total_steps`.

Exact resume: the data stream is a function of the seed (deterministic order, seeded shuffle),
so a resumed run skips the pairs the checkpointed steps consumed and continues with the ones the
uninterrupted run would have seen next; the checkpoint holds the dropout seed states as well.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os

import keras
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.datasets.pipeline import naming_corrupt_shards, raise_named_data_error
from pinet_tf.models.io import (DISCRIMINATORS, RUN_CONFIG, RUN_WEIGHTS,
                                discriminator_weights_paths, load_weights_checked,
                                resolve_weights, save_generator, save_weights_atomic,
                                sidecar_config_path)
from pinet_tf.training.callbacks import (AppearanceCurve, PhaseScheduler, RunController,
                                         TrainingLogger, sample_grid)
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.rundata import (DATA_RECORD, check_data, check_new_run_folder,
                                       record_data, recorded_data)
from pinet_tf.training.distribute import (is_chief, make_strategy, numeric_features,
                                          run_custom_loop)
from pinet_tf.training.schedules import make_optimizers
from pinet_tf.training.trainer import PINetTrainer
from pinet_tf.utils.atomic import undo_on_error, write_json

TRAIN_CONFIG = "train_config.json"
CHECKPOINTS = "checkpoints"
METRICS = "metrics.json"
CURVE = "curve.jsonl"


def build_trainer(cfg: ModelConfig, train_cfg: TrainConfig, strategy=None,
                  steps_per_epoch=None, **compile_kwargs) -> PINetTrainer:
    """Trainer with its optimizers and losses, variables created inside `strategy.scope()`.

    steps_per_epoch: ceil(training pairs / batch size), the unit of the official schedule's
    per-epoch LR rule (`schedules.make_optimizers`; None counts every step as an epoch).
    compile_kwargs go to `keras.Model.compile` (e.g. run_eagerly=True, jit_compile=True).
    """
    from pinet_tf.losses import VGGPerceptualLoss

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        trainer = PINetTrainer(cfg)
        perceptual = None
        if train_cfg.perceptual_weight > 0:
            perceptual = VGGPerceptualLoss(train_cfg.vgg_weights, train_cfg.perceptual_layers,
                                           train_cfg.vgg_preprocessing,
                                           allow_download=train_cfg.allow_download)
        trainer.compile(*make_optimizers(train_cfg, steps_per_epoch),
                        loss_weights=train_cfg.loss_weights, gan_kind=train_cfg.gan_kind,
                        perceptual_loss=perceptual,
                        spectral_norm_gradient=train_cfg.spectral_norm_gradient,
                        l1_class_weights=train_cfg.l1_class_weights, **compile_kwargs)
    return trainer


# -- inputs, checked before anything is written ------------------------------------------------
def _has_checkpoint(out) -> bool:
    return tf.train.latest_checkpoint(os.path.join(out, CHECKPOINTS)) is not None


#: What a run writes at the top of RUN_DIR: a new run may go into a folder holding only these.
RUN_ENTRIES = (RUN_CONFIG, TRAIN_CONFIG, CHECKPOINTS, "logs", "samples", METRICS, CURVE,
               RUN_WEIGHTS, sidecar_config_path(RUN_WEIGHTS), "data",
               *(f"{n}.weights.h5" for n in DISCRIMINATORS))


def check_run(cfg, train_cfg, out, data=None, resume=False, data_changed=False):
    """(ModelConfig, TrainConfig) the run will use; raises on any bad input, writing nothing.

    With `resume`, both come from RUN_DIR (a given `cfg` must equal the saved one), and so does
    the data unless `data` is given (a different one only with `data_changed`)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, expected a run directory")
    if not resume:
        check_new_run_folder(out, RUN_ENTRIES)
    if resume and not _has_checkpoint(out):
        raise FileNotFoundError(f"--resume: no checkpoint in {os.path.join(out, CHECKPOINTS)}")
    data = check_data(out, data, resume, data_changed)
    if resume:
        saved_cfg = ModelConfig.load(os.path.join(out, RUN_CONFIG))
        if cfg is not None and saved_cfg != cfg:
            raise ValueError(f"--resume: {os.path.join(out, RUN_CONFIG)} holds config "
                             f"{saved_cfg.name!r}, which differs from the requested one")
        cfg, train_cfg = saved_cfg, TrainConfig.load(os.path.join(out, TRAIN_CONFIG))
    elif _has_checkpoint(out):
        raise ValueError(f"{out} already holds a run (checkpoints in "
                         f"{os.path.join(out, CHECKPOINTS)}); pass --resume to continue it or "
                         f"choose another --out")
    if not cfg.has_parsing and train_cfg.first_step_training("image") >= train_cfg.total_steps:
        raise ValueError(f"--steps {','.join(map(str, train_cfg.steps))}: a one-stage model "
                         f"(stages=1) trains nothing in phase 1 (the parsing generator alone); "
                         f"give phase 2 or 3 some steps")
    if data is not None:
        from pinet_tf.datasets import tfrecords

        splits = tfrecords.read_manifest(data, verify="none")["splits"]
        if "train" not in splits:
            raise ValueError(f"--data {data}: no train split (has {sorted(splits)})")
    if train_cfg.init_weights and not resume:
        resolve_weights(train_cfg.init_weights, cfg)  # the generator file exists
    if train_cfg.perceptual_weight > 0:  # found (or fetched) now, recorded in train_config.json
        from pinet_tf.losses.perceptual import find_vgg_weights

        default = "torchvision" if train_cfg.schedule == "official" else "keras"
        vgg = find_vgg_weights(train_cfg.vgg_weights, default=default,
                               allow_download=train_cfg.allow_download)
        train_cfg = dataclasses.replace(train_cfg, vgg_weights=vgg)
    return cfg, train_cfg


@contextlib.contextmanager
def run_directory(out, resume):
    """Create RUN_DIR; if the block fails before a checkpoint exists, remove what it created. A
    bad record that only TensorFlow notices while the block reads the run's data (a checksum, a
    PNG, a record count) becomes one `CorruptShardError` naming the shard and the record."""
    with undo_on_error(out, keep=lambda: resume or _has_checkpoint(out)):
        try:
            yield out
        except tf.errors.OpError as e:
            records = recorded_data(out)
            if records is None:
                raise
            raise_named_data_error(records, None, e)


def load_initial_weights(trainer, source, cfg, log=print) -> None:
    """`--init-weights`: the generator of a run directory or PREFIX.weights.h5, and the
    discriminators beside it when present (missing ones keep their fresh initialisation)."""
    weights, _ = resolve_weights(source, cfg)
    load_weights_checked(trainer.generator, weights, cfg)
    log(f"initial weights: generator from {weights}")
    for name, path in zip(DISCRIMINATORS, discriminator_weights_paths(source)):
        if os.path.isfile(path):
            load_weights_checked(getattr(trainer, name), path, cfg)
            log(f"initial weights: {name} from {path}")
        else:
            log(f"initial weights: no {path}: {name} initialised fresh")


def skip_parsing_phase(trainer, train_cfg, log=print) -> None:
    """A one-stage trainer at step 0 jumps to the first step of phase 2 (module docstring)."""
    first = train_cfg.first_step_training("image")
    if trainer.has_parsing or int(trainer.step.numpy()) >= first:
        return
    trainer.step.assign(first)
    log(f"stages=1: no parsing generator, so phase 1's {first} steps are skipped; training "
        f"starts at step {first} (phases 2 and 3 train the one-stage image generator)")


def restore_checkpoint(manager) -> None:
    """Restore the latest checkpoint, refusing one that lacks part of the run's state (e.g.
    written by an older version with other optimizer names)."""
    status = manager.checkpoint.restore(manager.latest_checkpoint)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unmatched objects"
        raise ValueError(f"--resume: {manager.latest_checkpoint} does not hold this trainer's "
                         f"whole state ({first[:200]})") from None
    status.expect_partial()  # the optimizers' iteration counters etc. are matched lazily


# -- data ----------------------------------------------------------------------------------
def resolve_data(data, out, cfg, seed=0):
    """A records directory: `data` itself, else the one RUN_DIR/data.json records (a resumed
    run), else a synthetic set made under RUN_DIR/data. The choice is recorded in
    RUN_DIR/data.json, so `--resume` without `--data` continues on the same records."""
    from pinet_tf import datasets

    if not data:
        data = recorded_data(out)
        if data:
            print(f"data: {data} (recorded in {os.path.join(out, DATA_RECORD)})", flush=True)
    if not data:
        identities, poses = datasets.SYNTHETIC_SIZE
        print(f"no --data: making a synthetic set ({identities} identities x {poses} poses, "
              f"{cfg.image_height}x{cfg.image_width}) under {os.path.join(out, 'data')}",
              flush=True)
        data = datasets.prepare_synthetic(os.path.join(out, "data"), cfg, identities, poses,
                                          seed)
    record_data(out, data)
    return data


def steps_per_epoch(records, train_cfg) -> int:
    """ceil(training pairs / batch size): one epoch of the official schedule's LR rule."""
    from pinet_tf.datasets import tfrecords

    pairs = tfrecords.read_manifest(records, verify="none")["splits"]["train"]["pairs"]
    return max(1, math.ceil(pairs / train_cfg.batch_size))


def held_out_split(records) -> str:
    """"test", or "train" when the records have no test split (an absent or empty one; a
    corrupt one is an error when it is read)."""
    from pinet_tf.datasets import tfrecords

    splits = tfrecords.read_manifest(records, verify="none")["splits"]
    if splits.get("test", {}).get("pairs", 0) > 0:
        return "test"
    print(f"{records} has no test split: held-out metrics and pictures use the train split",
          flush=True)
    return "train"


def held_out(records, split, cfg, batch_size):
    """The held-out split in record order (its shards checked: a corrupt one is an error)."""
    from pinet_tf import datasets

    return datasets.make_dataset(records, split, cfg, batch_size, training=False,
                                 deterministic=True)


def training_data(records, cfg, train_cfg, start_step=0):
    """The endless training stream from global step `start_step` on: seeded shuffle, or the
    split's record order (`shuffle=False`: step k sees pairs kB..kB+B-1, wrapping around)."""
    from pinet_tf import datasets

    b = train_cfg.batch_size
    return datasets.make_dataset(records, "train", cfg, b, training=train_cfg.shuffle,
                                 repeat=True, seed=train_cfg.seed, deterministic=True,
                                 skip=start_step * b)


# -- the run -------------------------------------------------------------------------------
def train(cfg: ModelConfig | None, train_cfg: TrainConfig | None, out: str,
          data: str | None = None, resume: bool = False, verbose: int = 1,
          evaluate: bool = True, data_changed: bool = False) -> dict:
    """Train into RUN_DIR `out`; returns {"step", "split", "metrics", "results"}.

    With `resume`, cfg and train_cfg may be None (RUN_DIR's are used)."""
    cfg, train_cfg = check_run(cfg, train_cfg, out, data, resume, data_changed)
    if train_cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with run_directory(out, resume):
            if not resume:
                cfg.save(os.path.join(out, RUN_CONFIG))
                train_cfg.save(os.path.join(out, TRAIN_CONFIG))
            records = resolve_data(data, out, cfg, train_cfg.seed)  # data first, then training
            keras.utils.set_random_seed(train_cfg.seed)
            strategy = make_strategy(train_cfg.strategy)
            trainer = build_trainer(cfg, train_cfg, strategy,
                                    steps_per_epoch=steps_per_epoch(records, train_cfg))
            manager = tf.train.CheckpointManager(trainer.checkpoint(),
                                                 os.path.join(out, CHECKPOINTS), max_to_keep=3)
            if resume:
                restore_checkpoint(manager)
                print(f"resumed {manager.latest_checkpoint} at step {int(trainer.step.numpy())}"
                      f", phase {trainer.current_phase()}", flush=True)
            elif train_cfg.init_weights:
                load_initial_weights(trainer, train_cfg.init_weights, cfg)
            if not resume:
                skip_parsing_phase(trainer, train_cfg)
            split = held_out_split(records)
            sample = next(iter(held_out(records, split, cfg, 4)))
            train_ds = training_data(records, cfg, train_cfg, int(trainer.step.numpy()))
            with naming_corrupt_shards(records, "train"):  # a bad record names its shard
                if train_cfg.strategy == "multiworker":
                    run_custom_loop(trainer, train_cfg, train_ds, manager, strategy,
                                    verbose=verbose)
                else:
                    curve = appearance_curve(records, split, cfg, train_cfg, out)
                    run_fit(trainer, train_cfg, train_ds, manager, os.path.join(out, "logs"),
                            sample, verbose=verbose, extra_callbacks=[curve] if curve else [])
        return finish(trainer, cfg, records, split, out, sample, evaluate=evaluate,
                      chief=is_chief(strategy))
    finally:
        if train_cfg.mixed_precision:
            keras.mixed_precision.set_global_policy("float32")


def appearance_curve(records, split, cfg, train_cfg, out):
    """The held-out appearance curve callback (None when `curve_every` is 0): the first
    `curve_pairs` held-out pairs, in record order."""
    if not train_cfg.curve_every:
        return None
    batch = min(16, train_cfg.curve_pairs)
    batches = []
    for b in held_out(records, split, cfg, batch).unbatch().take(train_cfg.curve_pairs).batch(
            batch):
        batches.append({k: v.numpy() for k, v in b.items() if v.dtype != tf.string})
    return AppearanceCurve(batches, train_cfg.curve_every, os.path.join(out, "logs"),
                           os.path.join(out, CURVE))


def run_fit(trainer, train_cfg, train_ds, manager, log_dir, sample_batch=None, verbose=1,
            extra_callbacks=()):
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
                                train_cfg.image_every), *extra_callbacks]
    return trainer.fit(train_ds, epochs=math.ceil(remaining / steps_per_epoch),
                       steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                       shuffle=False)  # the tf.data pipeline shuffles


def save_final_weights(trainer, cfg, out) -> None:
    """RUN_DIR/generator.weights.h5 (with its config) and both discriminators' weights."""
    save_generator(trainer.generator, cfg, os.path.join(out, RUN_WEIGHTS))
    for name, path in zip(DISCRIMINATORS, discriminator_weights_paths(out)):
        save_weights_atomic(getattr(trainer, name), path)


def finish(trainer, cfg, records, split, out, sample, evaluate=True, chief=True) -> dict:
    """Final weights, held-out metrics and the results picture."""
    from pinet_tf.utils import drawing

    result = {"step": int(trainer.step.numpy()), "split": split}
    if evaluate:
        test_ds = held_out(records, split, cfg, 4)
        with naming_corrupt_shards(records, split):
            metrics = trainer.evaluate(numeric_features(test_ds), verbose=0, return_dict=True)
        result["metrics"] = {k: float(v) for k, v in metrics.items()}
    if not chief:
        return result
    save_final_weights(trainer, cfg, out)
    picture = os.path.join(out, "samples", "results.png")
    scale = max(1, round(256 / cfg.image_height))  # a readable picture for small configs
    drawing.save_png_atomic(picture, sample_grid(trainer, sample, scale=min(scale, 4)))
    result["results"] = picture
    write_json(os.path.join(out, METRICS), result)
    return result
