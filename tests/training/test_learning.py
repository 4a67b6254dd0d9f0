"""Proof of learning on the session's tiny run (`trained_tiny_run`), and its RUN_DIR contents.

Held-out identities only (the data fixture's test split). Thresholds from the issue: L1 at least
30% below copy-the-source, below the mean training image, and parsing accuracy above the
majority class; an untrained model of the same config must fail all three.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.models import build_generator
from pinet_tf.models.io import load_generator
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.run import build_trainer
from tests.fixtures_training import TINY_RUN_STEPS
from tests.training.proof import learning_report, passes

pytestmark = pytest.mark.trained


@pytest.fixture(scope="module")
def reports(trained_tiny_run, tiny_records):
    generator, cfg = load_generator(trained_tiny_run)
    trained = learning_report(generator, tiny_records, cfg)
    keras.utils.set_random_seed(0)
    untrained = learning_report(build_generator(cfg), tiny_records, cfg)
    return trained, untrained


def test_untrained_model_fails_every_threshold(reports):
    _, untrained = reports
    assert not any(passes(untrained).values()), untrained


def test_trained_parsing_beats_majority_class(reports):
    trained, untrained = reports
    assert passes(trained)["beats_majority_class"], trained
    assert trained["parsing_accuracy"] > untrained["parsing_accuracy"] + 0.5, trained
    # The image generator learned something: below its untrained L1.
    assert trained["l1"] < untrained["l1"] - 0.02, (trained, untrained)


def test_trained_image_beats_copy_and_mean_baselines(reports):
    trained, _ = reports
    verdict = passes(trained)
    assert verdict["beats_copy_by_30pct"] and verdict["beats_mean_image"], trained


def test_run_dir_holds_configs_checkpoint_logs_weights_and_picture(trained_tiny_run):
    for name in ("config.json", "train_config.json", "generator.weights.h5", "metrics.json",
                 "samples/results.png"):
        assert os.path.isfile(os.path.join(trained_tiny_run, name)), name
    train_cfg = TrainConfig.load(os.path.join(trained_tiny_run, "train_config.json"))
    assert train_cfg.steps == TINY_RUN_STEPS and train_cfg.schedule == "paper"
    with open(os.path.join(trained_tiny_run, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["step"] == sum(TINY_RUN_STEPS)
    assert set(metrics["metrics"]) >= {"l1", "ssim", "parsing_accuracy"}


def test_compiled_run_moved_each_network_only_in_its_phases(trained_tiny_run):
    """The final checkpoint's optimizer step counts: G_p trained in phases 1 and 3, G_i in phases
    2 and 3: the compiled per-phase steps under one `fit` call."""
    from pinet_tf.config import ModelConfig

    cfg = ModelConfig.load(os.path.join(trained_tiny_run, "config.json"))
    train_cfg = TrainConfig.load(os.path.join(trained_tiny_run, "train_config.json"))
    trainer = build_trainer(cfg, train_cfg)  # the same optimizers (and LR schedules) as the run
    ckpt = tf.train.latest_checkpoint(os.path.join(trained_tiny_run, "checkpoints"))
    trainer.checkpoint().restore(ckpt).expect_partial()
    a, b, c = TINY_RUN_STEPS
    assert int(trainer.step.numpy()) == a + b + c and trainer.current_phase() == 3
    assert int(trainer.parsing_optimizer.iterations.numpy()) == a + c
    assert int(trainer.image_optimizer.iterations.numpy()) == b + c
    # The fixture trains without GAN (weight 0), so the discriminators never step.
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 0
    # The TensorBoard "phase" scalar switched at the configured boundaries.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(os.path.join(trained_tiny_run, "logs"),
                              size_guidance={"tensors": 0}).Reload()
    phases = {e.step: int(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("phase")}
    assert {s: p for s, p in phases.items() if s in (a, a + b, a + b + c)} == \
        {a: 1, a + b: 2, a + b + c: 3}
    assert "samples" in events.Tags()["tensors"]
    # The final weights equal the checkpoint's generator.
    generator, _ = load_generator(trained_tiny_run)
    for w1, w2 in zip(generator.weights, trainer.generator.weights):
        np.testing.assert_array_equal(w1.numpy(), w2.numpy())
