"""SSIM vs a NumPy reference of scikit-image's Gaussian recipe and vs scikit-image itself."""

import numpy as np
import pytest
from scipy import ndimage

from pinet_tf.metrics import ssim


def reference_ssim(a, b, data_range):
    """The formula in NumPy float64: Gaussian filter (sigma 1.5, truncate 3.5, reflect),
    population (co)variances, C1=(0.01R)^2, C2=(0.03R)^2, 5-pixel border cropped, mean over
    pixels and channels."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    out = []
    for c in range(a.shape[-1]):
        x, y = a[..., c], b[..., c]
        g = lambda z: ndimage.gaussian_filter(z, sigma=1.5, truncate=3.5, mode="reflect")
        ux, uy = g(x), g(y)
        vx, vy, vxy = g(x * x) - ux * ux, g(y * y) - uy * uy, g(x * y) - ux * uy
        c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        out.append(s[5:-5, 5:-5].mean())
    return float(np.mean(out))


def _pairs(rng):
    """Random, structured (gradients, edges, stripes) and degraded-copy pairs, uint8 [B,H,W,3]."""
    h, w = 64, 44
    noise1 = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    noise2 = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    grad = np.stack([yy * 4, xx * 5, (yy + xx) * 2], -1).clip(0, 255).astype(np.uint8)
    stripes = np.stack([((xx // 4) % 2) * 255] * 3, -1).astype(np.uint8)
    block = np.zeros((h, w, 3), np.uint8)
    block[16:48, 10:30] = (200, 120, 40)
    noisy = np.clip(grad.astype(int) + rng.normal(0, 20, grad.shape), 0, 255).astype(np.uint8)
    shifted = np.roll(block, 3, axis=1)
    x = np.stack([noise1, grad, stripes, block, grad, block])
    y = np.stack([noise2, noisy, grad, shifted, grad, 255 - block])
    return x, y


def test_ssim_matches_numpy_reference_and_skimage_uint8():
    from skimage.metrics import structural_similarity

    x, y = _pairs(np.random.default_rng(0))
    got = ssim(x, y, 255).numpy()
    assert got.shape == (len(x),)
    for i in range(len(x)):
        ref = reference_ssim(x[i], y[i], 255.0)
        sk = structural_similarity(x[i], y[i], gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, data_range=255, channel_axis=-1)
        assert abs(ref - sk) < 1e-9  # the written formula is scikit-image's
        assert abs(got[i] - ref) < 1e-4, (i, got[i], ref)
    assert got[4] == pytest.approx(1.0, abs=1e-6)  # identical images
    assert got[0] < 0.1 < got[1]  # unrelated noise scores low, a noisy copy higher


def test_ssim_on_float_images_in_minus_one_one():
    """The training helper's in-graph use: float images in [-1, 1], data_range 2."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (3, 32, 24, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.3, x.shape), -1, 1).astype(np.float32)
    got = ssim(x, y, 2.0).numpy()
    for i in range(3):
        sk = structural_similarity(x[i], y[i], gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, data_range=2.0, channel_axis=-1)
        assert abs(got[i] - reference_ssim(x[i], y[i], 2.0)) < 1e-4
        assert abs(got[i] - sk) < 1e-4


def test_ssim_runs_inside_tf_function_and_is_symmetric():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, 20, 16, 3)).astype(np.float32)
    y = rng.uniform(-1, 1, (2, 20, 16, 3)).astype(np.float32)
    f = tf.function(lambda a, b: ssim(a, b, 2.0))
    np.testing.assert_allclose(f(x, y).numpy(), f(y, x).numpy(), atol=1e-6)
    np.testing.assert_allclose(f(x, y).numpy(), ssim(x, y, 2.0).numpy(), atol=1e-6)


def test_ssim_rejects_bad_shapes():
    with pytest.raises(ValueError, match="smaller than the 11-pixel window"):
        ssim(np.zeros((1, 8, 20, 3)), np.zeros((1, 8, 20, 3)), 1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(np.zeros((1, 16, 20, 3)), np.zeros((1, 16, 21, 3)), 1.0)
    with pytest.raises(ValueError, match=r"\[B,H,W,C\]"):
        ssim(np.zeros((16, 20, 3)), np.zeros((16, 20, 3)), 1.0)


def test_ssim_is_scale_invariant_but_not_shift_invariant():
    """uint8 with range 255 == the same pictures in [0, 1] with range 1; in [-1, 1] (range 2)
    the luminance term changes the number, so paper-comparable SSIM maps to [0, 1] first."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 32, 24, 3)).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 40, x.shape), 0, 255).astype(np.uint8)
    unit = lambda a: a.astype(np.float32) / 255.0
    ref = ssim(x, y, 255).numpy()
    np.testing.assert_allclose(ssim(unit(x), unit(y), 1.0).numpy(), ref, atol=1e-5)
    shifted = ssim(unit(x) * 2 - 1, unit(y) * 2 - 1, 2.0).numpy()
    assert np.all(ref - shifted > 0.1)
