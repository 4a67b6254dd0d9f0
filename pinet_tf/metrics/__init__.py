"""Image-quality metrics for pose transfer: plain functions over batches, streaming Keras metrics.

Plain functions: `ssim`, `l1`, `psnr` (per image, TF, in-graph), `fid` / `fid_from_features` /
`frechet_distance`, `inception_score`, `lpips` (`LPIPS` for a reusable network). Streaming
`keras.metrics.Metric`s: `SSIM`, `L1`, `PSNR`, `LPIPSMetric`, `FID`, `InceptionScore`.
Network-backed metrics find their pretrained files, or download them like keras.applications,
with `pinet_tf.utils.weights` (explicit path, $PINET_TF_WEIGHTS_DIR, the Keras cache, a download
with a pinned hash; $PINET_TF_NO_DOWNLOAD=1 forbids downloads).

Names are imported lazily (`pinet_tf.utils.lazy`), so the NumPy-only modules (`person`,
`appearance`) load without TensorFlow and `pinet-tf VERB --help` stays light.
"""

from pinet_tf.utils.lazy import lazy_exports

_EXPORTS = {
    "FeatureStatistics": "pinet_tf.metrics.fid", "fid": "pinet_tf.metrics.fid",
    "fid_from_features": "pinet_tf.metrics.fid", "frechet_distance": "pinet_tf.metrics.fid",
    "inception_score": "pinet_tf.metrics.inception_score",
    "LPIPS": "pinet_tf.metrics.lpips", "lpips": "pinet_tf.metrics.lpips",
    "l1": "pinet_tf.metrics.pixel", "psnr": "pinet_tf.metrics.pixel",
    "ssim": "pinet_tf.metrics.ssim",
    "FID": "pinet_tf.metrics.streaming", "L1": "pinet_tf.metrics.streaming",
    "PSNR": "pinet_tf.metrics.streaming", "SSIM": "pinet_tf.metrics.streaming",
    "InceptionScore": "pinet_tf.metrics.streaming", "LPIPSMetric": "pinet_tf.metrics.streaming",
    "WeightsNotFoundError": "pinet_tf.utils.weights",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
