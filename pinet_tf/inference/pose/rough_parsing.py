"""A rough 12-class parsing of a photo from its pose, for when no human parser's output is given.

The person's pixels are BlazePose's person mask (the landmark model's segmentation output, > 0.5)
when there is one, else a band around the skeleton. Each person pixel takes the class of the
nearest body part, a part being a line between two keypoints: the torso and upper arms are
upper-clothes, the forearms hands (PINet's "hands" is the arm skin), the thighs pants, the shins
legs, a short stub past each ankle shoes, the neck-to-nose line neck; the head (a disc around the
face points) is face, its part above the eyes hair. It knows nothing about clothes (no dress,
skirt or hat), which is why it is rough: a real parser (docs/guides/own-photo.md) does better.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES

_C = {name: i for i, name in enumerate(CLASS_NAMES)}
_K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
#: (from, to, class): the skeleton's parts (keypoint names; the hips may be extrapolated).
PARTS = (
    ("right_shoulder", "right_hip", "upper-clothes"),
    ("left_shoulder", "left_hip", "upper-clothes"), ("neck", "mid_hip", "upper-clothes"), ("right_shoulder", "left_shoulder", "upper-clothes"),
    ("right_hip", "left_hip", "upper-clothes"),
    ("right_shoulder", "right_elbow", "upper-clothes"), ("left_shoulder", "left_elbow",
                                                         "upper-clothes"),
    ("right_elbow", "right_wrist", "hands"), ("left_elbow", "left_wrist", "hands"),
    ("right_hip", "right_knee", "pants"), ("left_hip", "left_knee", "pants"),
    ("right_knee", "right_ankle", "legs"), ("left_knee", "left_ankle", "legs"),
    ("right_ankle", "right_toe", "shoes"), ("left_ankle", "left_toe", "shoes"),
    ("neck", "chin", "neck"),
)
#: The parsing is computed at most this many pixels a side, then scaled to the photo.
WORK_SIZE = 256


def _points(kp) -> dict:
    """Named (y, x) points: the 18 keypoints that are present, plus derived ones."""
    kp = np.asarray(kp, np.float64)
    p = {n: kp[i] for n, i in _K.items() if (kp[i] >= 0).all()}
    if "right_shoulder" in p and "left_shoulder" in p:
        width = np.linalg.norm(p["right_shoulder"] - p["left_shoulder"])
        down = np.array([1.0, 0.0])
        for side in ("right", "left"):  # hips below the photo: extrapolate the torso
            p.setdefault(f"{side}_hip", p[f"{side}_shoulder"] + 1.6 * width * down)
    if "right_hip" in p and "left_hip" in p:
        p["mid_hip"] = (p["right_hip"] + p["left_hip"]) / 2
    for side in ("right", "left"):
        if f"{side}_knee" in p and f"{side}_ankle" in p:
            shin = p[f"{side}_ankle"] - p[f"{side}_knee"]
            p[f"{side}_toe"] = p[f"{side}_ankle"] + 0.25 * shin
    face = [p[n] for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear") if n in p]
    if face:
        p["head"] = np.mean(face, axis=0)
        if "neck" in p:
            p["chin"] = p["neck"] + 0.6 * (p["head"] - p["neck"])
    return p


def _segment_distance(yy, xx, a, b) -> np.ndarray:
    d = b - a
    t = ((yy - a[0]) * d[0] + (xx - a[1]) * d[1]) / max(float(d @ d), 1e-9)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(yy - (a[0] + t * d[0]), xx - (a[1] + t * d[1]))


def rough_parsing(keypoints, height: int, width: int, mask=None) -> np.ndarray:
    """uint8 [height, width] PINet classes from (y, x) keypoints [18, 2] (-1 missing) and an
    optional person probability: an array (any size, scaled) or a function (h, w) -> array
    that gives it at the size worked at (at most `WORK_SIZE` a side)."""
    scale = min(1.0, WORK_SIZE / max(height, width))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    p = {n: v * scale for n, v in _points(keypoints).items()}
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.0
    dists, classes = [], []
    for a, b, cls in PARTS:
        if a in p and b in p:
            dists.append(_segment_distance(yy, xx, p[a], p[b]))
            classes.append(_C[cls])
    limbs = [np.linalg.norm(p[a] - p[b]) for a, b, _ in PARTS[:5] if a in p and b in p]
    unit = max(np.median(limbs) if limbs else 0.1 * max(h, w), 2.0)
    head_r = None
    if "head" in p:
        spread = [np.linalg.norm(p[n] - p["head"]) for n in ("right_ear", "left_ear",
                                                              "right_eye", "left_eye") if n in p]
        head_r = max(1.8 * max(spread, default=0.0), 0.3 * unit, 2.0)
        dists.append(np.maximum(np.hypot(yy - p["head"][0], xx - p["head"][1]) - head_r, 0.0))
        classes.append(_C["face"])
    if not dists:
        return np.zeros((height, width), np.uint8)
    dists = np.stack(dists)
    labels = np.asarray(classes, np.uint8)[np.argmin(dists, axis=0)]
    if head_r is not None:  # hair: the head's part above the eyes (in the body's up direction)
        eyes = [p[n] for n in ("right_eye", "left_eye") if n in p]
        top = np.mean(eyes, axis=0) if eyes else p["head"]
        up = p["head"] - p["neck"] if "neck" in p else np.array([-1.0, 0.0])
        up = up / max(np.linalg.norm(up), 1e-9)
        above = ((yy - top[0]) * up[0] + (xx - top[1]) * up[1]) > 0.15 * head_r
        labels[(labels == _C["face"]) & above] = _C["hair"]
    if mask is not None:
        small = mask(h, w) if callable(mask) else np.asarray(Image.fromarray(
            np.asarray(mask, np.float32), "F").resize((w, h), Image.BILINEAR))
        person = small > 0.5
    else:
        person = dists.min(axis=0) < 0.35 * unit
    labels[~person | (dists.min(axis=0) > 0.6 * unit)] = _C["background"]
    return np.asarray(Image.fromarray(labels).resize((width, height), Image.NEAREST))
