"""Streaming `keras.metrics.Metric` versions of every metric (update per batch, result at the end).

Per-image metrics (SSIM, L1, PSNR, LPIPS) keep a sum and a count. FID keeps, for each image set,
the feature count, sum and sum of outer products (float64); IS keeps per-split sums. Nothing
holds images or per-image features, so a whole test set streams through in constant memory, and
the updates are TF ops, so they also run inside a `tf.function` (training's `test_step`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pinet_tf.metrics.fid import frechet_distance, mean_cov_from_sums
from pinet_tf.metrics.inception_score import scores_from_sums
from pinet_tf.metrics.pixel import l1, psnr
from pinet_tf.metrics.ssim import ssim


class _PerImageMean(keras.metrics.Metric):
    """Mean over images of a per-image function fn(y_true, y_pred) -> [B]."""

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), initializer="zeros", dtype="float64", name="total")
        self.count = self.add_variable((), initializer="zeros", dtype="float64", name="count")

    def per_image(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        v = tf.cast(self.per_image(y_true, y_pred), tf.float64)
        if sample_weight is not None:
            w = tf.cast(tf.reshape(sample_weight, [-1]), tf.float64)
            self.total.assign_add(tf.reduce_sum(v * w))
            self.count.assign_add(tf.reduce_sum(w))
        else:
            self.total.assign_add(tf.reduce_sum(v))
            self.count.assign_add(tf.cast(tf.size(v), tf.float64))

    def result(self):
        return tf.cast(self.total / tf.maximum(self.count, 1e-12), tf.float32)


@keras.saving.register_keras_serializable(package="pinet_tf")
class SSIM(_PerImageMean):
    """Mean SSIM (scikit-image's Gaussian recipe) over images; see `pinet_tf.metrics.ssim`."""

    def __init__(self, data_range=2.0, name="ssim", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.data_range = float(data_range)

    def per_image(self, y_true, y_pred):
        return ssim(y_true, y_pred, self.data_range)

    def get_config(self):
        return {"data_range": self.data_range, "name": self.name}


@keras.saving.register_keras_serializable(package="pinet_tf")
class L1(SSIM):
    """Mean absolute error as a fraction of `data_range`."""

    def __init__(self, data_range=2.0, name="l1", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        return l1(y_true, y_pred, self.data_range)


@keras.saving.register_keras_serializable(package="pinet_tf")
class PSNR(SSIM):
    """Mean over images of the per-image PSNR (dB)."""

    def __init__(self, data_range=2.0, name="psnr", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        return psnr(y_true, y_pred, self.data_range)


class LPIPSMetric(_PerImageMean):
    """Mean LPIPS; `model` is a `pinet_tf.metrics.lpips.LPIPS` (built from files if None)."""

    def __init__(self, model=None, net="alex", name="lpips", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if model is None:
            from pinet_tf.metrics.lpips import LPIPS
            model = LPIPS(net)
        self.lpips_model = model

    def per_image(self, y_true, y_pred):
        return self.lpips_model(y_true, y_pred)


def _default_inception(weights, include_top):
    from pinet_tf.metrics.inception import InceptionNetwork
    return InceptionNetwork(weights, include_top=include_top)


class FID(keras.metrics.Metric):
    """Streaming FID between real images (y_true) and generated ones (y_pred).

    `network`: callable images -> {"pool": [B,D]} (default Inception-v3 from `weights`).
    `real_statistics=(mu, sigma)` fixes the real side (then y_true may be None).
    """

    def __init__(self, network=None, weights=None, dim=2048, real_statistics=None, name="fid",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.network = network if network is not None else _default_inception(weights, False)
        self.dim = int(dim)
        self.real_statistics = real_statistics
        self._vars = {}
        for side in ("real", "fake"):
            self._vars[side] = (
                self.add_variable((), initializer="zeros", dtype="float64", name=f"{side}_n"),
                self.add_variable((self.dim,), initializer="zeros", dtype="float64",
                                  name=f"{side}_sum"),
                self.add_variable((self.dim, self.dim), initializer="zeros", dtype="float64",
                                  name=f"{side}_outer"))

    def _add(self, side, images):
        f = tf.cast(self.network(images)["pool"], tf.float64)
        n, s, o = self._vars[side]
        n.assign_add(tf.cast(tf.shape(f)[0], tf.float64))
        s.assign_add(tf.reduce_sum(f, 0))
        o.assign_add(tf.matmul(f, f, transpose_a=True))

    def update_state(self, y_true, y_pred, sample_weight=None):
        if y_true is not None:
            self._add("real", y_true)
        self._add("fake", y_pred)

    def _numpy_result(self, rn, rs, ro, fn, fs, fo):
        if self.real_statistics is not None:
            mu_r, sig_r = (np.asarray(a, np.float64) for a in self.real_statistics)
        else:
            mu_r, sig_r = mean_cov_from_sums(rn, rs, ro)
        return np.float64(frechet_distance(mu_r, sig_r, *mean_cov_from_sums(fn, fs, fo)))

    def result(self):
        args = [v for side in ("real", "fake") for v in self._vars[side]]
        out = tf.numpy_function(self._numpy_result, args, tf.float64, stateful=False)
        return tf.cast(tf.reshape(out, []), tf.float32)


class InceptionScore(keras.metrics.Metric):
    """Streaming Inception Score (mean over `splits` round-robin splits; `result_std()` too).

    `network`: callable images -> {"probs": [B,K]} (default Inception-v3 with its classifier).
    """

    def __init__(self, network=None, weights=None, splits=10, num_classes=1000,
                 name="inception_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.network = network if network is not None else _default_inception(weights, True)
        self.splits = int(splits)
        self.seen = self.add_variable((), initializer="zeros", dtype="int64", name="seen")
        self.counts = self.add_variable((self.splits,), initializer="zeros", dtype="float64",
                                        name="counts")
        self.psum = self.add_variable((self.splits, num_classes), initializer="zeros",
                                      dtype="float64", name="psum")
        self.plogp = self.add_variable((self.splits,), initializer="zeros", dtype="float64",
                                       name="plogp")

    def update_state(self, images, y_pred=None, sample_weight=None):
        p = tf.cast(self.network(images)["probs"], tf.float64)
        b = tf.shape(p, out_type=tf.int64)[0]
        idx = tf.cast((self.seen + tf.range(b)) % self.splits, tf.int32)
        self.seen.assign_add(b)
        self.counts.assign_add(tf.math.unsorted_segment_sum(tf.ones([b], tf.float64), idx,
                                                            self.splits))
        self.psum.assign_add(tf.math.unsorted_segment_sum(p, idx, self.splits))
        plogp = tf.reduce_sum(tf.math.xlogy(p, p), axis=1)
        self.plogp.assign_add(tf.math.unsorted_segment_sum(plogp, idx, self.splits))

    def _both(self):
        def f(c, s, l):
            return np.asarray(scores_from_sums(c, s, l), np.float64)
        return tf.numpy_function(f, [self.counts, self.psum, self.plogp], tf.float64,
                                 stateful=False)

    def result(self):
        return tf.cast(tf.reshape(self._both(), [2])[0], tf.float32)

    def result_std(self):
        return tf.cast(tf.reshape(self._both(), [2])[1], tf.float32)
