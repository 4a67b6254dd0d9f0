"""Image-quality metrics for pose transfer: plain functions over batches, streaming Keras metrics.

Plain functions: `ssim`, `l1`, `psnr` (per image, TF, in-graph), `fid` / `fid_from_features` /
`frechet_distance`, `inception_score`, `lpips` (`LPIPS` for a reusable network). Streaming
`keras.metrics.Metric`s: `SSIM`, `L1`, `PSNR`, `LPIPSMetric`, `FID`, `InceptionScore`.
Network-backed metrics find their pretrained files, or download them like keras.applications,
with `pinet_tf.utils.weights` (explicit path, $PINET_TF_WEIGHTS_DIR, the Keras cache, a download
with a pinned hash; $PINET_TF_NO_DOWNLOAD=1 forbids downloads).
"""

from pinet_tf.metrics.fid import FeatureStatistics, fid, fid_from_features, frechet_distance
from pinet_tf.metrics.inception_score import inception_score
from pinet_tf.metrics.lpips import LPIPS, lpips
from pinet_tf.metrics.pixel import l1, psnr
from pinet_tf.metrics.ssim import ssim
from pinet_tf.metrics.streaming import FID, L1, PSNR, SSIM, InceptionScore, LPIPSMetric
from pinet_tf.utils.weights import WeightsNotFoundError

__all__ = ["ssim", "l1", "psnr", "fid", "fid_from_features", "frechet_distance",
           "FeatureStatistics", "inception_score", "lpips", "LPIPS", "SSIM", "L1", "PSNR",
           "LPIPSMetric", "FID", "InceptionScore", "WeightsNotFoundError"]
