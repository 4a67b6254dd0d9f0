"""The trainer under `fit`: phase switching moves the right weights, checkpoint/resume is exact,
NaN stops the run, evaluation reports L1/SSIM, mixed precision runs.

A micro config (32x24, widths 4) keeps steps cheap, and these tests run `fit` eagerly
(`run_eagerly=True`): tracing a GAN step costs ~20 s of CPU per phase, and the same dispatcher and
callbacks run either way. The compiled path through all three phases is exercised by the
`trained_tiny_run` fixture, whose optimizer step counts test_learning.py checks.
"""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.models.generators import PARSING_GENERATOR_INPUTS
from pinet_tf.training.callbacks import NonFiniteLossError, PhaseScheduler
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.run import build_trainer, run_fit
from pinet_tf.training.schedules import make_optimizers
from pinet_tf.training.trainer import PINetTrainer
from tests.training.contract_data import contract_dataset, contract_elements

MICRO = ModelConfig(name="micro", image_height=32, image_width=24, ngf=4, ndf=4,
                    discriminator_blocks=1, discriminator_dropout=0.0, parsing_feed="softmax")


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _moved(before, variables):
    return any(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables))


class _Snapshots(keras.callbacks.Callback):
    """Copies every network's trainable weights before each step."""

    def __init__(self):
        super().__init__()
        self.by_step = []

    def on_train_batch_begin(self, batch, logs=None):
        m = self.model
        self.by_step.append({
            "phase": m.current_phase(),
            "gp": _values(m.parsing_generator.trainable_variables),
            "gi": _values(m.image_generator.trainable_variables),
            "d": _values(m._discriminator_variables())})


def test_phase_switch_inside_one_fit_changes_which_weights_move():
    keras.utils.set_random_seed(0)
    train_cfg = TrainConfig(schedule="paper", steps=(2, 2, 2), batch_size=2, perceptual_weight=0)
    trainer = build_trainer(MICRO, train_cfg, run_eagerly=True)
    snaps = _Snapshots()
    ds = contract_dataset(MICRO, n=4, batch_size=2)

    class _Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.step.assign_add(1)

    history = trainer.fit(ds, steps_per_epoch=6, epochs=1, verbose=0,
                          callbacks=[PhaseScheduler(train_cfg.phase_at, verbose=0), snaps,
                                     _Count()])
    phases = [s["phase"] for s in snaps.by_step]
    assert phases == [1, 1, 2, 2, 3, 3]
    nets = {"gp": trainer.parsing_generator.trainable_variables,
            "gi": trainer.image_generator.trainable_variables,
            "d": trainer._discriminator_variables()}
    # Weights before step i+1 vs before step i (the last step vs the end of the run).
    ends = snaps.by_step[1:] + [{k: _values(v) for k, v in nets.items()}]
    for i, (before, after) in enumerate(zip(snaps.by_step, ends)):
        moved = {k: any(not np.array_equal(a, b) for a, b in zip(before[k], after[k]))
                 for k in nets}
        want = {1: {"gp": True, "gi": False, "d": False},
                2: {"gp": False, "gi": True, "d": True},
                3: {"gp": True, "gi": True, "d": True}}[phases[i]]
        assert moved == want, f"step {i} (phase {phases[i]}): moved {moved}, expected {want}"
    # Every loss of the last phase is a tracked metric.
    assert {"parsing_ce", "parsing_l1", "l1", "g_gan", "d_pose", "d_appearance",
            "g_total"} <= set(history.history)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    # Each optimizer counted only its own network's updates.
    assert int(trainer.parsing_optimizer.iterations.numpy()) == 4
    assert int(trainer.image_optimizer.iterations.numpy()) == 4
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 4


