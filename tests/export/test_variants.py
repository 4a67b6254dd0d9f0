"""The ablation variants (paper Table 3) through the same export, TFLite and serving round trips
as the full model: one-stage (stages=1, no G_p: no parsing in or out, no texture_transfer) and
vanilla convolution. Tiny sizes, random BatchNorm-calibrated weights (`tests/serving/tiny_export`)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.export import savedmodel, tflite
from pinet_tf.inference.predictor import load_predictor
from tests.serving.tiny_export import batch, model_inputs, tiny_export

VARIANTS = {"one_stage": {"stages": 1}, "vanilla": {"convolution": "vanilla"}}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def exp(request, tmp_path_factory):
    return tiny_export(request, tmp_path_factory, **VARIANTS[request.param])


@pytest.fixture(scope="module")
def inputs(exp):
    return batch(exp.cfg, 3, seed=21)


def _keras_image(exp, inputs):
    ref = exp.generator(model_inputs(exp.cfg, inputs), training=False)
    return np.asarray(tf.round((tf.clip_by_value(ref["image"], -1, 1) + 1) * 127.5)), ref


def test_signatures_of_the_variant(exp, inputs):
    loaded = tf.saved_model.load(exp.path)
    spec = loaded.signatures["serving_default"].structured_input_signature[1]
    if exp.cfg.has_parsing:
        assert set(loaded.signatures) == {"serving_default", "pose_transfer", "texture_transfer"}
        assert "source_parsing" in spec and "source_parsing" in inputs
    else:
        assert set(loaded.signatures) == {"serving_default", "pose_transfer"}
        assert set(spec) == {"source_image", "source_keypoints", "target_keypoints"}
        assert set(inputs) == set(spec)  # the calibration / test inputs follow the signature
        assert set(loaded.signatures["pose_transfer"].structured_outputs) == {"image"}
        note = open(os.path.join(exp.path, "assets", "INPUTS.txt")).read()
        assert "stages=1" in note and "source_parsing" not in note
    assert savedmodel.load_export_config(exp.path) == exp.cfg


def test_saved_model_matches_keras_and_predictor(exp, inputs):
    ref_image, ref = _keras_image(exp, inputs)
    assert ref_image.std() > 5  # activations are O(1): the comparison is not vacuous
    loaded = tf.saved_model.load(exp.path)
    out = loaded.signatures["pose_transfer"](**inputs)
    diff = np.abs(out["image"].numpy().astype(int) - ref_image.astype(int))
    assert diff.max() <= 1
    assert ("parsing" in out) == exp.cfg.has_parsing
    # The predictor over the export: source_parsing None is fine for a one-stage model.
    predictor = load_predictor(exp.base)
    parsing = inputs.get("source_parsing")
    image, predicted = predictor.transfer(inputs["source_image"], parsing,
                                          inputs["source_keypoints"], inputs["target_keypoints"])
    np.testing.assert_array_equal(image, out["image"].numpy())
    if exp.cfg.has_parsing:
        np.testing.assert_array_equal(predicted, out["parsing"].numpy())
    else:
        assert predicted is None
        with pytest.raises(ValueError, match="texture transfer needs the parsing generator; "
                                             "the model in .* has stages=1"):
            predictor.texture(inputs["source_image"], None, inputs["source_keypoints"],
                              inputs["source_image"], None, np.ones((3, 12)))


def test_in_graph_checks_of_the_variant(exp, inputs):
    loaded = tf.saved_model.load(exp.path)
    bad = {k: v.copy() for k, v in inputs.items()}
    bad["target_keypoints"].flat[3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="keypoints must be finite"):
        loaded.signatures["serving_default"](**bad)


def test_tflite_fp32_close_to_keras(exp, inputs, tmp_path):
    path = str(tmp_path / "m.tflite")
    tflite.convert_to_file(exp.path, path, "none")
    out = tflite.TFLiteRunner(path)(**inputs)
    ref_image, ref = _keras_image(exp, inputs)
    assert set(out) == ({"image", "parsing"} if exp.cfg.has_parsing else {"image"})
    assert tflite.psnr_uint8(out["image"], ref_image.astype(np.uint8)) >= 40.0
    if not exp.cfg.has_parsing:
        with pytest.raises(ValueError, match="texture transfer needs the parsing generator"):
            tflite.convert(exp.path, signature="texture_transfer")


def test_served_model_validates_the_variants_inputs(exp, inputs):
    from pinet_tf.serving.models import LoadedModel

    model = LoadedModel(exp.path, 1)
    assert set(model.input_specs["serving_default"]) == set(inputs)
    model.warm_up()
    rules = model.input_specs["serving_default"]["target_keypoints"]
    assert rules.finite and rules.shape == (18, 2)  # the table's rules, found by name
