"""TrainConfig phases and validation; the learning-rate schedule and optimizer offsets."""

import numpy as np
import pytest

from pinet_tf.training.config import TrainConfig
from pinet_tf.training.schedules import (ConstantThenLinearDecay, EpochLinearDecay,
                                        make_optimizers)


def test_paper_phases_and_defaults():
    cfg = TrainConfig(steps=(3, 2, 9), perceptual_weight=0)
    assert [cfg.phase_at(s) for s in range(14)] == [1] * 3 + [2] * 2 + [3] * 9
    assert cfg.decay_steps == 4 and cfg.gan_kind == "log" and cfg.parsing_l1_weight == 1.0
    assert cfg.first_step_training("image") == 3 and cfg.first_step_training("parsing") == 0
    skip = TrainConfig(steps=(0, 2, 3), perceptual_weight=0)
    assert [skip.phase_at(s) for s in range(5)] == [2, 2, 3, 3, 3]


def test_official_is_one_joint_phase():
    cfg = TrainConfig(schedule="official", steps=(700,), perceptual_weight=0)
    assert {cfg.phase_at(s) for s in (0, 699)} == {3}
    assert cfg.decay_steps == 200 and cfg.gan_kind == "lsgan" and cfg.parsing_l1_weight == 0
    assert cfg.perceptual_layers == {"relu1_2": 1.0}


@pytest.mark.parametrize("kwargs, match", [
    (dict(schedule="official", steps=(1, 2, 3)), "total joint steps"),
    (dict(steps=(5,)), "a,b,c"),
    (dict(steps=(0, 0, 0)), "positive total"),
    (dict(steps=(1, 1, 1), gan_kind="hinge"), "gan_kind"),
    (dict(schedule="fast"), "schedule"),
    (dict(steps=(1, 1, 1), l1_class_weights={"feet": 2.0}), "unknown class 'feet'"),
    (dict(steps=(1, 1, 1), l1_class_weights={"hair": -1.0}), "a number > 0"),
])
def test_bad_settings_are_refused(kwargs, match):
    kwargs.setdefault("perceptual_weight", 0)
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_round_trip(tmp_path):
    cfg = TrainConfig(steps=(1, 2, 3), perceptual_weight=0, batch_size=3)
    cfg.save(tmp_path / "t.json")
    assert TrainConfig.load(tmp_path / "t.json") == cfg
    # the class weights (a mapping) too: --resume reads them back from train_config.json
    cfg = TrainConfig(steps=(1, 2, 3), l1_class_weights={"shoes": 4.0, "hair": 2.0})
    cfg.save(tmp_path / "c.json")
    assert TrainConfig.load(tmp_path / "c.json") == cfg


def test_constant_then_linear_decay():
    lr = ConstantThenLinearDecay(1e-3, decay_start=10, decay_steps=4, offset=2)
    got = [float(lr(s)) for s in (0, 7, 8, 9, 10, 11, 12, 20)]
    np.testing.assert_allclose(got, [1e-3, 1e-3, 1e-3, 0.75e-3, 0.5e-3, 0.25e-3, 0.0, 0.0],
                               atol=1e-9)
    assert ConstantThenLinearDecay.from_config(lr.get_config()).offset == 2


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_schedules_compute_in_floatx(floatx):
    """In a float64 check (floatx float64) the learning rate is not rounded to float32: a
    float32 2e-4 is 2.5e-8 off, in every Adam update (`docs/results/parity.md`)."""
    import keras

    old = keras.config.floatx()
    keras.config.set_floatx(floatx)
    try:
        for lr in (EpochLinearDecay(2e-4, 7, 500, 200), ConstantThenLinearDecay(2e-4, 10, 0),
                   ConstantThenLinearDecay(2e-4, 10, 4)):
            value = lr(3)
            assert keras.backend.standardize_dtype(value.dtype) == floatx
            assert float(value) == float(np.asarray(2e-4, floatx))
    finally:
        keras.config.set_floatx(old)


def test_optimizers_decay_at_the_same_global_steps():
    cfg = TrainConfig(steps=(10, 10, 9), perceptual_weight=0, learning_rate=1.0)
    gp, gi, d = make_optimizers(cfg)
    assert cfg.decay_steps == 4  # decay over global steps 25..29
    # Global step 27 is 27 G_p updates but only 17 G_i / D updates in.
    for opt, its in ((gp, 27), (gi, 17), (d, 17)):
        np.testing.assert_allclose(float(opt._learning_rate(its)), 0.5, atol=1e-6)
