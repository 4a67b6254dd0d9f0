"""The pair feature dict shared by both TFDS builders."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from pinet_tf.config import NUM_CLASSES, NUM_KEYPOINTS


def pair_features(height=None, width=None) -> tfds.features.FeaturesDict:
    feats = {}
    for role in ("source", "target"):
        feats[f"{role}_image"] = tfds.features.Image(shape=(height, width, 3),
                                                     encoding_format="png")
        feats[f"{role}_parsing"] = tfds.features.Image(shape=(height, width, 1),
                                                       encoding_format="png")
        feats[f"{role}_keypoints"] = tfds.features.Tensor(shape=(NUM_KEYPOINTS, 2),
                                                          dtype=np.float32)
        feats[f"{role}_name"] = tfds.features.Text()
    return tfds.features.FeaturesDict(feats)


def pair_example(src, tgt) -> dict:
    """Two `patn.Example`-like objects (name, image, parsing, keypoints) -> a feature dict."""
    out = {}
    for role, ex in (("source", src), ("target", tgt)):
        if ex.parsing.max(initial=0) >= NUM_CLASSES:
            raise ValueError(f"{ex.name}: parsing label above {NUM_CLASSES - 1}")
        out[f"{role}_image"] = ex.image
        out[f"{role}_parsing"] = ex.parsing[..., None]
        out[f"{role}_keypoints"] = np.asarray(ex.keypoints, np.float32)
        out[f"{role}_name"] = ex.name
    return out
