"""Pixel losses: image L1 (paper eq. 8) and the parsing losses (paper eq. 6).

All are means over every element, computed in float32 so that mixed precision does not round
small losses to zero.
"""

from keras import ops


def l1_loss(predicted, target):
    """Mean absolute difference over all elements."""
    return ops.mean(ops.abs(ops.cast(predicted, "float32") - ops.cast(target, "float32")))


def parsing_cross_entropy(logits, target_onehot):
    """Pixel-wise softmax cross-entropy of [B,H,W,C] logits against a one-hot map, mean over pixels.

    Takes the one-hot map (not labels) so that soft targets also work.
    """
    logits = ops.cast(logits, "float32")
    log_p = ops.log_softmax(logits, axis=-1)
    return -ops.mean(ops.sum(ops.cast(target_onehot, "float32") * log_p, axis=-1))


def parsing_l1(logits, target_onehot):
    """L1 between softmax(logits) and the one-hot target, mean over all elements (the paper's
    second parsing term; the authors' code omits it)."""
    return l1_loss(ops.softmax(ops.cast(logits, "float32"), axis=-1), target_onehot)
