"""Inception Score: uniform predictions give 1, known closed forms, streaming = plain function."""

import numpy as np
import pytest

from pinet_tf.metrics import InceptionScore, inception_score


def test_uniform_predictions_score_one_and_confident_distinct_score_k():
    assert inception_score(np.full((50, 1000), 1e-3))[0] == pytest.approx(1.0, abs=1e-9)
    # Each split holds 10 confident predictions over 10 classes, each class once: IS = 10.
    p = np.tile(np.eye(10), (10, 1))
    mean, std = inception_score(p, splits=10)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-9)
    # The same confident class everywhere: p(y|x) = p(y): IS = 1.
    assert inception_score(np.tile(np.eye(10)[:1], (30, 1)), splits=3)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cannot make 10 splits"):
        inception_score(p[:5])


def _reference_split_score(part):
    kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
    return np.exp(kl.sum(1).mean())


def test_streaming_metric_equals_round_robin_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(53, 20)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    net = lambda images: {"probs": images}  # the "network" returns its input as probabilities
    m = InceptionScore(network=net, splits=5, num_classes=20)
    for i in range(0, 53, 8):
        m.update_state(probs[i:i + 8])
    scores = [_reference_split_score(probs[k::5]) for k in range(5)]
    assert float(m.result()) == pytest.approx(np.mean(scores), rel=1e-5)
    assert float(m.result_std()) == pytest.approx(np.std(scores), rel=1e-4)
    # Plain function (contiguous splits) vs the same formula.
    contiguous = [_reference_split_score(probs[k * 53 // 5:(k + 1) * 53 // 5]) for k in range(5)]
    assert inception_score(probs, 5)[0] == pytest.approx(np.mean(contiguous), rel=1e-10)
