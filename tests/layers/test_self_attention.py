import numpy as np
import pytest

from pinet_tf.layers import SelfAttention
from tests.layers.roundtrip import assert_keras_roundtrip
from tests.numpy_reference import softmax


def _reference(layer, x):
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c).astype(np.float64)
    q = flat @ np.asarray(layer.query.kernel) + np.asarray(layer.query.bias)
    k = flat @ np.asarray(layer.key.kernel) + np.asarray(layer.key.bias)
    v = flat @ np.asarray(layer.value.kernel) + np.asarray(layer.value.bias)
    a = softmax(q @ k.transpose(0, 2, 1), axis=-1)  # no 1/sqrt(d): the authors' version
    return (float(np.asarray(layer.gamma)[0]) * (a @ v)).reshape(n, h, w, c) + x


def test_gamma_starts_at_zero_so_block_is_identity():
    x = np.random.default_rng(0).normal(size=(2, 4, 3, 16)).astype("float32")
    layer = SelfAttention()
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    assert np.asarray(layer.gamma).tolist() == [0.0]


def test_matches_numpy_reference():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3, 16)).astype("float32")
    layer = SelfAttention()
    layer.build(x.shape)
    layer.gamma.assign([0.7])
    y = np.asarray(layer(x))
    assert y.shape == x.shape
    np.testing.assert_allclose(y, _reference(layer, x), rtol=1e-4, atol=1e-5)


def test_parameter_count_matches_official_block():
    layer = SelfAttention()
    layer.build((None, 8, 8, 256))
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 82_241


def test_mixed_float16_keeps_softmax_in_float32():
    x = (np.random.default_rng(2).normal(size=(1, 4, 4, 16)) * 30).astype("float32")
    layer = SelfAttention(dtype="mixed_float16")
    layer.build(x.shape)
    layer.gamma.assign([1.0])
    y = np.asarray(layer(x)).astype(np.float32)
    assert np.isfinite(y).all()


def test_channels_must_divide():
    with pytest.raises(ValueError, match="divisible by 8"):
        SelfAttention().build((None, 4, 4, 12))


def test_roundtrip(tmp_path):
    layer = SelfAttention()
    model = assert_keras_roundtrip(layer, (2, 4, 3, 16), tmp_path)
    assert model.layers[-1].get_config()["reduction"] == 8