def test_checkpoint_resume_mid_phase_is_exact(tmp_path):
    """A run stopped at step 2 of 4 and resumed in a fresh trainer ends with the same weights,
    step, phase and optimizer state as the uninterrupted run."""
    train_cfg = TrainConfig(schedule="official", steps=(4,), batch_size=2, perceptual_weight=0,
                            checkpoint_every=2, log_every=1, image_every=2)
    sample = next(iter(contract_dataset(MICRO, n=2, batch_size=2)))
    keras.utils.set_random_seed(1)
    a = build_trainer(MICRO, train_cfg, run_eagerly=True)
    ckpt_dir = str(tmp_path / "a")
    manager = tf.train.CheckpointManager(a.checkpoint(), ckpt_dir, max_to_keep=5)
    run_fit(a, train_cfg, contract_dataset(MICRO, n=8, batch_size=2),
            manager, str(tmp_path / "logs"), sample, verbose=0)
    assert int(a.step.numpy()) == 4
    assert sorted(os.path.basename(p) for p in glob.glob(ckpt_dir + "/ckpt-*.index")) == \
        ["ckpt-2.index", "ckpt-4.index"]

    keras.utils.set_random_seed(2)  # different init: everything must come from the checkpoint
    b = build_trainer(MICRO, train_cfg, run_eagerly=True)
    b.checkpoint().restore(os.path.join(ckpt_dir, "ckpt-2")).assert_existing_objects_matched()
    assert int(b.step.numpy()) == 2 and b.current_phase() == 3
    assert int(b.image_optimizer.iterations.numpy()) == 2
    manager_b = tf.train.CheckpointManager(b.checkpoint(), str(tmp_path / "b"), max_to_keep=5)
    run_fit(b, train_cfg, contract_dataset(MICRO, n=8, batch_size=2).skip(2),
            manager_b, str(tmp_path / "logs_b"), None, verbose=0)
    assert int(b.step.numpy()) == 4
    for net in ("parsing_generator", "image_generator", "pose_discriminator",
                "appearance_discriminator"):
        for va, vb in zip(getattr(a, net).weights, getattr(b, net).weights):
            np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{net}/{va.path}")
    for opt in ("parsing_optimizer", "image_optimizer", "discriminator_optimizer"):
        for va, vb in zip(getattr(a, opt).variables, getattr(b, opt).variables):
            np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-5, atol=1e-7)
    # TensorBoard got scalars and an image grid.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tmp_path / "logs"), size_guidance={"tensors": 0}).Reload()
    tags = events.Tags()["tensors"]
    assert "loss/l1" in tags and "samples" in tags and "learning_rate/image" in tags
    assert [e.step for e in events.Tensors("loss/l1")] == [1, 2, 3, 4]


def test_nan_loss_stops_with_name_and_step_and_keeps_last_good_checkpoint(tmp_path):
    train_cfg = TrainConfig(schedule="official", steps=(6,), batch_size=2, perceptual_weight=0,
                            checkpoint_every=1)
    keras.utils.set_random_seed(0)
    trainer = build_trainer(MICRO, train_cfg, run_eagerly=True)
    elements = contract_elements(MICRO, 8)
    elements["target_image"][2:4] = np.nan  # the 2nd batch
    ds = tf.data.Dataset.from_tensor_slices(elements).batch(2)
    manager = tf.train.CheckpointManager(trainer.checkpoint(), str(tmp_path), max_to_keep=5)
    with pytest.raises(NonFiniteLossError, match=r"loss 'l1' became nan at step 2") as err:
        run_fit(trainer, train_cfg, ds, manager, str(tmp_path / "logs"), verbose=0)
    assert err.value.checkpoint.endswith("ckpt-1")
    assert manager.latest_checkpoint.endswith("ckpt-1")
    restored = PINetTrainer(MICRO)
    tf.train.Checkpoint(step=restored.step, image_generator=restored.image_generator).restore(
        manager.latest_checkpoint).expect_partial()
    assert int(restored.step.numpy()) == 1
    assert all(np.isfinite(v.numpy()).all() for v in restored.image_generator.weights)


def test_evaluate_reports_l1_ssim_and_parsing_accuracy():
    from pinet_tf.metrics import ssim

    keras.utils.set_random_seed(0)
    trainer = build_trainer(MICRO, TrainConfig(schedule="official", steps=(1,),
                                               perceptual_weight=0), run_eagerly=True)
    elements = contract_elements(MICRO, 4, seed=3)
    ds = tf.data.Dataset.from_tensor_slices(elements).batch(2)
    got = trainer.evaluate(ds, verbose=0, return_dict=True)
    out = trainer.generator({k: elements[k] for k in ("source_image", "source_parsing_onehot",
                                                      "source_heatmaps", "target_heatmaps")})
    # The project's one definition (pinet_tf.metrics.standard): on the uint8 PNG images.
    to_u8 = lambda x: np.round((np.clip(np.asarray(x, np.float32), -1, 1) + 1) * 127.5)
    image, target = to_u8(out["image"]), to_u8(elements["target_image"])
    np.testing.assert_allclose(got["l1"], np.abs(image - target).mean() / 255, rtol=1e-4)
    np.testing.assert_allclose(got["ssim"], float(np.mean(
        ssim(target.astype(np.uint8), image.astype(np.uint8), data_range=255))), rtol=1e-4)
    acc = (np.argmax(np.asarray(out["parsing_logits"]), -1) == elements["target_parsing"]).mean()
    np.testing.assert_allclose(got["parsing_accuracy"], acc, rtol=1e-5)


