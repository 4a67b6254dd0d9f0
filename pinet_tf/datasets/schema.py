"""The pair record schema: one table of the fields every pair carries, for every reader and writer.

A pair is a (source, target) couple of one person; each role has the same four fields:

    ROLE_image       uint8 [H, W, 3]   stored as PNG bytes (RGB)
    ROLE_parsing     uint8 [H, W]      stored as PNG bytes (8-bit labels 0..11)
    ROLE_keypoints   float32 [18, 2]   stored as 36 floats: (y, x) pairs, COCO-18 order, -1 missing
    ROLE_name        string            stored as UTF-8 bytes

The TFRecord writer (`tfrecords.serialize_pair`), the tf.data reader (`pipeline.decode_record`)
and the TFDS builders (`tfds/features.py`) all build their feature dicts from `FIELDS`, so a field
added or changed here changes all three.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinet_tf.config import NUM_KEYPOINTS

ROLES = ("source", "target")


@dataclass(frozen=True)
class Field:
    name: str     # the key's suffix: ROLE_<name>
    kind: str     # "rgb" / "labels" (PNG bytes), "floats" (a float list), "text" (bytes)
    shape: tuple  # decoded shape of one example; None = the record's image height / width


FIELDS = (
    Field("image", "rgb", (None, None, 3)),
    Field("parsing", "labels", (None, None)),
    Field("keypoints", "floats", (NUM_KEYPOINTS, 2)),
    Field("name", "text", ()),
)


def key(role: str, field: Field) -> str:
    return f"{role}_{field.name}"


def keys() -> list:
    """Every feature key of a pair, in the table's order."""
    return [key(role, f) for role in ROLES for f in FIELDS]


def parse_spec() -> dict:
    """`tf.io.parse_single_example` spec of a serialized pair."""
    import tensorflow as tf

    spec = {}
    for role in ROLES:
        for f in FIELDS:
            if f.kind == "floats":
                size = 1
                for d in f.shape:
                    size *= d
                spec[key(role, f)] = tf.io.FixedLenFeature([size], tf.float32)
            else:
                spec[key(role, f)] = tf.io.FixedLenFeature([], tf.string)
    return spec


def to_features(values: dict) -> dict:
    """{key: PNG bytes / floats / str} -> {key: tf.train.Feature} for a `tf.train.Example`."""
    import numpy as np
    import tensorflow as tf

    out = {}
    for role in ROLES:
        for f in FIELDS:
            value = values[key(role, f)]
            if f.kind == "floats":
                floats = [float(v) for v in np.asarray(value, np.float32).reshape(-1)]
                out[key(role, f)] = tf.train.Feature(float_list=tf.train.FloatList(value=floats))
            else:
                data = value.encode() if isinstance(value, str) else bytes(value)
                out[key(role, f)] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
    return out


def decode(serialized, record_size) -> dict:
    """A serialized pair -> {key: tensor} with the table's dtypes and static shapes."""
    import tensorflow as tf

    h, w = record_size
    ex = tf.io.parse_single_example(serialized, parse_spec())
    out = {}
    for role in ROLES:
        for f in FIELDS:
            k = key(role, f)
            if f.kind == "rgb":
                out[k] = tf.ensure_shape(tf.io.decode_png(ex[k], channels=3), [h, w, 3])
            elif f.kind == "labels":
                out[k] = tf.ensure_shape(tf.io.decode_png(ex[k], channels=1)[..., 0], [h, w])
            elif f.kind == "floats":
                out[k] = tf.reshape(ex[k], f.shape)
            else:
                out[k] = ex[k]
    return out
