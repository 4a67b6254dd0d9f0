"""Exact resume through the CLI, and the data stream it rests on.

A run killed (SIGKILL) after its first checkpoint and resumed with `--resume` ends with weights
identical, bit for bit, to the uninterrupted run with the same seed: the resumed run skips the
pairs its checkpointed steps consumed, and the checkpoint holds the dropout seed states (the
GAN term is on, so the discriminators' dropout draws masks every step).
"""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.run import training_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS, EVERY = 24, 8
WEIGHTS = ("generator.weights.h5", "pose_discriminator.weights.h5",
           "appearance_discriminator.weights.h5")


def _train_argv(records, out):
    return [sys.executable, "-m", "pinet_tf.cli", "train", "--config", "tiny", "--data", records,
            "--out", out, "--schedule", "official", "--steps", str(STEPS), "--batch-size", "2",
            "--perceptual-weight", "0", "--gan-weight", "5", "--checkpoint-every", str(EVERY),
            "--log-every", "4", "--image-every", "1000", "--seed", "3", "--verbose", "0"]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")


def _h5_values(path):
    values = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: values.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return values


def assert_same_final_weights(run_a, run_b):
    """The three final weight files of two run directories hold bit-identical tensors."""
    for name in WEIGHTS:
        a, b = _h5_values(os.path.join(run_a, name)), _h5_values(os.path.join(run_b, name))
        assert sorted(a) == sorted(b) and a, name
        differ = [k for k in a if not np.array_equal(a[k], b[k])]
        assert not differ, f"{name}: {len(differ)} of {len(a)} tensors differ, e.g. {differ[:3]}"


def test_killed_run_resumed_ends_with_the_uninterrupted_weights(tmp_path, tiny_records):
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    # Both runs at once (two cores); the killed one is stopped after its first checkpoint.
    uninterrupted = subprocess.Popen(_train_argv(tiny_records, whole), cwd=ROOT, env=_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = subprocess.Popen(_train_argv(tiny_records, killed), cwd=ROOT, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = os.path.join(killed, "checkpoints", "checkpoint")
    deadline = time.time() + 600
    while not os.path.exists(state) and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    out, _ = uninterrupted.communicate(timeout=900)
    assert uninterrupted.returncode == 0, out[-3000:]
    assert os.path.exists(state), "the run to kill never wrote a checkpoint"
    assert not os.path.exists(os.path.join(killed, WEIGHTS[0])), "killed too late: run finished"
    with open(state) as f:
        latest = f.read()
    assert f'ckpt-{STEPS}"' not in latest, latest

    # As the README shows it: no --data; the run continues on the records it recorded
    # (RUN_DIR/data.json), not on a fresh synthetic set (issue 29).
    resumed = subprocess.run([sys.executable, "-m", "pinet_tf.cli", "train", "--out", killed,
                              "--resume", "--verbose", "0"], cwd=ROOT,
                             env=_env(), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resumed" in resumed.stdout and f"trained {STEPS} steps" in resumed.stdout
    assert f"data: {tiny_records} (recorded in" in resumed.stdout, resumed.stdout[-3000:]
    assert not os.path.exists(os.path.join(killed, "data"))  # no synthetic set was made
    assert_same_final_weights(whole, killed)


def _batches(ds, n):
    return [{k: np.asarray(v) for k, v in batch.items()} for batch, _ in zip(ds, range(n))]


def _assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert sorted(g) == sorted(w)
        for k in w:
            np.testing.assert_array_equal(g[k], w[k], err_msg=k)


@pytest.mark.parametrize("shuffle", [True, False])
def test_stream_from_step_k_is_the_whole_stream_after_k_steps(tiny_records, shuffle):
    cfg = ModelConfig.tiny()
    train_cfg = TrainConfig(schedule="official", steps=(10,), batch_size=4, perceptual_weight=0,
                            shuffle=shuffle, seed=5)
    whole = _batches(training_data(tiny_records, cfg, train_cfg), 6)
    _assert_same(_batches(training_data(tiny_records, cfg, train_cfg, start_step=4), 2),
                 whole[4:])
    if shuffle:  # seeded: a second stream is the same; a different seed is not
        _assert_same(_batches(training_data(tiny_records, cfg, train_cfg), 6), whole)
        other = TrainConfig(**dict(train_cfg.to_dict(), seed=6))
        assert not np.array_equal(_batches(training_data(tiny_records, cfg, other), 1)[0][
            "target_image"], whole[0]["target_image"])


def test_no_shuffle_step_k_sees_pairs_kB_to_kB_plus_B_in_record_order(tiny_records):
    """--no-shuffle: the same element values that make_dataset(..., training=False) yields,
    and wrapping around at the end of the split (576 train pairs, batch 5: step 115 holds
    pairs 575, 0, 1, 2, 3)."""
    from pinet_tf import datasets
    from tests.fixtures_data import TINY_TRAIN_PAIRS

    cfg, b = ModelConfig.tiny(), 5
    train_cfg = TrainConfig(schedule="official", steps=(10,), batch_size=b, perceptual_weight=0,
                            shuffle=False)
    reference = _batches(datasets.make_dataset(tiny_records, "train", cfg, b, training=False), 3)
    _assert_same(_batches(training_data(tiny_records, cfg, train_cfg), 3), reference)
    last = TINY_TRAIN_PAIRS // b
    wrap = _batches(training_data(tiny_records, cfg, train_cfg, start_step=last), 1)[0]
    first = reference[0]
    tail = _batches(datasets.make_dataset(tiny_records, "train", cfg, b, training=False)
                    .skip(last), 1)[0]
    n_tail = TINY_TRAIN_PAIRS - last * b
    np.testing.assert_array_equal(wrap["target_image"][:n_tail], tail["target_image"])
    np.testing.assert_array_equal(wrap["target_image"][n_tail:],
                                  first["target_image"][:b - n_tail])
