"""Synthetic people: a procedural data set with DeepFashion's structure, for first runs and tests.

No machine here can download DeepFashion, so the project ships a generator that writes *the same
on-disk layout* as the authors' data (``train/``, ``test/``, ``trainSPL2/``, ``testSPL2/`` and the
two CSVs per split, see `pinet_tf.datasets.patn`), so one reader and one converter serve both.

Each identity has a fixed look (skin tone, hair style and colour, textured upper garment, pants /
shorts / skirt / dress, shoes, sometimes a hat, body build) and its own backdrop, like one
DeepFashion in-shop item shot in one studio: a near-white plain wall (a vertical gradient between
two pale tints, 205-240 grey levels) whose tint varies a little across identities but not across
one identity's poses. Near-white and plain because that is what DeepFashion's in-shop studio
walls are, and because it puts the difficulty where pose transfer's is: the person. Earlier
versions drew mid-tone walls with a floor and boxes: the tiny model could not learn to carry them
through its 1/4-resolution trunk in a CI-sized run, so its held-out L1 stayed at the mean image's
(measured 2026-11-25, see `tests/fixtures_training.py`). Each pose draws that identity from a
2D kinematic skeleton (random joint angles, scale, position, front or back view) with the parts
in depth order. The 12-class parsing map and the 18 COCO keypoints come
from the same geometry, so they are exact. Garment textures are evaluated in the frame of the body
part they are printed on (distance along and across the limb / torso, in units of the person's
height), so an identity looks the same in every pose and pose transfer on it is well posed.

Everything is a function of ``(seed, identity index, pose index)`` (numpy ``default_rng`` seeded
with that triple), so output is byte-identical for a seed and independent of generation order.
Drawing is vectorised numpy on each part's bounding box: several hundred images/s at 256x176 on
one core (see ``benchmarks/stages/data.py``).

Images are written as lossless PNG at the requested size (no 256x256 originals, so the reader's
40..216 column crop never applies to synthetic data).

The modules, in the order data flows through them: `people` (an identity's look, one image's
pose, their seeded generators), `canvas` (the drawing primitives), `render` (skeleton, painting
order, labels and keypoints; `sample`), `layout` (the files on disk; `write_dataset`).
"""

from pinet_tf.datasets.synthetic.layout import (MARKER, SplitPlan, image_name, parse_size,
                                                 split_identities, write_dataset)
from pinet_tf.datasets.synthetic.people import Garment, Identity, Pose, identity_rng, pose_rng
from pinet_tf.datasets.synthetic.render import render, sample

__all__ = ["MARKER", "Garment", "Identity", "Pose", "SplitPlan", "identity_rng", "image_name",
           "parse_size", "pose_rng", "render", "sample", "split_identities", "write_dataset"]
