"""Inception Score: exp(E_x KL(p(y|x) || p(y))), mean and std over 10 splits.

The plain function splits the predictions into contiguous chunks like the original code
(Salimans et al. 2016). A streaming version cannot know N in advance, so it assigns image i to
split i mod `splits` and keeps, per split, the count, the sum of p(y|x) and the sum of
sum_y p log p: enough to get every split's score without storing predictions. On shuffled data the
two agree in distribution; on the same split assignment they agree exactly (tested).

NumPy only (no scipy: the base install has none, and training imports this package).
"""

from __future__ import annotations

import numpy as np


def xlogx(p) -> np.ndarray:
    """p * log(p) elementwise, with 0 log 0 = 0 (scipy.special.xlogy(p, p) without scipy)."""
    p = np.asarray(p, np.float64)
    positive = p > 0
    return np.where(positive, p * np.log(np.where(positive, p, 1.0)), 0.0)


def _split_score(count, psum, plogp):
    # mean over the split of sum_y p log p - sum_y p log p(y); the second term is linear in p,
    # so its mean is sum_y p(y) log p(y) with p(y) the split's marginal.
    marginal = np.asarray(psum, np.float64) / count
    mean_kl = plogp / count - xlogx(marginal).sum()
    return float(np.exp(mean_kl))


def inception_score(probs, splits: int = 10):
    """(mean, std) of the Inception Score of class probabilities [N,K] (rows sum to 1)."""
    p = np.asarray(probs, np.float64)
    if p.ndim != 2:
        raise ValueError(f"inception_score: expected probabilities [N,K], received shape {p.shape}")
    n = p.shape[0]
    if n < splits:
        raise ValueError(f"inception_score: {n} images cannot make {splits} splits")
    scores = []
    for k in range(splits):
        part = p[k * n // splits:(k + 1) * n // splits]
        scores.append(_split_score(len(part), part.sum(0), xlogx(part).sum()))
    return float(np.mean(scores)), float(np.std(scores))


class SplitAccumulator:
    """Per-split sums for a streaming Inception Score (round-robin split assignment)."""

    def __init__(self, num_classes: int, splits: int = 10):
        self.splits = splits
        self.seen = 0
        self.count = np.zeros(splits, np.int64)
        self.psum = np.zeros((splits, num_classes), np.float64)
        self.plogp = np.zeros(splits, np.float64)

    def update(self, probs) -> None:
        p = np.asarray(probs, np.float64)
        idx = (self.seen + np.arange(len(p))) % self.splits
        self.seen += len(p)
        np.add.at(self.count, idx, 1)
        np.add.at(self.psum, idx, p)
        np.add.at(self.plogp, idx, xlogx(p).sum(1))

    def result(self):
        return scores_from_sums(self.count, self.psum, self.plogp)


def scores_from_sums(count, psum, plogp):
    count = np.asarray(count)
    if np.any(count < 1):
        raise ValueError(f"inception score: every split needs an image, counts {count.tolist()}")
    scores = [_split_score(c, s, l) for c, s, l in zip(count, np.asarray(psum), np.asarray(plogp))]
    return float(np.mean(scores)), float(np.std(scores))
