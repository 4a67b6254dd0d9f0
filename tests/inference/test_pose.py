"""BlazePose keypoints (`pinet-tf keypoints`): the pre/post-processing against hand-computed
values, and the real models (from the MediaPipe wheel, tests/fixtures_blazepose.py) on a real
public-domain photo, scikit-image's astronaut (NASA portrait of Eileen Collins, upper body)."""

import json
import math
import os

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.config import KEYPOINT_NAMES
from pinet_tf.inference.pose import blazepose as bp
from pinet_tf.inference.pose.coco18 import BLAZEPOSE_INDEX, to_coco18
from pinet_tf.utils.keypoint_files import read_keypoints
from tests.fixtures_blazepose import transfer_from_photo_alone

# Hand-checked on the 512x512 picture (zoomed crops): (x, y) pixels of the visible points.
ASTRONAUT = {
    "nose": (222, 126), "right_eye": (202, 100), "left_eye": (247, 104),
    "right_ear": (176, 122), "left_ear": (274, 128), "right_shoulder": (102, 225),
    "left_shoulder": (305, 238), "neck": (203, 231), "right_elbow": (60, 365),
    "left_elbow": (320, 380),
}
# Below the picture's bottom edge: must be missing, not guessed.
ASTRONAUT_OUTSIDE = ("right_hip", "left_hip", "right_knee", "left_knee", "right_ankle",
                     "left_ankle")


def test_anchors_follow_the_ssd_layout():
    a = bp.ssd_anchors()
    assert a.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6, the detector's row count
    np.testing.assert_allclose(a[0], a[1])
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])  # the stride-16 grid starts
    np.testing.assert_allclose(a[-6:], np.tile([[6.5 / 7, 6.5 / 7]], (6, 1)))


def test_weighted_nms_merges_overlaps_by_score():
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    kps = np.stack([np.full((4, 2), v, np.float32) for v in (0.0, 10.0, 7.0)])
    out = bp.weighted_nms(scores, boxes, kps)
    assert len(out) == 2
    score, box, kp = out[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [0.9 / 1.5, 0, 10 + 0.9 / 1.5, 10], rtol=1e-6)
    np.testing.assert_allclose(kp, np.full((4, 2), 6.0), rtol=1e-6)
    np.testing.assert_allclose(out[1][1], boxes[2])


@pytest.mark.parametrize("head, rotation", [((100, 40), 0.0), ((160, 100), math.pi / 2),
                                            ((40, 100), -math.pi / 2), ((100, 160), -math.pi)])
def test_roi_turns_the_body_upright(head, rotation):
    det = bp.Detection(0.9, np.zeros(4), np.array([[100, 100], head, [0, 0], [0, 0]], float))
    roi = bp.Roi.from_detection(det)
    assert abs((roi.rotation - rotation + math.pi) % (2 * math.pi) - math.pi) < 1e-9
    assert roi.size == pytest.approx(2 * 60 * bp.ROI_SCALE)
    # The crop's top centre is the head direction; its centre is the hips.
    x, y = roi.crop_to_photo(0.5, 0.5 - 60 / roi.size)
    np.testing.assert_allclose([x, y], head, atol=1e-9)
    # The crop's upper half (the head's side) maps back onto the photo there, at any scale.
    crop_mask = np.zeros((256, 256), np.float32)
    crop_mask[:128] = 1.0
    pose = bp.Pose(None, None, None, 1.0, crop_mask, roi, det)
    for scale in (1.0, 0.5):
        m = pose.mask(round(200 * scale), round(220 * scale), 200, 220)
        at = lambda y, x: m[round(y * scale), round(x * scale)]  # noqa: E731
        head_y, head_x = head[1], head[0]
        assert at(head_y, head_x) == 1.0
        assert at(200 - head_y, 200 - head_x) == 0.0        # the feet's side
        # The crop's half side is 75 pixels: 72 along the body axis is inside, 84 outside.
        assert at(100 + 1.2 * (head_y - 100), 100 + 1.2 * (head_x - 100)) == 1.0
        assert at(100 + 1.4 * (head_y - 100), 100 + 1.4 * (head_x - 100)) == 0.0


