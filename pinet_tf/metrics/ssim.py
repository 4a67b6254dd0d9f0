"""Structural similarity (SSIM) in TensorFlow, matching scikit-image's Gaussian-weighted variant.

Pose-transfer papers report SSIM from scikit-image's `structural_similarity(gaussian_weights=True,
sigma=1.5, use_sample_covariance=False)`; small differences in window, padding or constants move the
number in the third decimal, so this module reproduces that exact recipe, and does it in TF so the
training loop's `test_step` can call it in the graph.

The recipe: an 11x11 Gaussian window (sigma 1.5, truncated at 3.5 sigma, normalised), local means,
variances and covariance as E[x^2] - E[x]^2 (population, not sample), constants C1 = (0.01 R)^2,
C2 = (0.03 R)^2, the SSIM map averaged over the pixels at least 5 from the border (scikit-image
filters with reflection and then crops those 5 pixels, which equals a VALID convolution) and over
channels.
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


def gaussian_window_1d(sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
    """The normalised 1-D Gaussian taps that scipy.ndimage.gaussian_filter uses."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(images1, images2, data_range, dtype=tf.float32):
    """Per-image SSIM [B] of two batches [B,H,W,C] (uint8 or float; H, W >= 11).

    `data_range` is the span of the values (255 for uint8, 2 for images in [-1, 1]). SSIM is not
    shift-invariant (the luminance term uses the means themselves): the same pictures score
    differently in [-1, 1] than in [0, 255]; for numbers comparable with papers (computed on
    uint8), map [-1, 1] images to [0, 1] first and pass data_range=1. Images are
    divided by it before filtering, so float32 keeps its precision for uint8 data too (SSIM is
    unchanged by a common rescaling of the images and the constants). Pass dtype=tf.float64 for
    a bit-for-bit-closer match to scikit-image.
    """
    x, y = check_image_pair(images1, images2, "ssim")
    size = 2 * RADIUS + 1
    for dim, name in ((x.shape[1], "height"), (x.shape[2], "width")):
        if dim is not None and dim < size:
            raise ValueError(f"ssim: image {name} {dim} is smaller than the {size}-pixel window")
    channels = x.shape[-1]
    if channels is None:
        raise ValueError("ssim: the channel dimension must be known statically")
    scale = tf.cast(data_range, dtype)
    x = tf.cast(x, dtype) / scale
    y = tf.cast(y, dtype) / scale
    # Five moments stacked on the channel axis, filtered by one separable depthwise convolution.
    stack = tf.concat([x, y, x * x, y * y, x * y], axis=-1)  # [B,H,W,5C]
    taps = tf.constant(gaussian_window_1d(), dtype=dtype)
    n = 5 * channels
    kv = tf.tile(tf.reshape(taps, [size, 1, 1, 1]), [1, 1, n, 1])
    kh = tf.tile(tf.reshape(taps, [1, size, 1, 1]), [1, 1, n, 1])
    f = tf.nn.depthwise_conv2d(stack, kv, [1, 1, 1, 1], "VALID")
    f = tf.nn.depthwise_conv2d(f, kh, [1, 1, 1, 1], "VALID")
    ux, uy, uxx, uyy, uxy = tf.split(f, 5, axis=-1)
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = K1 ** 2
    c2 = K2 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return tf.reduce_mean(s, axis=[1, 2, 3])
