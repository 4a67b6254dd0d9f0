"""Frechet Inception Distance: streaming feature statistics and a stable Frechet distance.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)). The statistics are running sums of
features and of their outer products (float64), so a data set streams through in batches without
keeping its images or features. tr((S1 S2)^(1/2)) is computed from the eigenvalues of the
symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same eigenvalues as S1 S2), which is real and stable
where scipy's general `sqrtm` may return complex noise; a small diagonal offset is added if the
decomposition fails (the usual fallback for singular covariances, e.g. fewer samples than dims).
"""

from __future__ import annotations

import numpy as np


class FeatureStatistics:
    """Running count, sum and sum of outer products of feature vectors (float64)."""

    def __init__(self, dim: int):
        self.dim = int(dim)
        self.count = 0
        self.sum = np.zeros(self.dim, np.float64)
        self.outer = np.zeros((self.dim, self.dim), np.float64)

    def update(self, features) -> None:
        f = np.asarray(features, np.float64)
        if f.ndim != 2 or f.shape[1] != self.dim:
            raise ValueError(f"FeatureStatistics: expected features [N,{self.dim}], "
                             f"received shape {f.shape}")
        self.count += f.shape[0]
        self.sum += f.sum(axis=0)
        self.outer += f.T @ f

    def mean_cov(self):
        """(mean [D], covariance [D,D]) with the unbiased (N-1) normalisation of np.cov."""
        return mean_cov_from_sums(self.count, self.sum, self.outer)


def mean_cov_from_sums(count, total, outer):
    n = int(count)
    if n < 2:
        raise ValueError(f"FID needs at least 2 images per set, received {n}")
    mu = np.asarray(total, np.float64) / n
    cov = (np.asarray(outer, np.float64) - n * np.outer(mu, mu)) / (n - 1)
    return mu, (cov + cov.T) / 2


def sqrt_psd(m) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (eigh; negative round-off clipped).

    Pass it to `frechet_distance(..., sqrt_sigma1=...)` when one reference set is compared with
    several others: the decomposition of a 2048x2048 matrix costs seconds on a CPU.
    """
    m = np.asarray(m, np.float64)
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1, sigma2, eps: float = 1e-6, sqrt_sigma1=None) -> float:
    """tr((S1 S2)^(1/2)) for symmetric PSD S1, S2."""
    s1 = np.asarray(sigma1, np.float64)
    s2 = np.asarray(sigma2, np.float64)
    for offset in (0.0, eps):
        try:
            if offset == 0.0 and sqrt_sigma1 is not None:
                r, b = np.asarray(sqrt_sigma1, np.float64), s2
            else:
                r = sqrt_psd(s1 + offset * np.eye(len(s1)))
                b = s2 + offset * np.eye(len(s2))
            m = r @ b @ r
            w = np.linalg.eigvalsh((m + m.T) / 2)
            if np.all(np.isfinite(w)):
                return float(np.sqrt(np.clip(w, 0, None)).sum())
        except np.linalg.LinAlgError:
            continue
    raise ValueError("FID: the covariance matrices could not be decomposed (non-finite features?)")


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, sqrt_sigma1=None) -> float:
    """Frechet distance between two Gaussians N(mu1, sigma1), N(mu2, sigma2).

    `sqrt_sigma1`: `sqrt_psd(sigma1)` when already known (saves one decomposition).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"frechet_distance: shapes do not match: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) \
        - 2.0 * trace_sqrt_product(sigma1, sigma2, eps, sqrt_sigma1)
    return float(max(value, 0.0))


def fid_from_features(features1, features2) -> float:
    """FID between two feature sets [N1,D], [N2,D]."""
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    s1, s2 = FeatureStatistics(f1.shape[-1]), FeatureStatistics(f2.shape[-1])
    s1.update(f1)
    s2.update(f2)
    return frechet_distance(*s1.mean_cov(), *s2.mean_cov())


def fid(images1, images2, network=None, weights=None, batch_size: int = 32) -> float:
    """FID between two image sets (arrays or iterables of [B,H,W,3] batches, uint8 or [-1,1]).

    `network`: a callable images -> {"pool": features} (default: Inception-v3 from `weights`).
    """
    if network is None:
        from pinet_tf.metrics.inception import InceptionNetwork
        network = InceptionNetwork(weights, include_top=False)
    stats = []
    for images in (images1, images2):
        s = None
        for batch in _batches(images, batch_size):
            f = np.asarray(network(batch)["pool"])
            s = s or FeatureStatistics(f.shape[-1])
            s.update(f)
        if s is None:
            raise ValueError("fid: an image set is empty")
        stats.append(s)
    return frechet_distance(*stats[0].mean_cov(), *stats[1].mean_cov())


def _batches(images, batch_size):
    if isinstance(images, np.ndarray) or hasattr(images, "shape"):
        for i in range(0, int(images.shape[0]), batch_size):
            yield images[i:i + batch_size]
    else:
        yield from images