def test_mixed_precision_step_uses_loss_scaling_and_float32_weights():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        train_cfg = TrainConfig(schedule="official", steps=(1,), batch_size=2,
                                perceptual_weight=0, mixed_precision=True)
        trainer = build_trainer(MICRO, train_cfg)
        assert isinstance(trainer.image_optimizer, keras.optimizers.LossScaleOptimizer)
        assert trainer.image_generator.get_layer("gi_gc5").compute_dtype == "float16"
        before = _values(trainer.image_generator.trainable_variables)
        batch = next(iter(contract_dataset(MICRO, n=2, batch_size=2)))
        scale = float(trainer.image_optimizer.dynamic_scale.numpy())
        # Dynamic loss scaling starts at 2^15: steps whose float16 gradients overflow are skipped
        # (and the scale halved) until the scale fits, then the weights move.
        for _ in range(12):
            logs = trainer.phase_train_step(3, batch)
            if _moved(before, trainer.image_generator.trainable_variables):
                break
        assert all(np.isfinite(float(v)) for v in logs.values())
        assert _moved(before, trainer.image_generator.trainable_variables)
        assert float(trainer.image_optimizer.dynamic_scale.numpy()) <= scale
        assert all(v.dtype == "float32" for v in trainer.image_generator.trainable_variables)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_compile_takes_resolved_values_and_refuses_incomplete_ones():
    train_cfg = TrainConfig(schedule="official", steps=(1,), perceptual_weight=0)
    trainer = PINetTrainer(MICRO)
    optimizers = make_optimizers(train_cfg)
    weights = dict(train_cfg.loss_weights, perceptual=1.0)
    with pytest.raises(ValueError, match="VGGPerceptualLoss"):
        trainer.compile(*optimizers, loss_weights=weights, gan_kind="lsgan")
    with pytest.raises(ValueError, match=r"lacks \['parsing_l1'\]"):
        trainer.compile(*optimizers, loss_weights={k: v for k, v in weights.items()
                                                   if k != "parsing_l1"}, gan_kind="lsgan")
    with pytest.raises(ValueError, match="steps_per_execution"):
        trainer.compile(*optimizers, loss_weights=train_cfg.loss_weights, gan_kind="lsgan",
                        steps_per_execution=2)
    trainer.compile(*optimizers, loss_weights=train_cfg.loss_weights, gan_kind="lsgan")
    assert trainer.loss_weights_ == {"l1": 1.0, "perceptual": 0.0, "gan": 5.0,
                                     "parsing_ce": 1.0, "parsing_l1": 0.0, "l1_person": 1.0,
                                     "l1_person_joint": 1.0}
    assert trainer.parsing_optimizer is optimizers[0]
    assert trainer.discriminator_optimizer is optimizers[2]
    # The joint phase feeds G_i through the composed generator's own ParsingGuide layer.
    assert trainer.parsing_guide is trainer.generator.get_layer("parsing_guide")


def test_step_with_perceptual_loss_from_local_vgg_weights(tmp_path):
    from pinet_tf.losses import VGGPerceptualLoss

    keras.utils.set_random_seed(0)
    path = str(tmp_path / "vgg19_random.weights.h5")
    keras.applications.VGG19(include_top=False, weights=None).save_weights(path)
    train_cfg = TrainConfig(schedule="official", steps=(1,), vgg_weights=path)
    trainer = PINetTrainer(MICRO)
    trainer.compile(*make_optimizers(train_cfg), loss_weights=train_cfg.loss_weights,
                    gan_kind=train_cfg.gan_kind, perceptual_loss=VGGPerceptualLoss(path),
                    run_eagerly=True)
    before = _values(trainer.image_generator.trainable_variables)
    logs = trainer.phase_train_step(3, next(iter(contract_dataset(MICRO, n=2, batch_size=2))))
    assert float(logs["perceptual"]) > 0 and np.isfinite(float(logs["g_total"]))
    assert _moved(before, trainer.image_generator.trainable_variables)


