"""Functional builders for the PINet generators and discriminators."""

from pinet_tf.models.discriminators import (build_appearance_discriminator,
                                            build_pose_discriminator)
from pinet_tf.models.generators import (build_generator, build_image_generator,
                                        build_parsing_generator)
from pinet_tf.models.inputs import check_inputs

__all__ = ["build_appearance_discriminator", "build_generator", "build_image_generator",
           "build_parsing_generator", "build_pose_discriminator", "check_inputs"]
