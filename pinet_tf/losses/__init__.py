"""Training losses of PINet: pixel L1, parsing cross-entropy (+ L1 on the softmax), VGG19
perceptual and the two GAN forms (least squares, the authors' code; log, the paper)."""

from pinet_tf.losses.gan import GAN_KINDS, discriminator_loss, generator_adversarial_loss
from pinet_tf.losses.perceptual import PAPER_LAYERS, OFFICIAL_LAYERS, VGGPerceptualLoss
from pinet_tf.losses.pixel import (l1_class_factors, l1_loss, parsing_cross_entropy, parsing_l1,
                                   person_pixel_weights)

__all__ = ["GAN_KINDS", "OFFICIAL_LAYERS", "PAPER_LAYERS", "VGGPerceptualLoss",
           "discriminator_loss", "generator_adversarial_loss", "l1_class_factors", "l1_loss",
           "parsing_cross_entropy", "parsing_l1", "person_pixel_weights"]