def test_pose_area_is_the_photo_area_under_its_mask():
    """Pose.area, by which people are ranked: the photo pixels under the person mask, at any
    photo size and tilt, only inside the photo."""
    full = np.ones((256, 256), np.float32)
    half = full.copy()
    half[:, 128:] = 0.0
    det = bp.Detection(0.9, np.zeros(4), np.zeros((4, 2)))
    for rotation in (0.0, math.pi / 4):
        roi = bp.Roi(200.0, 150.0, 100.0, rotation)     # a 100-pixel square inside the photo
        whole, left = (bp.Pose(None, None, None, 1.0, m, roi, det) for m in (full, half))
        assert whole.area(300, 400) == pytest.approx(100 * 100, rel=1e-6)
        assert left.area(300, 400) == pytest.approx(50 * 100, rel=1e-6)
        assert whole.area(3000, 4000) == pytest.approx(100 * 100, rel=1e-6)  # any photo size
    edge = bp.Pose(None, None, None, 1.0, full, bp.Roi(0.0, 0.0, 100.0, 0.0), det)
    assert edge.area(300, 400) == pytest.approx(50 * 50, rel=1e-6)  # a quarter in the photo


def test_coco18_mapping_neck_and_missing_points():
    xy = np.stack([np.arange(33) * 3.0, np.arange(33) * 2.0], -1)
    vis = np.ones(33)
    vis[14] = 0.2              # right elbow hardly visible
    xy[27] = (500, 10)         # left ankle outside a 100-wide photo
    t = to_coco18(xy, vis, 100, 120)
    k = KEYPOINT_NAMES.index
    np.testing.assert_allclose(t[k("nose")], [0, 0, 1])
    np.testing.assert_allclose(t[k("left_wrist")], [45, 30, 1])
    np.testing.assert_allclose(t[k("neck")], [(33 + 36) / 2, (22 + 24) / 2, 1])
    np.testing.assert_allclose(t[k("right_elbow")], 0)
    np.testing.assert_allclose(t[k("left_ankle")], 0)
    assert sorted(i for i in BLAZEPOSE_INDEX.values() if i is not None) == sorted(
        {0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28})


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    skimage_data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).save(path)
    return str(path)


def test_keypoints_of_the_astronaut(blazepose_files, astronaut, tmp_path, capsys):
    out = tmp_path / "out" / "kp.json"
    assert main(["keypoints", astronaut, "--out", str(out), "--draw"]) == 0
    assert "of 18 keypoints with BlazePose" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    t = np.reshape(doc["people"][0]["pose_keypoints_2d"], (18, 3))
    tolerance = 0.05 * 512  # 5 % of the (upper-body) person's height in the picture
    for name, (x, y) in ASTRONAUT.items():
        got = t[KEYPOINT_NAMES.index(name)]
        assert got[2] > 0.5, name
        assert math.hypot(got[0] - x, got[1] - y) < tolerance, (name, got, (x, y))
    assert (t[:, 2] > 0).sum() >= len(ASTRONAUT)
    for name in ASTRONAUT_OUTSIDE:
        assert tuple(t[KEYPOINT_NAMES.index(name)]) == (0, 0, 0), name
    # Every verb reads it back, as (y, x) with -1 for the missing points.
    kp = read_keypoints(str(out))
    np.testing.assert_allclose(kp[0], t[0, [1, 0]], atol=1e-5)
    assert (kp[KEYPOINT_NAMES.index("left_hip")] == -1).all()
    drawn = np.asarray(Image.open(tmp_path / "out" / "kp.png"))
    photo = np.asarray(Image.open(astronaut))
    assert drawn.shape == photo.shape and (drawn != photo).any()


def _bad_photos(folder):
    grey = folder / "wall.png"
    Image.fromarray(np.full((240, 200, 3), 128, np.uint8)).save(grey)
    tiny = folder / "tiny.png"
    Image.fromarray(np.zeros((20, 300, 3), np.uint8)).save(tiny)
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    huge = folder / "huge.png"
    Image.new("L", (8000, 6000)).save(huge)
    cup = folder / "coffee.png"  # a real photo without a person (scikit-image's coffee cup)
    Image.fromarray(pytest.importorskip("skimage.data").coffee()).save(cup)
    return {"no person found": grey, "too small": tiny, "corrupt": corrupt,
            "48 megapixels": huge, "no person found in": cup}


