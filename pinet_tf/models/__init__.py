"""Functional builders for the PINet generators and discriminators.

Names are imported lazily, so `pinet-tf --help` (which imports `pinet_tf.models.cli`) does not
load TensorFlow.
"""

from pinet_tf.utils.lazy import lazy_exports

_EXPORTS = {
    "build_appearance_discriminator": "pinet_tf.models.discriminators",
    "build_pose_discriminator": "pinet_tf.models.discriminators",
    "build_generator": "pinet_tf.models.generators",
    "build_image_generator": "pinet_tf.models.generators",
    "build_one_stage_image_generator": "pinet_tf.models.generators",
    "build_parsing_generator": "pinet_tf.models.generators",
    "generator_inputs": "pinet_tf.models.generators",
    "check_inputs": "pinet_tf.models.inputs",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
