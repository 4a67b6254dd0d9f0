"""A tiny blocky person at any size (image, parsing, keypoints) for inference tests."""

import json

import numpy as np
from PIL import Image

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES

C = {n: i for i, n in enumerate(CLASS_NAMES)}
K = {n: i for i, n in enumerate(KEYPOINT_NAMES)}

# Boxes as fractions (top, bottom, left, right) of the photo.
_BOXES = [("hair", .05, .12, .38, .62), ("face", .12, .22, .40, .60),
          ("upper-clothes", .22, .55, .28, .72), ("pants", .55, .88, .32, .68),
          ("shoes", .88, .95, .30, .70)]
_JOINTS = {"nose": (.17, .5), "neck": (.23, .5), "right_shoulder": (.25, .35),
           "left_shoulder": (.25, .65), "right_elbow": (.40, .30), "left_elbow": (.40, .70),
           "right_hip": (.55, .40), "left_hip": (.55, .60), "right_knee": (.72, .40),
           "left_knee": (.72, .60), "right_ankle": (.88, .40), "left_ankle": (.88, .60)}


def make_person(h, w, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    image = np.empty((h, w, 3), np.uint8)
    image[:] = rng.integers(180, 255, 3)
    parsing = np.zeros((h, w), np.uint8)
    for name, t, b, l, r in _BOXES:
        ys, xs = slice(int(t * h), int(b * h)), slice(int((l + shift) * w), int((r + shift) * w))
        parsing[ys, xs] = C[name]
        image[ys, xs] = rng.integers(0, 200, 3)
    image = np.clip(image.astype(int) + rng.integers(-10, 10, image.shape), 0, 255)
    kp = np.full((18, 2), -1.0, np.float32)
    for name, (y, x) in _JOINTS.items():
        kp[K[name]] = (round(y * (h - 1)), round((x + shift) * (w - 1)))
    return image.astype(np.uint8), parsing, kp


def openpose_doc(kp, confidence=0.9):
    xyc = np.zeros((18, 3))
    present = (kp >= 0).all(axis=1)
    xyc[present] = np.column_stack([kp[present, 1], kp[present, 0],
                                    np.full(present.sum(), confidence)])
    return {"version": 1.3, "people": [{"pose_keypoints_2d": xyc.reshape(-1).tolist()}]}


def write_person(folder, stem, h, w, seed=0, shift=0.0):
    """Writes STEM.png, STEM.json (OpenPose), STEM_parsing.png; returns paths and arrays."""
    image, parsing, kp = make_person(h, w, seed, shift)
    paths = {"image": str(folder / f"{stem}.png"), "keypoints": str(folder / f"{stem}.json"),
             "parsing": str(folder / f"{stem}_parsing.png")}
    Image.fromarray(image).save(paths["image"])
    Image.fromarray(parsing).save(paths["parsing"])
    with open(paths["keypoints"], "w") as f:
        json.dump(openpose_doc(kp), f)
    return paths, (image, parsing, kp)
