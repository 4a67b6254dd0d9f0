"""Image-quality metrics for pose transfer: plain functions over batches and streaming Keras metrics."""

from pinet_tf.metrics.ssim import ssim

__all__ = ["ssim"]
