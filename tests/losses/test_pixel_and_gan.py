"""Pixel, parsing and GAN losses against NumPy references written here."""

import keras
import numpy as np
import pytest

from pinet_tf.config import CLASS_NAMES
from pinet_tf.losses import (discriminator_loss, generator_adversarial_loss, l1_class_factors,
                             l1_loss, parsing_cross_entropy, parsing_l1, person_pixel_weights)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def test_l1_is_mean_absolute_difference():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5, 4, 3)), rng.normal(size=(2, 5, 4, 3))
    np.testing.assert_allclose(float(l1_loss(a, b)), np.abs(a - b).mean(), rtol=1e-5)


def test_person_weighted_l1_matches_numpy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 5, 4, 3)), rng.normal(size=(2, 5, 4, 3))
    labels = rng.integers(0, 3, size=(2, 5, 4))
    labels[0, 0, 0], labels[0, 0, 1] = 0, 2  # both kinds of pixel occur
    onehot = np.eye(12, dtype=np.float32)[labels]
    weights = np.asarray(person_pixel_weights(onehot, 10.0))
    assert weights.shape == (2, 5, 4, 1)
    np.testing.assert_array_equal(weights[..., 0], np.where(labels > 0, 10.0, 1.0))
    expected = (np.abs(a - b) * weights).sum() / (weights.sum() * 3)
    np.testing.assert_allclose(float(l1_loss(a, b, weights)), expected, rtol=1e-5)
    # Weight 1 (the authors' plain mean) gives the plain mean.
    assert person_pixel_weights(onehot, 1.0) is None
    np.testing.assert_allclose(float(l1_loss(a, b, person_pixel_weights(onehot, 1.0))),
                               np.abs(a - b).mean(), rtol=1e-5)
    # The person's error counts more: an error only on person pixels scores higher.
    c = b + 0.5 * (labels > 0)[..., None]
    assert float(l1_loss(c, b, weights)) > float(l1_loss(c, b))


def test_class_factors_multiply_the_person_weight_per_class():
    labels = np.array([[[0, 1, 2], [10, 11, 4]]])
    onehot = np.eye(12, dtype=np.float32)[labels]
    factors = l1_class_factors({"shoes": 4, "hair": 2.5, "background": 0.5})
    assert factors == [0.5, 2.5] + [1.0] * 8 + [4.0, 1.0]
    got = np.asarray(person_pixel_weights(onehot, 10.0, factors))[..., 0]
    # background 1 x 0.5; hair 10 x 2.5; upper-clothes 10; shoes 10 x 4; hat, pants 10
    np.testing.assert_array_equal(got, [[[0.5, 25.0, 10.0], [40.0, 10.0, 10.0]]])
    # all factors 1: the person weight alone, as without factors
    np.testing.assert_array_equal(
        np.asarray(person_pixel_weights(onehot, 3.0, [1.0] * 12)),
        np.asarray(person_pixel_weights(onehot, 3.0)))
    assert l1_class_factors(None) is None and l1_class_factors({}) is None


@pytest.mark.parametrize("weights, message", [
    ({"shoe": 4}, "unknown class 'shoe'; the classes are background, hair"),
    ({"hair": 0}, "a factor must be a number > 0"),
    ({"hair": float("nan")}, "a factor must be a number > 0"),
    ({"hair": float("inf")}, "a factor must be a number > 0"),
    ({"hair": "4"}, "a factor must be a number > 0"),
    (["hair"], "must map class names to factors"),
])
def test_bad_class_factors_are_one_clear_error(weights, message):
    with pytest.raises(ValueError, match="l1_class_weights") as e:
        l1_class_factors(weights)
    assert message in str(e.value)
    assert len(CLASS_NAMES) == 12


def test_parsing_losses_match_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 6, 5, 12)).astype(np.float32) * 3
    labels = rng.integers(0, 12, size=(2, 6, 5))
    onehot = np.eye(12, dtype=np.float32)[labels]
    p = _softmax(logits.astype(np.float64))
    ce = -np.log(np.take_along_axis(p, labels[..., None], -1)).mean()
    np.testing.assert_allclose(float(parsing_cross_entropy(logits, onehot)), ce, rtol=1e-5)
    np.testing.assert_allclose(float(parsing_l1(logits, onehot)), np.abs(p - onehot).mean(),
                               rtol=1e-5)
    # A confident correct prediction has near-zero losses.
    sure = onehot * 50.0
    assert float(parsing_cross_entropy(sure, onehot)) < 1e-6
    assert float(parsing_l1(sure, onehot)) < 1e-6


def test_lsgan_matches_formula():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(2, 4, 3, 256)), rng.normal(size=(2, 4, 3, 256))
    want_d = 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean())
    np.testing.assert_allclose(float(discriminator_loss(real, fake, "lsgan")), want_d, rtol=1e-5)
    np.testing.assert_allclose(float(generator_adversarial_loss(fake, "lsgan")),
                               ((fake - 1) ** 2).mean(), rtol=1e-5)


def test_log_gan_matches_formula_and_is_stable():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(2, 4, 3, 8)) * 3, rng.normal(size=(2, 4, 3, 8)) * 3
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    want_d = 0.5 * (-np.log(sig(real)).mean() - np.log(1 - sig(fake)).mean())
    np.testing.assert_allclose(float(discriminator_loss(real, fake, "log")), want_d, rtol=1e-5)
    np.testing.assert_allclose(float(generator_adversarial_loss(fake, "log")),
                               -np.log(sig(fake)).mean(), rtol=1e-5)
    # Large scores do not overflow (log(1 + exp(-|x|)) form).
    big = np.full((1, 2, 2, 1), 200.0, np.float32)
    assert np.isfinite(float(discriminator_loss(big, -big, "log")))
    np.testing.assert_allclose(float(generator_adversarial_loss(-big, "log")), 200.0, rtol=1e-5)


def test_unknown_gan_kind_is_refused():
    with pytest.raises(ValueError, match="lsgan"):
        discriminator_loss(np.zeros((1, 1)), np.zeros((1, 1)), "hinge")


def test_losses_compute_in_at_least_float32():
    """float16 inputs are widened to float32; float64 stays float64 (the parity check)."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 3, 4, 3)), rng.normal(size=(2, 3, 4, 3))
    assert _dtype(l1_loss(a.astype("float16"), b.astype("float16"))) == "float32"
    got = l1_loss(a, b.astype("float32"))
    assert _dtype(got) == "float64"
    assert _dtype(discriminator_loss(a, b)) == "float64"
    labels = rng.integers(0, 12, size=(2, 3, 4))
    logits = rng.normal(size=(2, 3, 4, 12))
    ce = parsing_cross_entropy(logits, np.eye(12, dtype=np.float32)[labels])
    assert _dtype(ce) == "float64"
