"""Regenerate the sample in this folder with the synthetic people generator (deterministic).

    python examples/make_sample.py

Writes, at 256x176 (the official model's frame; any size works with `pinet-tf transfer`):
    person.png, person_parsing.png, person_keypoints.json   the photo to edit (OpenPose JSON)
    target.png, target_keypoints.json                       the same person in another pose
    clothes.png, clothes_parsing.png                        another person, for `pinet-tf texture`
"""

import json
import os

import numpy as np

from pinet_tf.datasets import synthetic
from pinet_tf.utils.drawing import save_png_atomic

HERE = os.path.dirname(os.path.abspath(__file__))
SEED, HEIGHT, WIDTH = 2026, 256, 176


def openpose_json(keypoints) -> dict:
    """(y, x) [18,2] with -1 missing -> OpenPose's COCO-18 `pose_keypoints_2d` (x, y, c)."""
    values = []
    for y, x in np.asarray(keypoints, float):
        values += [0.0, 0.0, 0.0] if y < 0 or x < 0 else [round(x, 1), round(y, 1), 1.0]
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": values}]}


def write(name, image=None, parsing=None, keypoints=None):
    if image is not None:
        save_png_atomic(os.path.join(HERE, f"{name}.png"), image)
    if parsing is not None:
        save_png_atomic(os.path.join(HERE, f"{name}_parsing.png"), parsing)
    if keypoints is not None:
        with open(os.path.join(HERE, f"{name}_keypoints.json"), "w") as f:
            json.dump(openpose_json(keypoints), f)
            f.write("\n")


def main():
    # (identity, pose) picked for front-facing views, so every keypoint is there.
    image, parsing, kp, _ = synthetic.sample(SEED, 2, 0, HEIGHT, WIDTH)
    write("person", image, parsing, kp)
    image, _, kp, _ = synthetic.sample(SEED, 2, 3, HEIGHT, WIDTH)
    write("target", image, None, kp)
    image, parsing, _, _ = synthetic.sample(SEED, 1, 1, HEIGHT, WIDTH)
    write("clothes", image, parsing)


if __name__ == "__main__":
    main()
