"""`pinet-tf keypoints` and `transfer` on real photos of whole people: a person standing head to
boots seen from behind (Debian's darknet package), and from Debian's kphotoalbum demo album a
beach with a man in front of a woman and a man facing the camera head to shoes at a pool table
with a second man behind him; tests/fixtures_debian_photos.py fetches them and states their
licences. Positions are in photo pixels, (x, y).
"""

import json
import math
import os

import numpy as np
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.config import KEYPOINT_NAMES
from tests.fixtures_blazepose import transfer_from_photo_alone

# darknet's person.jpg (640x424), checked by eye on 5x and 8x zoomed crops with a 5-pixel grid
# (x, y): the person is seen from behind, so their right side is on the photo's right. Shoulders
# 8 pixels inside the jacket's outline; the right elbow where the sleeve bends; the right wrist
# inside the glove's cuff; hips just above the jacket's hem (y 245) at the middle of each leg;
# knees at the trousers' crease halfway down the legs, ankles 15 pixels above the soles. The left arm is hidden
# in front of the body and the face turned away: not checked (the face points must lie on the
# head, HEAD below). From the hat's top (y 99) to the soles (y 374) the person is 275 pixels.
PERSON = {
    "right_shoulder": (247, 153), "left_shoulder": (204, 152), "neck": (225.5, 152.5),
    "right_elbow": (257, 205), "right_wrist": (265, 243), "right_hip": (241, 237),
    "left_hip": (217, 237), "right_knee": (240, 298), "left_knee": (222, 297),
    "right_ankle": (236, 359), "left_ankle": (223, 357),
}
PERSON_HEIGHT = 275
HEAD = (218, 97, 252, 137)  # x0, y0, x1, y1: the hat and the head under it
FACE = ("nose", "right_eye", "left_eye", "right_ear", "left_ear")

# kphotoalbum's cold_water.jpg (800x533), checked the same way on a 2x zoom: the man facing the
# camera (sunglasses, arms out), cut at the shins; 320 pixels from his hair (y 170) to his
# knees (y 490). The woman seen from behind on the left, her head (red hair) in WOMAN_HEAD.
MAN = {
    "nose": (463, 210), "right_shoulder": (415, 250), "left_shoulder": (512, 250),
    "right_elbow": (360, 290), "left_elbow": (575, 295), "right_wrist": (312, 330),
    "left_wrist": (625, 335), "right_hip": (430, 390), "left_hip": (485, 390),
}
MAN_SPAN = 320
WOMAN_HEAD = (150, 235, 215, 290)

# kphotoalbum's wayne.jpg turned upright (600x800), checked the same way on 3x to 7x zooms
# (brightened for the jeans): the man in front faces the camera, so his right side is on the
# photo's left. Eyes at the pupils, ears at their middle, shoulders at the shirt's seams, elbows
# and wrists where the sleeves end and at the wristband, hips 20 pixels below the belt at the
# middle of each thigh; the knees are not visible in the jeans: between hips and ankles, at their
# taper. Ankles at the trousers' hems over the shoes. From his hair (y 245) to his soles (y 775)
# he is 530 pixels. The man behind him at the table has his head in BEHIND_HEAD.
POOL = {
    "nose": (191, 296), "right_eye": (181, 284), "left_eye": (203, 283), "right_ear": (168, 295),
    "left_ear": (222, 297), "right_shoulder": (155, 355), "left_shoulder": (258, 352),
    "neck": (206.5, 353.5), "right_elbow": (143, 432), "left_elbow": (280, 425),
    "right_wrist": (138, 480), "left_wrist": (274, 462), "right_hip": (185, 512),
    "left_hip": (243, 512), "right_knee": (185, 620), "left_knee": (242, 615),
    "right_ankle": (200, 740), "left_ankle": (237, 692),
}
POOL_HEIGHT = 530
BEHIND_HEAD = (470, 265, 525, 340)


def _keypoints(path):
    with open(path) as f:
        doc = json.load(f)
    assert len(doc["people"]) == 1
    return np.reshape(doc["people"][0]["pose_keypoints_2d"], (18, 3))


