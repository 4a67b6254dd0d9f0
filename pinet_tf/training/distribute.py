"""Distribution: the strategy of a run, and the multi-worker custom loop.

One worker (default or MirroredStrategy) trains with `fit` (`pinet_tf.training.run.run_fit`);
MultiWorkerMirroredStrategy runs the same per-phase step function in `run_custom_loop`, because
Keras 3's `fit` fails under it (`docs/keras3-notes.md`).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import tensorflow as tf

from pinet_tf.training.callbacks import check_finite

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


def is_chief(strategy) -> bool:
    """Whether this process writes the run directory (always, outside a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def numeric_features(ds):
    """Drop the string fields (source_name, target_name): the step does not use them, and
    distributing string tensors across replicas fails (AddN on strings)."""
    return ds.map(lambda d: {k: v for k, v in d.items() if v.dtype != tf.string})


def run_custom_loop(trainer, train_cfg, train_ds, manager, strategy, verbose=1):
    """The multi-worker loop: the same per-phase step in `strategy.run`, one tf.function per
    phase. Every worker saves (a collective op); only the chief writes into RUN_DIR."""
    total = train_cfg.total_steps
    dist = iter(strategy.experimental_distribute_dataset(numeric_features(train_ds)))
    chief = is_chief(strategy)
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
        traced = trainer.traced_phase(phase)
        fn = steps.get(traced)
        if fn is None:
            def fn(batch, _phase=traced):
                return strategy.run(trainer.phase_train_step, args=(_phase, batch))
            fn = steps[traced] = tf.function(fn)
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
