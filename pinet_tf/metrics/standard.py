"""The project's one definition of L1, SSIM and PSNR ("pinet" protocol), used everywhere.

The training run's held-out metrics (`PINetTrainer.test_step` -> RUN_DIR/metrics.json),
`pinet-tf evaluate`, `pinet-tf score --protocol pinet` and the quality benchmark all call
`scores` (or the streaming metrics built from `DATA_RANGE`), so one name means one number:

- images: uint8 RGB as saved to PNG; a model's float output in [-1, 1] is first rounded to uint8
  exactly as the PNG writer does (`pinet_tf.models.encoding.float_to_uint8`);
- L1: mean |generated - target| over pixels and channels, divided by 255 (0 = identical, 1 = the
  whole range);
- SSIM: scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=-1)`: an 11x11 Gaussian window, the
  5-pixel border dropped, channels averaged (`pinet_tf.metrics.ssim`);
- PSNR: 10 log10(255^2 / MSE) per image, capped at 100 dB (identical images), averaged.
"""

from __future__ import annotations

import tensorflow as tf

from pinet_tf.metrics.pixel import l1, psnr
from pinet_tf.metrics.ssim import SIGMA, ssim

#: Images are uint8; every measure is taken against this span.
DATA_RANGE = 255.0

DEFINITION = {
    "images": "uint8 RGB as saved to PNG (a float output in [-1, 1] is rounded to uint8 first)",
    "l1": "mean |generated - target| / 255 over pixels and channels, averaged over images",
    "ssim": f"scikit-image structural_similarity: Gaussian window sigma {SIGMA} (11x11), "
            "population covariance, data_range 255, 5-pixel border dropped, channels averaged; "
            "averaged over images",
    "psnr": "10 log10(255^2 / MSE) per image (capped at 100 dB), averaged over images",
}


def to_uint8(images):
    """uint8 images unchanged; float images in [-1, 1] rounded to uint8 as the PNG writer does."""
    from pinet_tf.models.encoding import float_to_uint8

    x = tf.convert_to_tensor(images)
    return x if x.dtype == tf.uint8 else float_to_uint8(x)


def scores(target, generated) -> dict:
    """Per-image {"l1", "ssim", "psnr"} [B] of two batches (uint8, or float in [-1, 1])."""
    t, g = to_uint8(target), to_uint8(generated)
    return {"l1": l1(t, g, DATA_RANGE), "ssim": ssim(t, g, DATA_RANGE),
            "psnr": psnr(t, g, DATA_RANGE)}
