"""Inception-v3 from local Keras weights files: pool3 features (FID) and class probabilities (IS).

The weights files are found or downloaded by `pinet_tf.utils.weights` (like keras.applications,
with --no-download / $PINET_TF_NO_DOWNLOAD to forbid it). These are
the Keras (ImageNet, TF2) weights, not the TF1 graph (`pool_3:0`, 1008 logits) that published FID
and IS numbers were computed with: our numbers are comparable between our runs, not with papers.
"""

from __future__ import annotations

import os

import tensorflow as tf

from pinet_tf.utils import weights as wlib

#: The Keras application weight files (names as keras.applications downloads them).
TOP_FILE = wlib.FILES["inception_v3"].name
NOTOP_FILE = wlib.FILES["inception_v3_notop"].name
INPUT_SIZE = 299
#: How images are brought to Inception's input size (recorded in evaluation reports).
RESIZE_METHOD = "bilinear (tf.image.resize, no antialias) to 299x299"


def to_inception_input(images):
    """uint8 [0,255] or float [-1,1] images [B,H,W,3] -> float32 [-1,1] at 299x299 (bilinear).

    Keras's InceptionV3 `preprocess_input` is x/127.5 - 1, i.e. [-1, 1]: the models' convention.
    """
    x = tf.convert_to_tensor(images)
    if x.dtype == tf.uint8:
        x = tf.cast(x, tf.float32) / 127.5 - 1.0
    x = tf.cast(x, tf.float32)
    if x.shape.rank != 4 or x.shape[-1] != 3:
        raise ValueError(f"Inception input: expected [B,H,W,3] images, received shape {x.shape}")
    return tf.image.resize(x, (INPUT_SIZE, INPUT_SIZE), method="bilinear")


def find_inception_weights(include_top=None, path=None, allow_download=None) -> str:
    """The InceptionV3 weights file to use.

    include_top True: the classifier file (IS needs it). False (FID only): a local notop or
    classifier file (same trunk), else a download of the notop one. None: prefer the classifier
    (it gives FID and IS): a local classifier file, a local notop one, else download the
    classifier. An explicit `path` wins and must exist.
    """
    hint = "--inception-weights PATH"
    if path:
        return wlib.check_explicit(path, "Inception-v3 weights")
    if include_top:
        return wlib.locate("inception_v3", allow_download=allow_download, hint=hint)
    order = ("inception_v3_notop", "inception_v3") if include_top is False else \
        ("inception_v3", "inception_v3_notop")
    for key in order:
        try:
            return wlib.locate(key, local_only=True)
        except wlib.WeightsNotFoundError:
            pass
    return wlib.locate(order[0], allow_download=allow_download, hint=hint)


def has_classifier(path) -> bool:
    """Whether an InceptionV3 weights file holds the classifier (judged by its name: the Keras
    files end in "_notop.h5" without it)."""
    return "notop" not in os.path.basename(os.fspath(path))


class InceptionNetwork:
    """Callable images -> {"pool": [B,2048], "probs": [B,1000] (only with the classifier)}.

    With a classifier weights file one network serves FID and IS; a notop file serves FID only.
    `weights=None` finds the file (`find_inception_weights`, downloads allowed unless
    `allow_download=False`); `random_init=True` builds random weights (tests only).
    `include_top=True` asks for the classifier and refuses a notop file by name.
    """

    def __init__(self, weights=None, include_top=None, random_init=False, allow_download=None):
        import keras

        if random_init:
            self.weights_path = None
            include_top = bool(include_top)
        else:
            self.weights_path = find_inception_weights(include_top, weights, allow_download)
            if include_top and not has_classifier(self.weights_path):
                raise ValueError(f"Inception Score needs the Inception-v3 classifier weights "
                                 f"{TOP_FILE}; {self.weights_path} is a notop file")
            if not (weights and include_top is False):  # an explicit notop request is taken
                include_top = has_classifier(self.weights_path)
        self.include_top = include_top
        shape = (INPUT_SIZE, INPUT_SIZE, 3)
        if include_top:
            base = keras.applications.InceptionV3(include_top=True, weights=self.weights_path,
                                                  input_shape=shape)
            self.model = keras.Model(base.inputs, {"pool": base.get_layer("avg_pool").output,
                                                   "probs": base.output})
        else:
            self.model = keras.applications.InceptionV3(include_top=False, pooling="avg",
                                                        weights=self.weights_path,
                                                        input_shape=shape)
        # One trace for every batch size (retracing Inception costs seconds).
        self._fn = tf.function(self._call, input_signature=[
            tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32)])

    def _call(self, x):
        out = self.model(x, training=False)
        return out if isinstance(out, dict) else {"pool": out}

    def __call__(self, images):
        return self._fn(to_inception_input(images))
