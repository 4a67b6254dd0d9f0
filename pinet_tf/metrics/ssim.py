"""Structural similarity (SSIM) in TensorFlow: scikit-image's `structural_similarity`, any window.

Pose-transfer papers report SSIM from scikit-image with different arguments (a Gaussian window of
sigma 1.5 or 1.2 with population covariance, or a 51-pixel uniform window with sample
covariance; data range 1, 255 or the generated image's own max - min), and each choice moves the
number in the second or third decimal. This module computes all of them with one function, in TF
so the training loop's `test_step` can call it in the graph; `pinet_tf.evaluation.protocols`
picks the arguments of each paper.

The recipe (scikit-image's): a window of `win_size` pixels (uniform), or a Gaussian of `sigma`
truncated at 3.5 sigma (win_size = 2 int(3.5 sigma + 0.5) + 1, normalised); local means,
variances and covariance as E[x^2] - E[x]^2, times N/(N-1) with N = win_size^2 when
`sample_covariance`; constants C1 = (0.01 R)^2, C2 = (0.03 R)^2; the SSIM map averaged over the
pixels at least (win_size - 1) / 2 from the border (scikit-image filters with reflection and then
crops them, which equals a VALID convolution) and over channels.

The project's own SSIM (`pinet_tf.metrics.standard`) is the defaults: Gaussian sigma 1.5,
population covariance, on uint8 images with data_range 255.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pinet_tf.metrics.pixel import check_image_pair

SIGMA = 1.5
TRUNCATE = 3.5
K1 = 0.01
K2 = 0.03
#: Window radius used by scipy.ndimage.gaussian_filter for sigma 1.5, truncate 3.5 (11x11 window).
RADIUS = int(TRUNCATE * SIGMA + 0.5)


def gaussian_window_1d(sigma: float = SIGMA, radius: int | None = None) -> np.ndarray:
    """The normalised 1-D Gaussian taps that scipy.ndimage.gaussian_filter uses."""
    radius = int(TRUNCATE * sigma + 0.5) if radius is None else radius
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def window_1d(win_size=None, gaussian: bool = True, sigma: float = SIGMA) -> np.ndarray:
    """The 1-D taps of scikit-image's window: Gaussian(sigma), or uniform of `win_size` (odd,
    default 7 as scikit-image)."""
    if gaussian:
        return gaussian_window_1d(sigma)
    win_size = 7 if win_size is None else int(win_size)
    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"ssim: win_size must be odd and positive, received {win_size}")
    return np.full(win_size, 1.0 / win_size)


def ssim(images1, images2, data_range, dtype=tf.float32, *, sigma: float = SIGMA,
         gaussian: bool = True, win_size=None, sample_covariance: bool = False):
    """Per-image SSIM [B] of two batches [B,H,W,C] (uint8 or float; H, W >= the window).

    `data_range`: the span of the values (255 for uint8, 2 for [-1, 1]), a scalar or one per
    image [B]. Defaults: scikit-image's `gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False`; `gaussian=False, win_size=51, sample_covariance=True` is its
    default uniform window at size 51. SSIM is not shift-invariant (the luminance term uses the
    means themselves): the same pictures score differently in [-1, 1] than in [0, 255]. Images
    are divided by the range before filtering (SSIM is unchanged by a common rescaling of the
    images and the constants), so float32 keeps its precision for uint8 data; pass
    dtype=tf.float64 for a bit-for-bit-closer match to scikit-image.
    """
    x, y = check_image_pair(images1, images2, "ssim")
    taps = window_1d(win_size, gaussian, sigma)
    size = len(taps)
    for dim, name in ((x.shape[1], "height"), (x.shape[2], "width")):
        if dim is not None and dim < size:
            raise ValueError(f"ssim: image {name} {dim} is smaller than the {size}-pixel window")
    channels = x.shape[-1]
    if channels is None:
        raise ValueError("ssim: the channel dimension must be known statically")
    scale = tf.cast(data_range, dtype)
    if scale.shape.rank == 1:
        scale = tf.reshape(scale, [-1, 1, 1, 1])
    x = tf.cast(x, dtype) / scale
    y = tf.cast(y, dtype) / scale
    # Five moments stacked on the channel axis, filtered by one separable depthwise convolution.
    stack = tf.concat([x, y, x * x, y * y, x * y], axis=-1)  # [B,H,W,5C]
    taps = tf.constant(taps, dtype=dtype)
    n = 5 * channels
    kv = tf.tile(tf.reshape(taps, [size, 1, 1, 1]), [1, 1, n, 1])
    kh = tf.tile(tf.reshape(taps, [1, size, 1, 1]), [1, 1, n, 1])
    f = tf.nn.depthwise_conv2d(stack, kv, [1, 1, 1, 1], "VALID")
    f = tf.nn.depthwise_conv2d(f, kh, [1, 1, 1, 1], "VALID")
    ux, uy, uxx, uyy, uxy = tf.split(f, 5, axis=-1)
    norm = size * size / (size * size - 1.0) if sample_covariance else 1.0
    vx = norm * (uxx - ux * ux)
    vy = norm * (uyy - uy * uy)
    vxy = norm * (uxy - ux * uy)
    c1 = K1 ** 2
    c2 = K2 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return tf.reduce_mean(s, axis=[1, 2, 3])
