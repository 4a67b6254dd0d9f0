"""Functional builders for the PINet generators and discriminators.

Names are imported lazily, so `pinet-tf --help` (which imports `pinet_tf.models.cli`) does not
load TensorFlow.
"""

import importlib

_EXPORTS = {
    "build_appearance_discriminator": "pinet_tf.models.discriminators",
    "build_pose_discriminator": "pinet_tf.models.discriminators",
    "build_generator": "pinet_tf.models.generators",
    "build_image_generator": "pinet_tf.models.generators",
    "build_parsing_generator": "pinet_tf.models.generators",
    "check_inputs": "pinet_tf.models.inputs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pinet_tf.models' has no attribute {name!r}")
