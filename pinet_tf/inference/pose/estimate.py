"""Keypoints of the person in a user's photo: checks the photo, runs BlazePose once, picks the
person (the largest, or `--person N`) and gives COCO-18 keypoints in both forms the project uses
(OpenPose x, y, c triples for files, [y, x] with -1 for the verbs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

#: Photos smaller than this on a side hold too little of a person to find.
MIN_SIDE = 32
#: Photos larger than this (pixels) are refused before decoding (a person needs far fewer).
MAX_PIXELS = 40_000_000


@dataclass
class Estimate:
    path: str
    image: np.ndarray       # uint8 [h, w, 3]
    triples: np.ndarray     # float32 [18, 3] (x, y, c), missing = 0, 0, 0
    people: int             # how many people were found
    person: int             # which one these keypoints are
    pose: object            # blazepose.Pose: the 33 landmarks and the person mask

    def person_mask(self, height: int, width: int) -> np.ndarray:
        """The person's probability [height, width] over the photo scaled to that size."""
        return self.pose.mask(height, width, *self.image.shape[:2])

    def keypoints(self, min_confidence: float = 0.0) -> np.ndarray:
        """float32 [18, 2] (y, x), -1 missing (what the verbs use)."""
        from pinet_tf.utils.keypoint_files import _confident

        return _confident(self.triples, min_confidence)


def read_photo(path) -> np.ndarray:
    """A photo checked for size (before decoding when possible) -> uint8 [h, w, 3]."""
    from PIL import Image

    from pinet_tf.utils.readers import check_file, read_image

    path = check_file(path, "photo")
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception:  # noqa: BLE001 - read_image below names the problem
        w = h = None
    if w is not None and w * h > MAX_PIXELS:
        raise ValueError(f"{path}: the photo is {w}x{h} ({w * h / 1e6:.0f} megapixels), more than "
                         f"the {MAX_PIXELS // 1_000_000} megapixels accepted; scale it down first")
    image = read_image(path, "photo")
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"{path}: the photo is {w}x{h}, too small to find a person in (at least "
                         f"{MIN_SIDE} pixels a side)")
    return image


_MODEL = {}


def estimator(allow_download=None):
    """The BlazePose models, loaded once per process."""
    if "blazepose" not in _MODEL:
        from pinet_tf.inference.pose.blazepose import BlazePose

        _MODEL["blazepose"] = BlazePose(allow_download=allow_download)
    return _MODEL["blazepose"]


def estimate(path, person=None, image=None, model=None, choose_with="--person") -> Estimate:
    """The keypoints of one person in the photo at `path` (already read: `image`).

    Raises ValueError naming the file when no person is found or `person` is out of range.
    """
    from pinet_tf.inference.pose.coco18 import to_coco18

    path = os.fspath(path)
    image = read_photo(path) if image is None else image
    poses = (model or estimator())(image)
    if not poses:
        raise ValueError(f"{path}: no person found in the photo (BlazePose needs one person "
                         f"seen clearly, head to at least the hips)")
    i = 0 if person is None else int(person)
    if not 0 <= i < len(poses):
        raise ValueError(f"{path}: {choose_with} {i} but {len(poses)} "
                         f"{'person was' if len(poses) == 1 else 'people were'} found "
                         f"(0 is the largest)")
    pose = poses[i]
    h, w = image.shape[:2]
    triples = to_coco18(pose.xy, pose.visibility, h, w)
    return Estimate(path, image, triples, len(poses), i, pose)


def describe(est: Estimate, choose_with="--person") -> str:
    """One line: how many points were found, and which person when there were several."""
    found = int((est.triples[:, 2] > 0).sum())
    line = f"{est.path}: estimated {found} of 18 keypoints with BlazePose"
    if est.people > 1:
        which = "the largest" if est.person == 0 else f"person {est.person}"
        line += f" ({est.people} people found, {which} taken; {choose_with} N picks another)"
    return line
