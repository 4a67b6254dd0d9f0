"""Regenerate the sample in this folder with the synthetic people generator (deterministic).

    python examples/make_sample.py [OUT_DIR]     (default: this folder)

Writes, at 256x176 (the official model's frame; any size works with `pinet-tf transfer`):
    person.png, person_parsing.png, person_keypoints.json   the photo to edit (OpenPose JSON)
    target.png, target_keypoints.json                       the same person in another pose
    clothes.png, clothes_parsing.png                        another person, for `pinet-tf texture`

`tests/inference/test_examples.py` checks that this script reproduces the committed files byte for
byte, and that the README's walk-through on them with the Quick start's model shows the person.
"""

import json
import os
import sys

import numpy as np

from pinet_tf.datasets import synthetic
from pinet_tf.utils.atomic import write_text
from pinet_tf.utils.drawing import save_png_atomic

HERE = os.path.dirname(os.path.abspath(__file__))
SEED, HEIGHT, WIDTH = 2026, 256, 176
#: name -> (identity, pose): front views (every keypoint is there); the person and the target are
#: one identity in two poses, the clothes another identity with upper clothes and pants.
SAMPLES = {"person": (5, 1), "target": (5, 3), "clothes": (10, 1)}


def openpose_json(keypoints) -> dict:
    """(y, x) [18,2] with -1 missing -> OpenPose's COCO-18 `pose_keypoints_2d` (x, y, c)."""
    values = []
    for y, x in np.asarray(keypoints, float):
        values += [0.0, 0.0, 0.0] if y < 0 or x < 0 else [round(x, 1), round(y, 1), 1.0]
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": values}]}


def sample(name):
    """(image, parsing, keypoints) of one of `SAMPLES`."""
    identity, pose = SAMPLES[name]
    image, parsing, kp, _ = synthetic.sample(SEED, identity, pose, HEIGHT, WIDTH)
    return image, parsing, kp


def write(out, name, image=None, parsing=None, keypoints=None):
    if image is not None:
        save_png_atomic(os.path.join(out, f"{name}.png"), image)
    if parsing is not None:
        save_png_atomic(os.path.join(out, f"{name}_parsing.png"), parsing)
    if keypoints is not None:
        write_text(os.path.join(out, f"{name}_keypoints.json"),
                   json.dumps(openpose_json(keypoints)) + "\n")


def main(out=HERE):
    image, parsing, kp = sample("person")
    write(out, "person", image, parsing, kp)
    image, _, kp = sample("target")
    write(out, "target", image, None, kp)
    image, parsing, _ = sample("clothes")
    write(out, "clothes", image, parsing)


if __name__ == "__main__":
    main(*sys.argv[1:2])