@pytest.mark.parametrize("phase, weight", [(2, 10.0), (3, 4.0)])
def test_person_weighted_l1_is_what_the_image_step_minimises(phase, weight):
    """l1_person 10 and l1_person_joint 4: the step reports the person-weighted L1 of G_i's
    picture (NumPy reference from the same training-mode forward pass), not the plain mean, with
    weight 10 in phase 2 and 4 in the joint phase 3."""
    train_cfg = TrainConfig(steps=(0, 1, 1), gan_weight=0.0, perceptual_weight=0.0,
                            l1_person_weight=10.0, l1_person_weight_joint=4.0)
    keras.utils.set_random_seed(0)
    trainer = PINetTrainer(MICRO)
    trainer.compile(*make_optimizers(train_cfg), loss_weights=train_cfg.loss_weights,
                    gan_kind=train_cfg.gan_kind, run_eagerly=True)
    batch = dict(next(iter(contract_dataset(MICRO, n=2, batch_size=2))))
    person = 1.0 - np.asarray(batch["target_parsing_onehot"])[..., :1]
    assert 0 < person.mean() < 1  # both kinds of pixel in the batch
    # a target far off on the person only, so that the weighted and plain means differ
    batch["target_image"] = tf.constant(np.asarray(batch["target_image"]) + 2.0 * person,
                                        batch["target_image"].dtype)
    # phase 3: G_i's guide is G_p's training-mode parsing of the same batch (G_p has no
    # BatchNorm update between the two calls that would change it: both run before any step)
    logits = (trainer.parsing_generator({k: batch[k] for k in PARSING_GENERATOR_INPUTS},
                                        training=True)["parsing_logits"] if phase == 3 else None)
    image = trainer.image_generator(trainer._image_inputs(phase, batch, logits),
                                    training=True)["image"]
    diff = np.abs(np.asarray(image, np.float64) - np.asarray(batch["target_image"], np.float64))
    weights = 1.0 + (weight - 1.0) * person
    logs = trainer.phase_train_step(phase, batch)
    expected = (diff * weights).sum() / (weights.sum() * diff.shape[-1])
    np.testing.assert_allclose(float(logs["l1"]), expected, rtol=1e-4)
    other = 1.0 + (14.0 - weight - 1.0) * person  # the other phase's weight (10 <-> 4)
    assert not np.isclose(float(logs["l1"]), (diff * other).sum() / (other.sum() * 3), rtol=1e-3)
    assert float(logs["l1"]) > diff.mean() + 0.05


def test_class_weights_reach_the_image_step():
    """`l1_class_weights` (TrainConfig -> compile): the step's L1 is the mean weighted by the
    person weight times each class's factor (NumPy reference from the same forward pass)."""
    train_cfg = TrainConfig(steps=(0, 1, 0), gan_weight=0.0, perceptual_weight=0.0,
                            l1_person_weight=10.0,
                            l1_class_weights={"background": 2.0, "upper-clothes": 3.0})
    keras.utils.set_random_seed(0)
    trainer = PINetTrainer(MICRO)
    trainer.compile(*make_optimizers(train_cfg), loss_weights=train_cfg.loss_weights,
                    gan_kind=train_cfg.gan_kind, l1_class_weights=train_cfg.l1_class_weights,
                    run_eagerly=True)
    batch = dict(next(iter(contract_dataset(MICRO, n=2, batch_size=2))))
    onehot = np.asarray(batch["target_parsing_onehot"], np.float64)
    assert onehot[..., 0].any() and onehot[..., 2].any()  # both re-weighted classes occur
    image = trainer.image_generator(trainer._image_inputs(2, batch, None), training=True)["image"]
    diff = np.abs(np.asarray(image, np.float64) - np.asarray(batch["target_image"], np.float64))
    per_class = np.array([2.0, 10.0, 30.0] + [10.0] * 9)
    weights = (onehot * per_class).sum(-1, keepdims=True)
    logs = trainer.phase_train_step(2, batch)
    np.testing.assert_allclose(float(logs["l1"]), (diff * weights).sum()
                               / (weights.sum() * 3), rtol=1e-4)
