"""The one-level ablation (paper Table 3 "One w/ GC" / "One w/ VC", `ModelConfig.stages=1`): no
G_p; G_i takes (source image, source pose, target pose) only. Builders, counts, the weights
round trip, pose transfer without a parsing and the one-line texture refusal."""

import dataclasses

import keras
import numpy as np
import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.models import (build_generator, build_image_generator,
                             build_one_stage_image_generator, build_parsing_generator,
                             generator_inputs)
from pinet_tf.models.io import load_generator, save_generator
from pinet_tf.models.texture import texture_transfer
from pinet_tf.models.transfer import pose_transfer
from tests.models.test_generators import _inputs, _trainable

VARIANTS = {"one_stage": {"stages": 1}, "one_stage_vanilla": {"stages": 1,
                                                              "convolution": "vanilla"},
            "vanilla": {"convolution": "vanilla"}}


def test_one_stage_parameter_counts_at_official_widths():
    # Only G_i's first 7x7 layer changes: 39 input channels instead of 45 (no source parsing,
    # no guide, but the source heatmaps): 6 * 49 * (2 * 64) weights fewer when gated.
    one = dataclasses.replace(ModelConfig.official(), stages=1)
    assert _trainable(build_image_generator(one)) == 9_591_565 == 9_629_197 - 6 * 49 * 128
    vanilla = dataclasses.replace(one, convolution="vanilla")
    generator = build_generator(vanilla)
    assert _trainable(generator) == 4_839_434 == 4_858_250 - 6 * 49 * 64
    assert [layer.name for layer in generator.layers if isinstance(layer, keras.Model)] \
        == ["image_generator"]


@pytest.mark.parametrize("name", ["one_stage", "one_stage_vanilla"])
def test_one_stage_inputs_outputs_and_shapes(name):
    cfg = dataclasses.replace(ModelConfig.tiny(), **VARIANTS[name])
    g = build_generator(cfg)
    assert generator_inputs(cfg) == ("source_image", "source_heatmaps", "target_heatmaps")
    assert {t.name for t in g.inputs} == set(generator_inputs(cfg))
    gi = g.get_layer("image_generator")
    assert gi.get_layer("gi_inputs").output.shape[-1] == 3 + 18 + 18
    assert gi.get_layer("gi_gc5").gated == (cfg.convolution == "gated")
    out = g(_inputs(g), training=False)
    assert set(out) == {"image"} and out["image"].shape == (2, 64, 44, 3)
    assert float(np.abs(np.asarray(out["image"])).max()) <= 1.0


def test_one_stage_config_field_is_checked_and_round_trips():
    with pytest.raises(ValueError, match=r"stages must be one of \(1, 2\), got 3"):
        dataclasses.replace(ModelConfig.tiny(), stages=3)
    cfg = dataclasses.replace(ModelConfig.small(), stages=1)
    assert ModelConfig.from_json(cfg.to_json()) == cfg and not cfg.has_parsing
    old = {k: v for k, v in ModelConfig.tiny().to_dict().items() if k != "stages"}
    assert ModelConfig.from_dict(old).stages == 2  # configs written before the field
    with pytest.raises(ValueError, match="no parsing generator"):
        build_parsing_generator(cfg)
    with pytest.raises(ValueError, match="no parsing generator"):
        build_generator(cfg, parsing_generator=object())
    assert build_one_stage_image_generator(cfg).name == "image_generator"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_save_load_round_trip_gives_equal_outputs(name, tmp_path):
    cfg = dataclasses.replace(ModelConfig.tiny(), **VARIANTS[name])
    keras.utils.set_random_seed(3)
    g = build_generator(cfg)
    x = _inputs(g, seed=5)
    expected = g(x, training=False)
    save_generator(g, cfg, str(tmp_path / "g.weights.h5"))
    loaded, loaded_cfg = load_generator(str(tmp_path / "g.weights.h5"))
    assert loaded_cfg == cfg
    got = loaded(x, training=False)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_loading_two_stage_weights_as_one_stage_names_the_mismatch(tmp_path):
    cfg = ModelConfig.tiny()
    save_generator(build_generator(cfg), cfg, str(tmp_path / "g.weights.h5"))
    one = dataclasses.replace(cfg, stages=1)
    with pytest.raises(ValueError, match=r"cannot load generator weights from .*g\.weights\.h5"):
        load_generator(str(tmp_path / "g.weights.h5"), one)


def test_pose_transfer_takes_no_parsing_and_texture_is_refused():
    cfg = dataclasses.replace(ModelConfig.tiny(), stages=1)
    g = build_generator(cfg)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2, 64, 44, 3)).astype(np.uint8)
    parsing = rng.integers(0, 12, (2, 64, 44)).astype(np.uint8)
    kp = rng.uniform(0, 40, (2, 18, 2)).astype(np.float32)
    without = pose_transfer(g, cfg, image, None, kp, kp[::-1])
    assert set(without) == {"image"} and without["image"].dtype == "uint8"
    given = pose_transfer(g, cfg, image, parsing, kp, kp[::-1])  # ignored
    np.testing.assert_array_equal(np.asarray(given["image"]), np.asarray(without["image"]))
    with pytest.raises(ValueError, match="^texture transfer needs the parsing generator; the "
                                         "model in this run has stages=1$"):
        texture_transfer(g, cfg, image, parsing, kp, image, parsing, np.ones(12))
    two = ModelConfig.tiny()
    with pytest.raises(ValueError, match="needs the source parsing"):
        pose_transfer(build_generator(two), two, image, None, kp, kp)
