"""Inception-v3 from local Keras weights files: pool3 features (FID) and class probabilities (IS).

`keras.applications.InceptionV3` accepts a weights *path*, so nothing is downloaded. These are
the Keras (ImageNet, TF2) weights, not the TF1 graph (`pool_3:0`, 1008 logits) that published FID
and IS numbers were computed with: our numbers are comparable between our runs, not with papers.
"""

from __future__ import annotations

import os

import tensorflow as tf

from pinet_tf.metrics import weights as wlib

#: The Keras application weight files (names as keras.applications downloads them).
TOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
SOURCE = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/ "
          "(the keras.applications.InceptionV3 weights)")
#: keras.applications caches its downloads here; searched after $PINET_TF_WEIGHTS_DIR.
KERAS_CACHE = "~/.keras/models"
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


def find_inception_weights(include_top: bool, path=None) -> str:
    """Local InceptionV3 weights file: with the classifier (IS) or without (FID)."""
    if include_top:
        return wlib.find_weights("Inception-v3 with classifier (Inception Score)", TOP_FILE,
                                 explicit=path, extra_dirs=[KERAS_CACHE], source=SOURCE)
    return wlib.find_weights("Inception-v3 pool3 features (FID)", [NOTOP_FILE, TOP_FILE],
                             explicit=path, extra_dirs=[KERAS_CACHE], source=SOURCE)


class InceptionNetwork:
    """Callable images -> {"pool": [B,2048], "probs": [B,1000] (only with the classifier)}.

    With a classifier weights file one network serves FID and IS; a no-top file serves FID only.
    `weights=None` looks the file up; with include_top=None an explicit file whose name contains
    "notop" is taken as the no-classifier kind; `random_init=True` builds random weights
    (tests only).
    """

    def __init__(self, weights=None, include_top=None, random_init=False):
        import keras

        if random_init:
            self.weights_path = None
            include_top = bool(include_top)
        else:
            if include_top is None and weights:  # an explicit file: its name tells
                include_top = "notop" not in os.path.basename(os.fspath(weights))
            if include_top is None:  # prefer the file that also gives IS
                try:
                    self.weights_path = find_inception_weights(True, weights)
                    include_top = True
                except wlib.WeightsNotFoundError:
                    self.weights_path = find_inception_weights(False, weights)
                    include_top = "notop" not in os.path.basename(self.weights_path)
            else:
                self.weights_path = find_inception_weights(include_top, weights)
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
