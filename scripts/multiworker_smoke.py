"""MultiWorkerMirroredStrategy smoke run: N local worker processes on loopback ports.

    python scripts/multiworker_smoke.py                 # 2 workers, 4 steps, official schedule
    python scripts/multiworker_smoke.py --workers 2 --steps 6 --schedule paper

Each worker gets TF_CONFIG (cluster of 127.0.0.1 ports, its own task index), builds the trainer
inside the strategy's scope and runs `pinet_tf.training.distribute.run_custom_loop`, the same per-phase
step function `fit` uses (Keras 3's `fit` fails under this strategy; docs/keras3-notes.md).
Afterwards the parent checks that every worker ended with identical trainable weights (gradients
are all-reduced), different from the initial ones, and exits non-zero otherwise. BatchNorm moving
statistics stay per worker (each sees its own shard), as in data-parallel training without SyncBN. Data: small random contract-shaped batches (the
same on every worker; the strategy shards them).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config():
    from pinet_tf.config import ModelConfig
    return ModelConfig(name="micro", image_height=32, image_width=24, ngf=4, ndf=4,
                       discriminator_blocks=1, discriminator_dropout=0.0, parsing_feed="softmax")


def worker(args) -> int:
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in args.ports.split(",")]},
        "task": {"type": "worker", "index": args.worker}})
    sys.path.insert(0, ROOT)
    import keras
    import tensorflow as tf

    from pinet_tf.training.config import TrainConfig
    from pinet_tf.training.distribute import make_strategy, run_custom_loop
    from pinet_tf.training.run import build_trainer
    from tests.training.contract_data import contract_dataset

    cfg = _config()
    steps = (args.steps,) if args.schedule == "official" else tuple(
        len(a) for a in np.array_split(np.arange(args.steps), 3))
    train_cfg = TrainConfig(schedule=args.schedule, steps=steps, batch_size=4,
                            perceptual_weight=0, strategy="multiworker", log_every=1,
                            checkpoint_every=max(1, args.steps // 2))
    strategy = make_strategy("multiworker")
    keras.utils.set_random_seed(0)  # the same initial weights on every worker
    trainer = build_trainer(cfg, train_cfg, strategy)
    initial = [v.numpy().copy() for v in trainer.generator.trainable_weights]
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = contract_dataset(cfg, n=16, batch_size=4).with_options(options)
    ckpt_dir = os.path.join(args.out, "checkpoints")
    manager = tf.train.CheckpointManager(trainer.checkpoint(), ckpt_dir, max_to_keep=2)
    run_custom_loop(trainer, train_cfg, ds, manager, strategy, verbose=1)
    final = [v.numpy() for v in trainer.generator.trainable_weights]
    np.savez(os.path.join(args.out, f"worker{args.worker}.npz"), *final)
    np.savez(os.path.join(args.out, f"worker{args.worker}-stats.npz"),
             *[v.numpy() for v in trainer.generator.non_trainable_weights])
    moved = any(not np.array_equal(a, b) for a, b in zip(initial, final))
    print(f"worker {args.worker}: step {int(trainer.step.numpy())}, weights moved: {moved}",
          flush=True)
    return 0 if moved else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--schedule", default="official", choices=["official", "paper"])
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--ports", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        return worker(args)
    ports = ",".join(map(str, _free_ports(args.workers)))
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
        procs = [subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", str(i), "--ports", ports,
             "--out", out, "--steps", str(args.steps), "--schedule", args.schedule],
            env=env) for i in range(args.workers)]
        codes = [proc.wait(timeout=900) for proc in procs]
        if any(codes):
            print(f"FAILED: worker exit codes {codes}")
            return 1
        weights = [np.load(os.path.join(out, f"worker{i}.npz")) for i in range(args.workers)]
        same = all(np.array_equal(weights[0][k], w[k]) for w in weights[1:] for k in weights[0])
        stats = [np.load(os.path.join(out, f"worker{i}-stats.npz")) for i in range(args.workers)]
        stats_diff = max(float(np.abs(stats[0][k] - s[k]).max()) for s in stats[1:]
                         for k in stats[0])
        print(f"{args.workers} workers, {args.steps} steps: identical trainable weights on all "
              f"workers: {same}; BatchNorm moving statistics (per worker, from its own shard, "
              f"as without SyncBN) differ by up to {stats_diff:.3g}")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
