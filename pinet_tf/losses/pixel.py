"""Pixel losses: image L1 (paper eq. 8) and the parsing losses (paper eq. 6).

All are means over every element, computed in at least float32 (`wide`) so that mixed precision
does not round small losses to zero (and a float64 check stays float64).
"""

from keras import ops

from pinet_tf.layers.precision import wide  # noqa: F401  (the losses' import of it)


def l1_loss(predicted, target):
    """Mean absolute difference over all elements."""
    return ops.mean(ops.abs(ops.subtract(wide(predicted), wide(target))))


def parsing_cross_entropy(logits, target_onehot):
    """Pixel-wise softmax cross-entropy of [B,H,W,C] logits against a one-hot map, mean over pixels.

    Takes the one-hot map (not labels) so that soft targets also work.
    """
    logits = wide(logits)
    log_p = ops.log_softmax(logits, axis=-1)
    return -ops.mean(ops.sum(ops.cast(target_onehot, log_p.dtype) * log_p, axis=-1))


def parsing_l1(logits, target_onehot):
    """L1 between softmax(logits) and the one-hot target, mean over all elements (the paper's
    second parsing term; the authors' code omits it)."""
    return l1_loss(ops.softmax(wide(logits), axis=-1), target_onehot)
