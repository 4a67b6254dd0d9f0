"""Compact representations <-> model tensors, written in TensorFlow so they run in the graph.

The system's edges carry compact data (uint8 images, (y, x) keypoints, uint8 label maps); the
models take float images in [-1, 1], Gaussian pose heatmaps and one-hot parsing. The data
pipeline, the exported serving signatures and the inference tools all convert with these
functions, so a served model sees exactly what it saw in training.
"""

from __future__ import annotations

import tensorflow as tf

from pinet_tf.config import KEYPOINT_NAMES, NUM_CLASSES

#: Index permutation that swaps left/right keypoints (used by horizontal flips).
FLIP_PERMUTATION = tuple(
    KEYPOINT_NAMES.index(n.replace("right_", "@").replace("left_", "right_").replace("@", "left_"))
    for n in KEYPOINT_NAMES)


def image_to_float(image_uint8):
    """uint8 [..., H, W, 3] -> float32 in [-1, 1] (the authors' (x/255 - 0.5) / 0.5)."""
    return tf.cast(image_uint8, tf.float32) / 127.5 - 1.0


def float_to_uint8(image):
    """float in [-1, 1] -> uint8, rounded (clipped first, so out-of-range values saturate)."""
    image = tf.clip_by_value(tf.cast(image, tf.float32), -1.0, 1.0)
    return tf.cast(tf.round((image + 1.0) * 127.5), tf.uint8)


def parsing_to_onehot(parsing, num_classes: int = NUM_CLASSES):
    """uint8/int label map [..., H, W] -> float32 one-hot [..., H, W, num_classes]."""
    return tf.one_hot(tf.cast(parsing, tf.int32), num_classes, dtype=tf.float32)


def keypoints_to_heatmaps(keypoints, height: int, width: int, sigma: float):
    """(y, x) keypoints [..., K, 2] -> Gaussian heatmaps [..., H, W, K] (float32).

    exp(-((y - y_k)^2 + (x - x_k)^2) / (2 sigma^2)) as PATN computes them; a keypoint with a
    negative coordinate (the -1 convention for missing) gives an all-zero channel.
    """
    keypoints = tf.cast(keypoints, tf.float32)
    ky = keypoints[..., 0][..., None, None, :]  # [..., 1, 1, K]
    kx = keypoints[..., 1][..., None, None, :]
    ys = tf.range(height, dtype=tf.float32)[:, None, None]  # [H, 1, 1]
    xs = tf.range(width, dtype=tf.float32)[None, :, None]  # [1, W, 1]
    d2 = tf.square(ys - ky) + tf.square(xs - kx)
    present = tf.cast((ky >= 0.0) & (kx >= 0.0), tf.float32)
    return tf.exp(-d2 / (2.0 * sigma * sigma)) * present

