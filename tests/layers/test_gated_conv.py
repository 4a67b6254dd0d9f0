import keras
import numpy as np
import pytest

from pinet_tf.layers import GatedConv2D
from tests.layers.roundtrip import assert_keras_roundtrip
from tests.numpy_reference import (batch_norm_inference, conv2d, leaky_relu, pad,
                                   sigmoid)


def _randomise_bn(layer, rng):
    bn = layer.bn
    c = layer.filters
    bn.gamma.assign(rng.uniform(0.5, 1.5, c))
    bn.beta.assign(rng.normal(size=c))
    bn.moving_mean.assign(rng.normal(size=c) * 0.1)
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, c))


def _reference(layer, x):
    kernel, bias = (np.asarray(w, np.float64) for w in layer.conv.weights)
    xp = pad(x.astype(np.float64), layer.dilation_rate * (layer.kernel_size - 1) // 2,
             layer.padding)
    both = conv2d(xp, kernel, bias, layer.strides, layer.dilation_rate)
    f, g = both[..., :layer.filters], both[..., layer.filters:]
    if layer.activation == "leaky_relu":
        f = leaky_relu(f, 0.2)
    y = f * sigmoid(g)
    if layer.batch_norm:
        bn = layer.bn
        y = batch_norm_inference(y, *(np.asarray(v, np.float64) for v in (
            bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)), eps=1e-5)
    return y


@pytest.mark.parametrize("kwargs,out_hw", [
    (dict(kernel_size=7, padding="reflect"), (8, 6)),
    (dict(kernel_size=3, strides=2), (4, 3)),
    (dict(kernel_size=3, dilation_rate=2), (8, 6)),
    (dict(kernel_size=3, dilation_rate=4), (8, 6)),
    (dict(kernel_size=3, activation=None), (8, 6)),
    (dict(kernel_size=3, batch_norm=False), (8, 6)),
])
def test_gated_conv_matches_numpy(kwargs, out_hw):
    rng = np.random.default_rng(1)
    layer = GatedConv2D(5, **kwargs)
    x = rng.normal(size=(2, 8, 6, 3)).astype("float32")
    layer.build(x.shape)
    if layer.batch_norm:
        _randomise_bn(layer, rng)
    y = np.asarray(layer(x, training=False))
    assert y.shape == (2,) + out_hw + (5,)
    np.testing.assert_allclose(y, _reference(layer, x), rtol=1e-4, atol=1e-5)


def test_stride2_pads_symmetrically_unlike_keras_same():
    """The authors pad 1 px on every side at stride 2; Keras 'same' would pad bottom/right only."""
    rng = np.random.default_rng(2)
    layer = GatedConv2D(4, 3, strides=2, batch_norm=False)
    x = rng.normal(size=(1, 8, 8, 2)).astype("float32")
    y = np.asarray(layer(x))
    same = keras.layers.Conv2D(8, 3, strides=2, padding="same")
    same.build(x.shape)
    same.set_weights(layer.conv.get_weights())
    both = np.asarray(same(x))
    y_same = leaky_relu(both[..., :4]) * sigmoid(both[..., 4:])
    assert np.abs(y - y_same).max() > 1e-3
    np.testing.assert_allclose(y, _reference(layer, x), rtol=1e-4, atol=1e-5)


def test_parameter_count_equals_two_convs_plus_bn():
    layer = GatedConv2D(64, 7, padding="reflect")
    layer.build((None, 32, 32, 51))
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    assert trainable == 320_128  # the official G_p layer 1 (spec table)


def test_batch_norm_numerics_are_pytorch_like():
    layer = GatedConv2D(3, 3)
    layer.build((None, 4, 4, 2))
    assert layer.bn.epsilon == 1e-5 and layer.bn.momentum == 0.9


def test_training_mode_uses_batch_statistics():
    rng = np.random.default_rng(3)
    layer = GatedConv2D(4, 3)
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32") * 3 + 1
    y = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    assert not np.allclose(np.asarray(layer.bn.moving_mean), 0.0)


def test_mixed_float16_policy():
    layer = GatedConv2D(4, 3, dtype="mixed_float16")
    x = np.random.default_rng(4).normal(size=(1, 6, 6, 2)).astype("float32")
    y = layer(x)
    assert y.dtype == "float16"
    assert layer.conv.kernel.dtype == "float32"


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        GatedConv2D(4, activation="relu")
    with pytest.raises(ValueError, match="odd"):
        GatedConv2D(4, kernel_size=4)


def test_roundtrip(tmp_path):
    layer = GatedConv2D(4, 3, strides=2, dilation_rate=1, padding="zero")
    model = assert_keras_roundtrip(layer, (2, 8, 6, 3), tmp_path)
    assert model.layers[-1].get_config()["strides"] == 2
