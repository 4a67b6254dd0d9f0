import keras
import numpy as np
import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.models import build_appearance_discriminator, build_pose_discriminator
from tests.numpy_reference import conv2d, pad


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_official_parameter_counts():
    cfg = ModelConfig.official()
    assert _trainable(build_pose_discriminator(cfg)) == 3_975_424
    assert _trainable(build_appearance_discriminator(cfg)) == 3_928_384


SMALL = ModelConfig(name="small-d", image_height=16, image_width=12, ngf=8, ndf=4,
                    discriminator_blocks=1)


def _instance_norm(x, eps=1e-5):
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _sn_conv(model, name, x, stride, mode):
    layer = model.get_layer(name)
    sigma, _ = layer.sigma_and_u()
    kernel = np.asarray(layer.kernel, np.float64) / float(sigma)
    p = (layer.kernel_size - 1) // 2
    return conv2d(pad(x, p, mode), kernel, np.asarray(layer.bias, np.float64), stride)


def _reference(model, x, prefix):
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    x = relu(_instance_norm(_sn_conv(model, f"{prefix}_conv1", x, 1, "reflect")))
    x = relu(_instance_norm(_sn_conv(model, f"{prefix}_conv2", x, 2, "zero")))
    x = relu(_instance_norm(_sn_conv(model, f"{prefix}_conv3", x, 2, "zero")))
    y = relu(_instance_norm(_sn_conv(model, f"{prefix}_block1_conv1", x, 1, "reflect")))
    y = _instance_norm(_sn_conv(model, f"{prefix}_block1_conv2", y, 1, "reflect"))
    return x + y


def test_pose_discriminator_matches_numpy_with_heatmaps_first():
    rng = np.random.default_rng(0)
    d = build_pose_discriminator(SMALL)
    heatmaps = rng.uniform(0, 1, (2, 16, 12, 18)).astype("float32")
    image = rng.uniform(-1, 1, (2, 16, 12, 3)).astype("float32")
    score = np.asarray(d({"target_heatmaps": heatmaps, "image": image}, training=False)["score"])
    assert score.shape == (2, 4, 3, 16)
    x = np.concatenate([heatmaps, image], -1).astype(np.float64)
    np.testing.assert_allclose(score, _reference(d, x, "dp"), rtol=1e-3, atol=1e-4)


def test_appearance_discriminator_order_is_image_then_source():
    rng = np.random.default_rng(1)
    d = build_appearance_discriminator(SMALL)
    image = rng.uniform(-1, 1, (1, 16, 12, 3)).astype("float32")
    source = rng.uniform(-1, 1, (1, 16, 12, 3)).astype("float32")
    score = np.asarray(d({"image": image, "source_image": source}, training=False)["score"])
    x = np.concatenate([image, source], -1).astype(np.float64)
    np.testing.assert_allclose(score, _reference(d, x, "da"), rtol=1e-3, atol=1e-4)
    swapped = np.asarray(d({"image": source, "source_image": image}, training=False)["score"])
    assert np.abs(score - swapped).max() > 1e-3


def test_dropout_only_in_training():
    keras.utils.set_random_seed(0)  # the draw must not depend on the tests that ran before
    d = build_appearance_discriminator(SMALL)
    rng = np.random.default_rng(0)
    x = {"image": rng.uniform(-1, 1, (1, 16, 12, 3)).astype("float32"),
         "source_image": rng.uniform(-1, 1, (1, 16, 12, 3)).astype("float32")}
    a = np.asarray(d(x, training=False)["score"])
    assert np.abs(a).max() > 0  # a non-trivial output, so the comparison below can fail
    np.testing.assert_array_equal(a, np.asarray(d(x, training=False)["score"]))
    assert np.abs(np.asarray(d(x, training=True)["score"]) - a).max() > 0


def test_without_spectral_norm_uses_plain_convs():
    cfg = ModelConfig(name="nosn", image_height=16, image_width=12, ngf=8, ndf=4,
                      discriminator_blocks=1, spectral_norm=False)
    d = build_pose_discriminator(cfg)
    assert isinstance(d.get_layer("dp_conv1"), keras.layers.Conv2D)
    assert d({"target_heatmaps": np.zeros((1, 16, 12, 18), "float32"),
              "image": np.zeros((1, 16, 12, 3), "float32")})["score"].shape == (1, 4, 3, 16)


def test_save_load(tmp_path):
    d = build_pose_discriminator(SMALL)
    x = {"target_heatmaps": np.random.default_rng(2).uniform(0, 1, (1, 16, 12, 18)).astype("f4"),
         "image": np.random.default_rng(3).uniform(-1, 1, (1, 16, 12, 3)).astype("f4")}
    expected = np.asarray(d(x, training=False)["score"])
    d.save(tmp_path / "d.keras")
    got = keras.saving.load_model(tmp_path / "d.keras")(x, training=False)["score"]
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_wrong_channels_are_refused():
    d = build_pose_discriminator(SMALL)
    with pytest.raises(ValueError, match="expected shape"):
        d({"target_heatmaps": np.zeros((1, 16, 12, 17), "float32"),
           "image": np.zeros((1, 16, 12, 3), "float32")})
