import keras
import numpy as np

from pinet_tf.layers import GatedUpsample2D, NearestUpsample2D
from tests.layers.roundtrip import assert_keras_roundtrip


def test_nearest_repeats_each_pixel_2x2():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    y = np.asarray(NearestUpsample2D()(x))
    assert y.shape == (2, 6, 8, 5)
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(2, axis=2))


def test_gated_upsample_is_upsample_then_gated_conv():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 3, 4, 6)).astype("float32")
    layer = GatedUpsample2D(5)
    y = np.asarray(layer(x, training=False))
    assert y.shape == (1, 6, 8, 5)
    direct = np.asarray(layer.gated_conv(x.repeat(2, axis=1).repeat(2, axis=2), training=False))
    np.testing.assert_array_equal(y, direct)
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    assert trainable == 2 * (5 * 6 * 9 + 5) + 2 * 5


def test_upsample_has_no_flex_friendly_traps():
    """Static shapes through the layer (no dynamic dims for TFLite, unlike ops.repeat)."""
    inputs = keras.Input((3, 4, 2))
    out = NearestUpsample2D()(inputs)
    assert tuple(out.shape) == (None, 6, 8, 2)


def test_roundtrip(tmp_path):
    assert_keras_roundtrip(NearestUpsample2D(), (2, 3, 4, 2), tmp_path)
    assert_keras_roundtrip(GatedUpsample2D(3, activation=None), (2, 3, 4, 2), tmp_path)
