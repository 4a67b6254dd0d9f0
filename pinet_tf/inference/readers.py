"""The inference verbs' view of a user's files: the shared readers plus the verbs' own checks.

Photos, label maps and keypoint files are read by `pinet_tf.utils.readers` and
`pinet_tf.utils.keypoint_files` (one reader of each kind for `transfer`, `texture`, the serving
`client` and the data reader); this module adds what only the verbs need: the parsing label sets
(`--parsing-labels`: the 12 PINet classes, or CIHP / LIP / ATR parser output mapped to them), the
parsing-matches-photo size check and the keypoints-inside-photo check. Every error names the file.
"""

from __future__ import annotations

import os

import numpy as np

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES, NUM_CLASSES
from pinet_tf.utils.keypoint_files import (COCO17_NAMES, DEFAULT_MIN_CONFIDENCE,  # noqa: F401
                                           read_keypoints)
from pinet_tf.utils.readers import (bad_label, read_image,  # noqa: F401 (the verbs' readers)
                                    read_label_map)

PARSING_LABEL_SETS = ("pinet", "cihp", "lip", "atr")


def check_keypoints_in_image(kp, height, width, path):
    """A point outside the photo is almost always a file for another photo / frame."""
    present = (kp >= 0).all(axis=-1)
    outside = present & ((kp[:, 0] > height - 0.5) | (kp[:, 1] > width - 0.5))
    if outside.any():
        names = [KEYPOINT_NAMES[i] for i in np.flatnonzero(outside)]
        raise ValueError(f"{path}: keypoints {names} lie outside the {height}x{width} image "
                         f"(keypoints are (y, x) pixels of that image)")


def read_parsing(path, labels: str = "pinet", size=None, image_path=None) -> np.ndarray:
    """A label image -> uint8 [h,w] in the 12 PINet classes.

    `labels` names the id set: "pinet" (the 12 classes; a picture in
    `pinet_tf.utils.drawing.PARSING_PALETTE` colours is read back too), "cihp", "lip" (20
    labels) or "atr" (18), mapped with `pinet-tf convert-parsing`'s table. `size` (h, w): the
    photo's size, which the parsing must match.
    """
    from pinet_tf.utils.drawing import PARSING_PALETTE

    path = os.fspath(path)
    if labels not in PARSING_LABEL_SETS:
        raise ValueError(f"parsing labels must be one of {PARSING_LABEL_SETS}, got {labels!r}")
    arr = read_label_map(path, "parsing", palette=PARSING_PALETTE if labels == "pinet" else None)
    if labels == "pinet":
        bad = bad_label(arr, NUM_CLASSES)
        if bad:
            raise ValueError(f"{path}: label {bad[0]} is not a PINet class (0..{NUM_CLASSES - 1}"
                             f": {', '.join(CLASS_NAMES)}; at {bad[1]}); for CIHP/LIP/ATR "
                             f"parsing pass --parsing-labels cihp, lip or atr")
        out = arr.astype(np.uint8)
    else:  # the data package's CIHP/LIP table (the same one `pinet-tf convert-parsing` uses)
        from pinet_tf.datasets.parsing_labels import convert_labels
        out = convert_labels(arr, labels, where=path)
    if size is not None and tuple(out.shape) != tuple(size):
        what = f"the image {image_path}" if image_path else "the image"
        raise ValueError(f"{path}: parsing is {out.shape[0]}x{out.shape[1]} but {what} is "
                         f"{size[0]}x{size[1]}; they must be the same size")
    return out
