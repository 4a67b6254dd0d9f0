"""L1 and PSNR per image vs NumPy, and the streaming Keras metrics vs the plain functions."""

import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.metrics import L1, PSNR, SSIM, l1, psnr, ssim


def _images(seed, shape=(4, 24, 20, 3)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)


def test_l1_and_psnr_match_numpy_and_are_range_invariant():
    x, y = _images(0)
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    ref_l1 = np.abs(xf - yf).mean(axis=(1, 2, 3)) / 255
    ref_psnr = 10 * np.log10(255.0 ** 2 / ((xf - yf) ** 2).mean(axis=(1, 2, 3)))
    np.testing.assert_allclose(l1(x, y, 255).numpy(), ref_l1, rtol=1e-5)
    np.testing.assert_allclose(psnr(x, y, 255).numpy(), ref_psnr, rtol=1e-5)
    # The same pictures in [-1, 1] with data_range 2 give the same numbers.
    to_f = lambda a: a.astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(l1(to_f(x), to_f(y), 2.0).numpy(), ref_l1, rtol=1e-4)
    np.testing.assert_allclose(psnr(to_f(x), to_f(y), 2.0).numpy(), ref_psnr, rtol=1e-4)
    assert psnr(x, x, 255).numpy().tolist() == [100.0] * 4  # identical: capped, finite
    with pytest.raises(ValueError, match="differ in shape"):
        l1(x, y[:, :10], 255)


def test_streaming_metrics_equal_plain_functions_over_batches():
    x, y = _images(1, (7, 24, 20, 3))
    for metric, fn in ((SSIM(255), ssim), (L1(255), l1), (PSNR(255), psnr)):
        for i in range(0, 7, 3):  # uneven batches: 3, 3, 1
            per_image = metric.update_state(x[i:i + 3], y[i:i + 3])  # the batch's values
            np.testing.assert_allclose(np.asarray(per_image),
                                       fn(x[i:i + 3], y[i:i + 3], 255).numpy(), rtol=1e-6)
        expected = float(np.mean(fn(x, y, 255).numpy()))
        assert float(metric.result()) == pytest.approx(expected, rel=1e-5), metric.name
        metric.reset_state()
        assert float(metric.result()) == 0.0


def test_streaming_metric_updates_inside_tf_function():
    x, y = _images(2)
    m = SSIM(2.0)
    step = tf.function(lambda a, b: m.update_state(a, b))
    xf = tf.cast(x, tf.float32) / 127.5 - 1
    yf = tf.cast(y, tf.float32) / 127.5 - 1
    step(xf, yf)
    step(xf, xf)
    expected = (np.sum(ssim(xf, yf, 2.0).numpy()) + 4.0) / 8
    assert float(m.result()) == pytest.approx(expected, rel=1e-5)
    assert SSIM.from_config(m.get_config()).data_range == 2.0


def test_each_pixel_metric_stands_on_its_own_and_round_trips_its_config():
    x, y = _images(3)
    for cls, fn in ((L1, l1), (PSNR, psnr)):
        assert not issubclass(cls, SSIM)
        m = cls(255, name=f"my_{cls.__name__}")
        clone = cls.from_config(m.get_config())
        assert (clone.name, clone.data_range) == (m.name, 255.0)
        clone.update_state(x, y)
        assert float(clone.result()) == pytest.approx(float(np.mean(fn(x, y, 255))), rel=1e-5)