def test_bad_photos_get_one_line_and_nothing_is_written(blazepose_files, tmp_path, capsys):
    for why, photo in _bad_photos(tmp_path).items():
        out = tmp_path / "out" / f"{photo.stem}.json"
        assert main(["keypoints", str(photo), "--out", str(out), "--draw"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(photo) in err[0] and why in err[0], err
        assert not (tmp_path / "out").exists()


def test_several_photos_write_the_good_ones(blazepose_files, astronaut, tmp_path, capsys):
    bad = _bad_photos(tmp_path)
    out = tmp_path / "kps"
    photos = [astronaut, str(bad["no person found"]), str(bad["corrupt"])]
    assert main(["keypoints", *photos, "--out", str(out)]) == 1
    assert sorted(os.listdir(out)) == ["astronaut_keypoints.json"]
    err = capsys.readouterr().err
    assert str(bad["no person found"]) in err and str(bad["corrupt"]) in err


def test_person_out_of_range_and_out_equal_to_photo(blazepose_files, astronaut, tmp_path,
                                                     capsys):
    assert main(["keypoints", astronaut, "--out", str(tmp_path / "k.json"),
                 "--person", "1"]) == 2
    assert "--person 1 but 1 person was found" in capsys.readouterr().err
    photo = tmp_path / "me.png"
    photo.write_bytes(open(astronaut, "rb").read())
    assert main(["keypoints", str(photo), "--out", str(tmp_path / "me.json"), "--draw"]) == 2
    assert "is one of the photos" in capsys.readouterr().err
    assert not (tmp_path / "me.json").exists()


def test_missing_model_files_say_where_they_were_looked_for(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("PINET_TF_WEIGHTS_DIR", raising=False)
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((64, 64, 3), 9, np.uint8)).save(photo)
    from pinet_tf.inference.pose import estimate
    monkeypatch.setattr(estimate, "_MODEL", {})
    assert main(["keypoints", str(photo), "--out", str(tmp_path / "p.json"),
                 "--no-download"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    for part in ("pose_detection.tflite", "https://", "$PINET_TF_WEIGHTS_DIR",
                 str(tmp_path / "keras" / "models"), "mediapipe package"):
        assert part in err, part


def test_rough_parsing_follows_the_pose():
    from pinet_tf.config import CLASS_NAMES
    from pinet_tf.inference.pose.rough_parsing import rough_parsing

    # A standing person in a 200x100 photo, (y, x): head at the top, feet at the bottom.
    pts = {"nose": (20, 50), "right_eye": (16, 46), "left_eye": (16, 54), "neck": (40, 50),
           "right_shoulder": (40, 35), "left_shoulder": (40, 65), "right_elbow": (70, 30),
           "left_elbow": (70, 70), "right_wrist": (95, 28), "left_wrist": (95, 72),
           "right_hip": (105, 42), "left_hip": (105, 58), "right_knee": (145, 42),
           "left_knee": (145, 58), "right_ankle": (185, 42), "left_ankle": (185, 58)}
    kp = np.full((18, 2), -1.0, np.float32)
    for name, yx in pts.items():
        kp[KEYPOINT_NAMES.index(name)] = yx
    par = rough_parsing(kp, 200, 100)
    at = lambda y, x: CLASS_NAMES[par[y, x]]  # noqa: E731
    assert par.shape == (200, 100) and par.dtype == np.uint8
    assert at(70, 50) == "upper-clothes" and at(20, 50) == "face" and at(5, 50) == "hair"
    assert at(90, 29) == "hands" and at(125, 42) == "pants" and at(170, 58) == "legs"
    assert at(195, 42) == "shoes" and at(100, 5) == "background" and at(190, 95) == "background"
    # A person mask decides which pixels are the person.
    mask = np.zeros((200, 100), np.float32)
    mask[:, :50] = 1.0
    masked = rough_parsing(kp, 200, 100, mask)
    assert masked[70, 70] == 0 and masked[70, 40] == par[70, 40]


def test_transfer_from_two_photos_alone(blazepose_files, astronaut, tmp_path, capsys):
    """No keypoint or parsing file: both poses estimated, a rough parsing, the demo model."""
    err = transfer_from_photo_alone(astronaut, tmp_path, capsys)
    assert "--source-parsing FILE --parsing-labels" in err


def test_texture_from_two_photos_alone(blazepose_files, astronaut, tmp_path, capsys):
    """texture with neither keypoints nor parsings: only the rough upper-clothes change."""
    other = tmp_path / "other.png"
    photo = np.asarray(Image.open(astronaut))
    Image.fromarray(np.ascontiguousarray(photo[:, ::-1])).save(other)
    out = tmp_path / "t.png"
    assert main(["texture", "--source", astronaut, "--condition", str(other),
                 "--regions", "upper-clothes", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no --source-parsing given" in err and "no --condition-parsing given" in err
    result = np.asarray(Image.open(out))
    assert result.shape == photo.shape
    changed = (result != photo).any(-1)
    assert 0.05 < changed.mean() < 0.6          # the suit, not the whole picture
    assert not changed[:60].any()               # the top of the head and the sky stay
