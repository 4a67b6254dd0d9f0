"""pinet-tf: PINet pose transfer (Zhang, Liu, Li, PG 2020) in TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"

# In a worker process of a quiet `pinet-tf`, hide TensorFlow's start-up lines too.
from pinet_tf.utils import startup as _startup  # noqa: E402

_startup.follow_parent()
