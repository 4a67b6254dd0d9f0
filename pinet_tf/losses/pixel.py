"""Pixel losses: image L1 (paper eq. 8) and the parsing losses (paper eq. 6).

All are means over every element, computed in at least float32 (`wide`) so that mixed precision
does not round small losses to zero (and a float64 check stays float64).
"""

import math

from keras import ops

from pinet_tf.config import CLASS_NAMES
from pinet_tf.layers.precision import wide  # noqa: F401  (the losses' import of it)


def l1_loss(predicted, target, pixel_weights=None):
    """Mean absolute difference over all elements.

    With `pixel_weights` ([B, H, W, 1], >= 0), the weighted mean: each pixel's difference counts
    its weight, and the sum is divided by the weights' sum (times the channels), so equal weights
    give the plain mean.
    """
    diff = ops.abs(ops.subtract(wide(predicted), wide(target)))
    if pixel_weights is None:
        return ops.mean(diff)
    weights = ops.cast(pixel_weights, diff.dtype)
    return ops.divide(ops.mean(ops.multiply(diff, weights)), ops.mean(weights))


def person_pixel_weights(target_parsing_onehot, person_weight, class_factors=None):
    """[B, H, W, 1] weights of the image L1 (`TrainConfig.l1_person_weight`): `person_weight`
    where the true target class is not background (class 0), 1 elsewhere; None for a weight of
    1 and no class factors (the authors' plain mean, which `l1_loss` then computes without
    weights).

    `class_factors` ([C] numbers, one per parsing class, or None): each class's pixels count that
    many times more on top (`TrainConfig.l1_class_weights`; 1 leaves a class as it is).

    At the tiny size the person covers about a quarter of the picture (23.6% on the synthetic
    sets), so the plain mean spends three quarters of G_i's L1 on the easy background
    (`docs/results/appearance.md` measures what weighting the person does).
    """
    if class_factors is None:
        if float(person_weight) == 1.0:
            return None
        class_factors = [1.0] * target_parsing_onehot.shape[-1]
    per_class = [float(f) * (1.0 if c == 0 else float(person_weight))
                 for c, f in enumerate(class_factors)]
    onehot = ops.cast(target_parsing_onehot, "float32")
    return ops.sum(ops.multiply(onehot, ops.convert_to_tensor(per_class, "float32")),
                   axis=-1, keepdims=True)


def l1_class_factors(weights) -> list | None:
    """{class name: factor} (`TrainConfig.l1_class_weights`) -> one factor per parsing class
    (`pinet_tf.config.CLASS_NAMES` order, 1 for a class not named); None for None or {}."""
    if not weights:
        return None
    if not isinstance(weights, dict):
        raise ValueError(f"l1_class_weights must map class names to factors, got {weights!r}")
    unknown = sorted(set(weights) - set(CLASS_NAMES))
    if unknown:
        raise ValueError(f"l1_class_weights: unknown class {', '.join(map(repr, unknown))}; "
                         f"the classes are {', '.join(CLASS_NAMES)}")
    bad = {k: v for k, v in weights.items() if isinstance(v, bool)
           or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0)}
    if bad:
        raise ValueError(f"l1_class_weights: a factor must be a number > 0, got {bad}")
    return [float(weights.get(name, 1.0)) for name in CLASS_NAMES]


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
