"""GAN objectives over the discriminators' 256-channel score maps (no 1-channel head).

Both forms average over every element of the map, as the authors' `GANLoss` does:

* ``"lsgan"`` (the authors' code, default of the official schedule): D minimises
  0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2)); G minimises mean((D(fake) - 1)^2).
* ``"log"`` (paper eq. 7): the same with sigmoid cross-entropy on the scores as logits; G uses
  the non-saturating form -log sigmoid(D(fake)).
"""

from keras import ops

from pinet_tf.losses.pixel import wide

GAN_KINDS = ("lsgan", "log")


def _check(kind):
    if kind not in GAN_KINDS:
        raise ValueError(f"GAN loss kind must be one of {GAN_KINDS}, got {kind!r}")


def _bce_with_logits(scores, label):
    # max(x, 0) - x * z + log(1 + exp(-|x|)), stable for any x.
    return ops.mean(ops.relu(scores) - scores * label + ops.log1p(ops.exp(-ops.abs(scores))))


def _distance(scores, label, kind):
    scores = wide(scores)
    if kind == "lsgan":
        return ops.mean(ops.square(scores - label))
    return _bce_with_logits(scores, label)


def discriminator_loss(real_scores, fake_scores, kind="lsgan"):
    """0.5 * (loss(real, 1) + loss(fake, 0)) for one discriminator."""
    _check(kind)
    return 0.5 * (_distance(real_scores, 1.0, kind) + _distance(fake_scores, 0.0, kind))


def generator_adversarial_loss(fake_scores, kind="lsgan"):
    """loss(D(fake), 1): what the generator minimises for one discriminator."""
    _check(kind)
    return _distance(fake_scores, 1.0, kind)
