"""BlazePose's 33 landmarks -> the 18 COCO keypoints PINet uses, and OpenPose JSON.

The one place the mapping is written. COCO-18 (OpenPose's order, `pinet_tf.config.KEYPOINT_NAMES`)
takes 17 points straight from BlazePose (same person-centred left / right) and adds the neck as
the midpoint of the shoulders (confidence: the smaller of the two, 0 when either is missing). A
point whose visibility is below `MIN_VISIBILITY`, or that lies outside the photo, gets confidence
0 (and x = y = 0, OpenPose's way of writing a missing point).
"""

from __future__ import annotations

import numpy as np

from pinet_tf.config import KEYPOINT_NAMES

#: BlazePose landmark index of each COCO-18 point (None: the neck, from the shoulders).
BLAZEPOSE_INDEX = {
    "nose": 0, "neck": None, "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16,
    "left_shoulder": 11, "left_elbow": 13, "left_wrist": 15, "right_hip": 24, "right_knee": 26,
    "right_ankle": 28, "left_hip": 23, "left_knee": 25, "left_ankle": 27, "right_eye": 5,
    "left_eye": 2, "right_ear": 8, "left_ear": 7,
}
assert tuple(BLAZEPOSE_INDEX) == KEYPOINT_NAMES
MIN_VISIBILITY = 0.5


def to_coco18(xy, visibility, height: int, width: int) -> np.ndarray:
    """BlazePose (x, y) [33, 2] pixels and visibility [33] -> float32 [18, 3] (x, y, confidence)
    triples in COCO-18 order; a missing point is (0, 0, 0)."""
    xy = np.asarray(xy, np.float32)
    vis = np.asarray(visibility, np.float32)
    out = np.zeros((len(KEYPOINT_NAMES), 3), np.float32)
    for k, name in enumerate(KEYPOINT_NAMES):
        i = BLAZEPOSE_INDEX[name]
        if i is not None:
            out[k] = (xy[i, 0], xy[i, 1], vis[i])
    rs, ls = KEYPOINT_NAMES.index("right_shoulder"), KEYPOINT_NAMES.index("left_shoulder")
    neck = KEYPOINT_NAMES.index("neck")
    out[neck, :2] = (out[rs, :2] + out[ls, :2]) / 2
    out[neck, 2] = min(out[rs, 2], out[ls, 2])
    inside = ((out[:, 0] >= -0.5) & (out[:, 0] <= width - 0.5) &
              (out[:, 1] >= -0.5) & (out[:, 1] <= height - 0.5))
    seen = (out[:, 2] >= MIN_VISIBILITY) & inside
    if not (seen[rs] and seen[ls]):
        seen[neck] = False
    out[:, :2] = np.clip(out[:, :2], 0.0, [width - 1.0, height - 1.0])
    out[~seen] = 0.0
    return out


def openpose_document(triples) -> dict:
    """An OpenPose JSON document (version 1.3) with one person."""
    flat = [round(float(v), 2) for v in np.asarray(triples, np.float32).ravel()]
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]}
