"""The pair feature dict shared by both TFDS builders, built from the record schema
(`pinet_tf.datasets.schema.FIELDS`), so TFDS examples and pair TFRecords carry the same fields."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from pinet_tf.config import NUM_CLASSES
from pinet_tf.datasets import schema


def _feature(field: schema.Field, height, width):
    if field.kind == "rgb":
        return tfds.features.Image(shape=(height, width, 3), encoding_format="png")
    if field.kind == "labels":  # TFDS images carry a channel axis
        return tfds.features.Image(shape=(height, width, 1), encoding_format="png")
    if field.kind == "floats":
        return tfds.features.Tensor(shape=field.shape, dtype=np.float32)
    return tfds.features.Text()


def pair_features(height=None, width=None) -> tfds.features.FeaturesDict:
    return tfds.features.FeaturesDict({schema.key(role, f): _feature(f, height, width)
                                       for role in schema.ROLES for f in schema.FIELDS})


def pair_example(src, tgt) -> dict:
    """Two `patn.Example`-like objects (name, image, parsing, keypoints) -> a feature dict."""
    out = {}
    for role, ex in zip(schema.ROLES, (src, tgt)):
        if ex.parsing.max(initial=0) >= NUM_CLASSES:
            raise ValueError(f"{ex.name}: parsing label above {NUM_CLASSES - 1}")
        for f in schema.FIELDS:
            value = getattr(ex, f.name)
            if f.kind == "labels":
                value = value[..., None]
            elif f.kind == "floats":
                value = np.asarray(value, np.float32).reshape(f.shape)
            out[schema.key(role, f)] = value
    return out
