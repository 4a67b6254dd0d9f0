import keras
import numpy as np
import pytest

from pinet_tf.layers import SpectralConv2D
from tests.layers.roundtrip import assert_keras_roundtrip
from tests.numpy_reference import conv2d, pad


def _power_iteration(kernel, u):
    """The authors' formulation: Wm = weight [Cout, Cin*k*k]; v = n(Wm^T u); u = n(Wm v)."""
    wm = kernel.reshape(-1, kernel.shape[-1]).T.astype(np.float64)
    n = lambda a: a / (np.linalg.norm(a) + 1e-12)  # noqa: E731
    v = n(wm.T @ u)
    u_new = n(wm @ v)
    return float(u_new @ (wm @ v)), u_new


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def test_output_uses_kernel_over_sigma():
    rng = np.random.default_rng(0)
    layer = SpectralConv2D(6, 3, strides=2)
    x = rng.normal(size=(2, 8, 6, 4)).astype("float32")
    layer.build(x.shape)
    kernel, bias, u = (np.asarray(w, np.float64) for w in (layer.kernel, layer.bias, layer.u))
    sigma, _ = _power_iteration(kernel, u)
    y = np.asarray(layer(x, training=False))
    expected = conv2d(pad(x.astype(np.float64), 1), kernel / sigma, bias, stride=2)
    assert y.shape == (2, 4, 3, 6)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_u_advances_in_training_only_by_default():
    rng = np.random.default_rng(1)
    layer = SpectralConv2D(4, 3)
    x = rng.normal(size=(1, 5, 5, 2)).astype("float32")
    layer.build(x.shape)
    u0 = np.asarray(layer.u).copy()
    y1 = np.asarray(layer(x, training=False))
    y2 = np.asarray(layer(x, training=False))
    np.testing.assert_array_equal(np.asarray(layer.u), u0)
    np.testing.assert_array_equal(y1, y2)
    layer(x, training=True)
    _, u_expected = _power_iteration(np.asarray(layer.kernel, np.float64), u0)
    np.testing.assert_allclose(np.asarray(layer.u), u_expected, rtol=1e-5, atol=1e-6)


def test_authors_mode_updates_u_in_eval_too():
    layer = SpectralConv2D(4, 3, update_in_eval=True)
    x = np.ones((1, 5, 5, 2), "float32")
    layer.build(x.shape)
    u0 = np.asarray(layer.u).copy()
    layer(x, training=False)
    assert not np.allclose(np.asarray(layer.u), u0)


def test_sigma_converges_to_largest_singular_value():
    # Power iteration converges at the rate (s2/s1)^k: seeded, so the draw (and the number of
    # iterations it needs) does not depend on the tests that ran before.
    keras.utils.set_random_seed(0)
    layer = SpectralConv2D(8, 3)
    layer.build((None, 6, 6, 5))
    for _ in range(200):
        layer(np.zeros((1, 6, 6, 5), "float32"), training=True)
    sigma, _ = layer.sigma_and_u()
    top = np.linalg.svd(np.asarray(layer.kernel).reshape(-1, 8), compute_uv=False)[0]
    assert float(sigma) == pytest.approx(top, rel=1e-4)


def test_reflect_padding_and_roundtrip(tmp_path):
    layer = SpectralConv2D(3, 7, padding="reflect")
    model = assert_keras_roundtrip(layer, (1, 8, 8, 2), tmp_path)
    assert model.output.shape[1:] == (8, 8, 3)


def test_power_iteration_runs_in_the_variables_dtype():
    """float64 layers (the training parity check) keep float64; mixed precision keeps float32."""
    wide = SpectralConv2D(4, 3, dtype="float64")
    wide.build((None, 5, 5, 2))
    sigma, u = wide.sigma_and_u()
    assert _dtype(sigma) == "float64" and _dtype(u) == "float64"
    want, _ = _power_iteration(np.asarray(wide.kernel), np.asarray(wide.u))
    assert float(sigma) == pytest.approx(want, rel=1e-12)
    mixed = SpectralConv2D(4, 3, dtype="mixed_float16")
    mixed.build((None, 5, 5, 2))
    assert _dtype(mixed.sigma_and_u()[0]) == "float32"
    assert _dtype(mixed(np.ones((1, 5, 5, 2), "float16"), training=True)) == "float16"


def _vectors(wm, u):
    """One power iteration in our layout (wm [k*k*Cin, Cout]): (v, u')."""
    n = lambda a: a / (np.linalg.norm(a) + 1e-12)  # noqa: E731
    v = n(wm @ u)
    return v, n(wm.T @ v)


def test_sigma_gradient_from_next_call_keeps_the_value_and_takes_the_next_u_v():
    """The authors' real pass: sigma's value from its own u, v, d sigma / dW = v2 u2^T from the
    next power iteration's; outside the block (and after it) the exact v1 u1^T."""
    import tensorflow as tf

    from pinet_tf.layers.spectral_norm import sigma_gradient_from_next_call

    keras.utils.set_random_seed(3)
    layer = SpectralConv2D(5, 3, dtype="float64")
    model = keras.Sequential([keras.Input((6, 6, 4), dtype="float64"), layer])
    wm = np.asarray(layer.kernel).reshape(-1, 5)
    u0 = np.asarray(layer.u)
    v1, u1 = _vectors(wm, u0)
    v2, u2 = _vectors(wm, u1)

    def sigma_and_gradient():
        with tf.GradientTape() as tape:
            sigma, _ = layer.sigma_and_u(layer.sigma_gradient_from_next)
        return float(sigma), tape.gradient(sigma, layer.kernel).numpy().reshape(wm.shape)

    with sigma_gradient_from_next_call(model):
        sigma, grad = sigma_and_gradient()
    assert sigma == pytest.approx(float(u1 @ (wm.T @ v1)), rel=1e-12)
    np.testing.assert_allclose(grad, np.outer(v2, u2), rtol=1e-10, atol=1e-14)
    assert np.abs(np.outer(v2, u2) - np.outer(v1, u1)).max() > 1e-3  # the two differ here
    assert not layer.sigma_gradient_from_next
    sigma, grad = sigma_and_gradient()
    assert sigma == pytest.approx(float(u1 @ (wm.T @ v1)), rel=1e-12)
    np.testing.assert_allclose(grad, np.outer(v1, u1), rtol=1e-10, atol=1e-14)
