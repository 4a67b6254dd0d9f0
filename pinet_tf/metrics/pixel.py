"""Per-image L1 and PSNR, in TensorFlow like `ssim` so they can run in a training graph.

Both are expressed in units of `data_range` (L1 as a fraction of the range, PSNR against a peak of
the full range), so uint8 images with data_range=255 and [-1, 1] images with data_range=2 give the
same numbers for the same pictures.
"""

from __future__ import annotations

import tensorflow as tf


def check_image_pair(images1, images2, name):
    """Two [B,H,W,C] batches of one shape as tensors (dtype unchanged), or a ValueError."""
    x = tf.convert_to_tensor(images1)
    y = tf.convert_to_tensor(images2)
    if x.shape.rank != 4 or y.shape.rank != 4:
        raise ValueError(f"{name}: expected two [B,H,W,C] batches, received shapes {x.shape} "
                         f"and {y.shape}")
    if x.shape.is_fully_defined() and y.shape.is_fully_defined() and x.shape != y.shape:
        raise ValueError(f"{name}: the batches differ in shape: {x.shape} vs {y.shape}")
    return x, y


def _float_pair(images1, images2, name):
    x, y = check_image_pair(images1, images2, name)
    return tf.cast(x, tf.float32), tf.cast(y, tf.float32)


def l1(images1, images2, data_range):
    """Per-image mean absolute difference [B], as a fraction of `data_range` (0 = identical)."""
    x, y = _float_pair(images1, images2, "l1")
    return tf.reduce_mean(tf.abs(x - y), axis=[1, 2, 3]) / tf.cast(data_range, tf.float32)


def psnr(images1, images2, data_range, max_db: float = 100.0):
    """Per-image PSNR in dB [B]: 10 log10(R^2 / MSE); identical images give `max_db` (not inf,
    so that averages stay finite)."""
    x, y = _float_pair(images1, images2, "psnr")
    r = tf.cast(data_range, tf.float32)
    mse = tf.reduce_mean(tf.square((x - y) / r), axis=[1, 2, 3])
    db = -10.0 * tf.math.log(tf.maximum(mse, 1e-30)) / tf.math.log(10.0)
    return tf.minimum(db, max_db)