def _errors(triples, truth, scale):
    """Each checked point's distance from the hand-checked position, in % of `scale`."""
    out = {}
    for name, (x, y) in truth.items():
        got = triples[KEYPOINT_NAMES.index(name)]
        assert got[2] > 0, f"{name} is missing"
        out[name] = 100 * math.hypot(got[0] - x, got[1] - y) / scale
    return out


def _inside(triples, name, box):
    x, y, c = triples[KEYPOINT_NAMES.index(name)]
    return c > 0 and box[0] <= x <= box[2] and box[1] <= y <= box[3]


def test_keypoints_of_a_standing_person(blazepose_files, darknet_person, tmp_path, capsys):
    out = tmp_path / "out" / "kp.json"
    assert main(["keypoints", darknet_person, "--out", str(out), "--draw"]) == 0
    assert "of 18 keypoints with BlazePose" in capsys.readouterr().out
    t = _keypoints(out)
    errors = _errors(t, PERSON, PERSON_HEIGHT)
    # Measured: 2.5 % at most (the right wrist), 1.4 % on average.
    assert max(errors.values()) < 5.0, errors
    assert np.mean(list(errors.values())) < 2.5, errors
    for name in FACE:  # turned away: only where the head is
        assert t[KEYPOINT_NAMES.index(name), 2] == 0 or _inside(t, name, HEAD), name
    assert (t[:, 2] > 0).sum() >= len(PERSON)
    drawn = np.asarray(Image.open(tmp_path / "out" / "kp.png"))
    assert drawn.shape == np.asarray(Image.open(darknet_person).convert("RGB")).shape


def test_transfer_from_a_full_body_photo_alone(blazepose_files, darknet_person, tmp_path,
                                               capsys):
    """No keypoint or parsing file: both poses estimated, a rough parsing, the demo model."""
    transfer_from_photo_alone(darknet_person, tmp_path, capsys)


def test_several_people_the_largest_first(blazepose_files, kphotoalbum_beach, tmp_path,
                                          capsys):
    """The man near the camera is the default; `--person 1` is the woman behind him."""
    default = tmp_path / "default.json"
    assert main(["keypoints", kphotoalbum_beach, "--out", str(default)]) == 0
    assert "(2 people found, the largest taken" in capsys.readouterr().out
    man = _keypoints(default)
    errors = _errors(man, MAN, MAN_SPAN)
    # Measured: 1.9 % of the span at most (the right elbow), 1.0 % on average.
    assert max(errors.values()) < 5.0, errors
    second = tmp_path / "second.json"
    assert main(["keypoints", kphotoalbum_beach, "--out", str(second), "--person", "1"]) == 0
    assert "(2 people found, person 1 taken" in capsys.readouterr().out
    woman = _keypoints(second)
    assert _inside(woman, "nose", WOMAN_HEAD)
    assert not _inside(man, "nose", WOMAN_HEAD)
    assert main(["keypoints", kphotoalbum_beach, "--out", str(tmp_path / "third.json"),
                 "--person", "2"]) == 2
    assert "--person 2 but 2 people were found" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["default.json", "second.json"]


def test_all_18_points_of_a_person_facing_the_camera(blazepose_files, kphotoalbum_pool, tmp_path,
                                                     capsys):
    upright = tmp_path / "pool.png"  # stored on its side; the album shows it turned 90 degrees
    Image.open(kphotoalbum_pool).transpose(Image.Transpose.ROTATE_270).save(upright)
    out = tmp_path / "front.json"
    assert main(["keypoints", str(upright), "--out", str(out)]) == 0
    assert "18 of 18 keypoints with BlazePose (2 people found, the largest taken" in \
        capsys.readouterr().out
    errors = _errors(_keypoints(out), POOL, POOL_HEIGHT)
    # Measured: 1.0 % on average; 2.1 % at most above the ankles, which both land about 20
    # pixels (3.8 and 4.0 %) above the hems.
    assert max(errors.values()) < 5.0, errors
    assert np.mean(list(errors.values())) < 2.0, errors
    behind = tmp_path / "behind.json"
    assert main(["keypoints", str(upright), "--out", str(behind), "--person", "1"]) == 0
    assert _inside(_keypoints(behind), "nose", BEHIND_HEAD)
