"""Streaming `keras.metrics.Metric` versions of every metric (update per batch, result at the end).

Per-image metrics (SSIM, L1, PSNR, LPIPS) keep a sum and a count. FID keeps, for each image set,
the feature count, sum and sum of outer products (float64); IS keeps per-split sums. Nothing
holds images or per-image features, so a whole test set streams through in constant memory, and
the updates are TF ops, so they also run inside a `tf.function` (training's `test_step`).
"""

from __future__ import annotations

import hashlib

import keras
import numpy as np
import tensorflow as tf

from pinet_tf.metrics.fid import frechet_distance, mean_cov_from_sums, sqrt_psd
from pinet_tf.metrics.inception_score import scores_from_sums
from pinet_tf.metrics.pixel import l1, psnr
from pinet_tf.metrics.ssim import ssim


class _PerImageMean(keras.metrics.Metric):
    """Mean over images of a per-image function fn(y_true, y_pred) -> [B].

    `update_state` returns the batch's per-image values (callers ranking images need them)."""

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), initializer="zeros", dtype="float64", name="total")
        self.count = self.add_variable((), initializer="zeros", dtype="float64", name="count")

    def per_image(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.per_image(y_true, y_pred)
        v = tf.cast(values, tf.float64)
        if sample_weight is not None:
            w = tf.cast(tf.reshape(sample_weight, [-1]), tf.float64)
            self.total.assign_add(tf.reduce_sum(v * w))
            self.count.assign_add(tf.reduce_sum(w))
        else:
            self.total.assign_add(tf.reduce_sum(v))
            self.count.assign_add(tf.cast(tf.size(v), tf.float64))
        return values

    def result(self):
        return tf.cast(self.total / tf.maximum(self.count, 1e-12), tf.float32)


class _RangedMean(_PerImageMean):
    """A per-image mean of a function of two image batches spanning `data_range` (255 for
    uint8, 2 for [-1, 1])."""

    def __init__(self, data_range=2.0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.data_range = float(data_range)

    def get_config(self):
        return {**super().get_config(), "data_range": self.data_range}


@keras.saving.register_keras_serializable(package="pinet_tf")
class SSIM(_RangedMean):
    """Mean SSIM (scikit-image's Gaussian recipe) over images; see `pinet_tf.metrics.ssim`."""

    def __init__(self, data_range=2.0, name="ssim", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        return ssim(y_true, y_pred, self.data_range)


@keras.saving.register_keras_serializable(package="pinet_tf")
class L1(_RangedMean):
    """Mean absolute error as a fraction of `data_range`."""

    def __init__(self, data_range=2.0, name="l1", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        return l1(y_true, y_pred, self.data_range)


@keras.saving.register_keras_serializable(package="pinet_tf")
class PSNR(_RangedMean):
    """Mean over images of the per-image PSNR (dB)."""

    def __init__(self, data_range=2.0, name="psnr", dtype=None):
        super().__init__(data_range=data_range, name=name, dtype=dtype)

    def per_image(self, y_true, y_pred):
        return psnr(y_true, y_pred, self.data_range)


class LPIPSMetric(_PerImageMean):
    """Mean LPIPS; `model` is a `pinet_tf.metrics.lpips.LPIPS` (built from its files at the first
    update when None)."""

    def __init__(self, model=None, net="alex", name="lpips", dtype=None, allow_download=None):
        super().__init__(name=name, dtype=dtype)
        self._model, self.net, self.allow_download = model, net, allow_download

    @property
    def lpips_model(self):
        if self._model is None:
            from pinet_tf.metrics.lpips import LPIPS
            self._model = LPIPS(self.net, allow_download=self.allow_download)
        return self._model

    def per_image(self, y_true, y_pred):
        return self.lpips_model(y_true, y_pred)


class _LazyInception:
    """The Inception-v3 of FID/IS, built from its weights file at the first image batch (a
    metric fed features or probabilities directly never builds it)."""

    def __init__(self, network, weights, include_top, allow_download):
        self._net, self._args = network, (weights, include_top, allow_download)

    @property
    def network(self):
        if self._net is None:
            from pinet_tf.metrics.inception import InceptionNetwork
            weights, include_top, allow_download = self._args
            self._net = InceptionNetwork(weights, include_top=include_top,
                                         allow_download=allow_download)
        return self._net


class FID(keras.metrics.Metric):
    """Streaming FID between real images (y_true) and generated ones (y_pred).

    `network`: callable images -> {"pool": [B,D]} (default Inception-v3 from `weights`, built at
    the first `update_state`). `update_features(real, fake)` takes features directly.
    `real_statistics=(mu, sigma)` fixes the real side (then y_true may be None). FID metrics that
    saw the same real images share one decomposition of the real covariance (the costly part:
    seconds for 2048 dimensions), so several methods can each be scored against one real set.
    """

    _real_root = (None, None)  # (digest of the real sums, sqrt_psd of their covariance)

    def __init__(self, network=None, weights=None, dim=2048, real_statistics=None, name="fid",
                 dtype=None, allow_download=None):
        super().__init__(name=name, dtype=dtype)
        self._inception = _LazyInception(network, weights, False, allow_download)
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

    @property
    def network(self):
        return self._inception.network

    def update_features(self, real=None, fake=None):
        """Add feature vectors [B,D] of real and/or generated images."""
        for side, f in (("real", real), ("fake", fake)):
            if f is None:
                continue
            f = tf.cast(f, tf.float64)
            n, s, o = self._vars[side]
            n.assign_add(tf.cast(tf.shape(f)[0], tf.float64))
            s.assign_add(tf.reduce_sum(f, 0))
            o.assign_add(tf.matmul(f, f, transpose_a=True))

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.update_features(None if y_true is None else self.network(y_true)["pool"],
                             self.network(y_pred)["pool"])

    def _numpy_result(self, rn, rs, ro, fn, fs, fo):
        if self.real_statistics is not None:
            mu_r, sig_r = (np.asarray(a, np.float64) for a in self.real_statistics)
        else:
            mu_r, sig_r = mean_cov_from_sums(rn, rs, ro)
        digest = hashlib.sha1(np.ascontiguousarray(mu_r).tobytes()
                              + np.ascontiguousarray(sig_r).tobytes()).digest()
        if FID._real_root[0] != digest:
            FID._real_root = (digest, sqrt_psd(sig_r))
        return np.float64(frechet_distance(mu_r, sig_r, *mean_cov_from_sums(fn, fs, fo),
                                           sqrt_sigma1=FID._real_root[1]))

    def result(self):
        args = [v for side in ("real", "fake") for v in self._vars[side]]
        out = tf.numpy_function(self._numpy_result, args, tf.float64, stateful=False)
        return tf.cast(tf.reshape(out, []), tf.float32)


class InceptionScore(keras.metrics.Metric):
    """Streaming Inception Score (mean over `splits` round-robin splits; `result_std()` too).

    `network`: callable images -> {"probs": [B,K]} (default Inception-v3 with its classifier,
    built at the first `update_state`). `update_probs(probs)` takes class probabilities directly.
    """

    def __init__(self, network=None, weights=None, splits=10, num_classes=1000,
                 name="inception_score", dtype=None, allow_download=None):
        super().__init__(name=name, dtype=dtype)
        self._inception = _LazyInception(network, weights, True, allow_download)
        self.splits = int(splits)
        self.seen = self.add_variable((), initializer="zeros", dtype="int64", name="seen")
        self.counts = self.add_variable((self.splits,), initializer="zeros", dtype="float64",
                                        name="counts")
        self.psum = self.add_variable((self.splits, num_classes), initializer="zeros",
                                      dtype="float64", name="psum")
        self.plogp = self.add_variable((self.splits,), initializer="zeros", dtype="float64",
                                       name="plogp")

    @property
    def network(self):
        return self._inception.network

    def update_state(self, images, y_pred=None, sample_weight=None):
        self.update_probs(self.network(images)["probs"])

    def update_probs(self, probs):
        """Add class probabilities [B,K] (rows summing to 1)."""
        p = tf.cast(probs, tf.float64)
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
