"""Readers for users' files: OpenPose / COCO-17 JSON, PATN CSV rows, photos, parsing PNGs."""

import json

import numpy as np
import pytest
from PIL import Image

from pinet_tf.config import KEYPOINT_NAMES
from pinet_tf.utils.drawing import colorize_parsing
from pinet_tf.inference import readers
from pinet_tf.inference.readers import COCO17_NAMES

K = {n: i for i, n in enumerate(KEYPOINT_NAMES)}


def _write_json(path, doc):
    path.write_text(json.dumps(doc))
    return str(path)


def _coco18_triples(rng):
    xyc = np.stack([rng.uniform(1, 40, 18), rng.uniform(1, 60, 18), rng.uniform(0.5, 1, 18)], 1)
    return xyc


def test_openpose_coco18_gives_y_x_and_drops_weak_points(tmp_path):
    xyc = _coco18_triples(np.random.default_rng(0))
    xyc[3, 2] = 0.05          # below the threshold
    xyc[7] = (0, 0, 0)        # OpenPose's "not detected"
    path = _write_json(tmp_path / "p.json", {"version": 1.3, "people": [
        {"pose_keypoints_2d": xyc.reshape(-1).tolist()}, {"pose_keypoints_2d": [0] * 54}]})
    kp = readers.read_keypoints(path, min_confidence=0.1)
    assert kp.shape == (18, 2) and kp.dtype == np.float32
    keep = np.ones(18, bool)
    keep[[3, 7]] = False
    np.testing.assert_allclose(kp[keep], xyc[keep][:, [1, 0]], rtol=1e-6)
    np.testing.assert_array_equal(kp[~keep], -1)
    # A lower threshold keeps the weak point but never the undetected one.
    kp0 = readers.read_keypoints(path, min_confidence=0.0)
    np.testing.assert_allclose(kp0[3], xyc[3, [1, 0]], rtol=1e-6)
    np.testing.assert_array_equal(kp0[7], -1)


def test_openpose_body25_uses_its_coco18_subset(tmp_path):
    rng = np.random.default_rng(1)
    body25 = np.concatenate([_coco18_triples(rng), _coco18_triples(rng)[:7]])
    # BODY_25 inserts mid-hip at 8: COCO-18 index >= 8 sits one later.
    path = _write_json(tmp_path / "b.json", {"people": [
        {"pose_keypoints_2d": body25.reshape(-1).tolist()}]})
    kp = readers.read_keypoints(path)
    np.testing.assert_allclose(kp[:8], body25[:8, [1, 0]], rtol=1e-6)
    np.testing.assert_allclose(kp[8:], body25[9:19, [1, 0]], rtol=1e-6)


def test_coco17_is_reordered_and_gets_a_neck(tmp_path):
    rng = np.random.default_rng(2)
    xyv = np.stack([rng.uniform(1, 40, 17), rng.uniform(1, 60, 17), np.full(17, 2.0)], 1)
    path = _write_json(tmp_path / "c.json", {"keypoints": xyv.reshape(-1).tolist()})
    kp = readers.read_keypoints(path)
    for i, name in enumerate(COCO17_NAMES):
        np.testing.assert_allclose(kp[K[name]], xyv[i, [1, 0]], rtol=1e-6)
    ls, rs = COCO17_NAMES.index("left_shoulder"), COCO17_NAMES.index("right_shoulder")
    np.testing.assert_allclose(kp[K["neck"]], (xyv[ls, [1, 0]] + xyv[rs, [1, 0]]) / 2, rtol=1e-6)

    # One shoulder unlabelled (v = 0): no neck, and that shoulder is missing too.
    xyv[ls] = (0, 0, 0)
    path = _write_json(tmp_path / "c2.json", {"annotations": [
        {"keypoints": [0] * 51, "num_keypoints": 0},
        {"keypoints": xyv.reshape(-1).tolist(), "num_keypoints": 16}]})
    kp = readers.read_keypoints(path)
    np.testing.assert_array_equal(kp[K["neck"]], -1)
    np.testing.assert_array_equal(kp[K["left_shoulder"]], -1)
    np.testing.assert_allclose(kp[K["nose"]], xyv[0, [1, 0]], rtol=1e-6)


def test_coco_results_list_takes_the_highest_scoring_person(tmp_path):
    a = np.tile([5.0, 6.0, 0.9], 17)
    b = np.tile([7.0, 8.0, 0.9], 17)
    path = _write_json(tmp_path / "r.json", [{"keypoints": a.tolist(), "score": 0.3},
                                             {"keypoints": b.tolist(), "score": 0.8}])
    kp = readers.read_keypoints(path)
    np.testing.assert_allclose(kp[K["nose"]], (8, 7))


def _patn_csv(path, rows):
    lines = ["name:keypoints_y:keypoints_x"]
    for name, kp in rows:
        lines.append(f"{name}: {[int(v) for v in kp[:, 0]]}: {[int(v) for v in kp[:, 1]]}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_patn_csv_row_by_name_and_single_row(tmp_path):
    kp1 = np.arange(36).reshape(18, 2).astype(np.float32)
    kp2 = kp1 + 1
    kp2[4] = -1
    path = _patn_csv(tmp_path / "ann.csv", [("a.jpg", kp1), ("b.jpg", kp2)])
    np.testing.assert_array_equal(readers.read_keypoints(path + "#b.jpg"), kp2)
    np.testing.assert_array_equal(readers.read_keypoints(path + "#a.jpg"), kp1)
    with pytest.raises(ValueError, match="2 rows"):
        readers.read_keypoints(path)
    with pytest.raises(ValueError, match="no row for 'c.jpg'"):
        readers.read_keypoints(path + "#c.jpg")
    one = _patn_csv(tmp_path / "one.csv", [("a.jpg", kp1)])
    np.testing.assert_array_equal(readers.read_keypoints(one), kp1)


@pytest.mark.parametrize("doc, message", [
    ({"people": [{"pose_keypoints_2d": [1.0] * 45}]}, "has 15 keypoints, expected 18"),
    ({"keypoints": [1.0] * 48}, "has 16 points, expected 17"),
    ({"people": [{"pose_keypoints_2d": [1.0] * 53}]}, "x, y, confidence triples"),
    ({"people": []}, "no person"),
    ({"something": 1}, "not a keypoint file"),
])
def test_keypoint_errors_name_the_file(tmp_path, doc, message):
    path = _write_json(tmp_path / "bad.json", doc)
    with pytest.raises(ValueError, match=message) as e:
        readers.read_keypoints(path)
    assert "bad.json" in str(e.value)


def test_all_keypoints_missing_is_an_error(tmp_path):
    weak = np.tile([10.0, 10.0, 0.05], 18)
    path = _write_json(tmp_path / "weak.json", {"people": [{"pose_keypoints_2d": weak.tolist()}]})
    with pytest.raises(ValueError, match="weak.json: all 18 keypoints are missing"):
        readers.read_keypoints(path, min_confidence=0.1)
    (tmp_path / "half.json").write_text("{\"people\": [")
    with pytest.raises(ValueError, match="half.json: not valid JSON"):
        readers.read_keypoints(str(tmp_path / "half.json"))
    with pytest.raises(FileNotFoundError, match="nope.json"):
        readers.read_keypoints(str(tmp_path / "nope.json"))


def test_keypoints_outside_the_photo_are_refused():
    kp = np.full((18, 2), -1.0, np.float32)
    kp[0] = (10, 50)
    with pytest.raises(ValueError, match=r"k.json: keypoints \['nose'\] lie outside the 64x44"):
        readers.check_keypoints_in_image(kp, 64, 44, "k.json")


def test_read_image_converts_and_names_bad_files(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    Image.fromarray(grey).save(tmp_path / "g.png")
    rgb = readers.read_image(tmp_path / "g.png")
    assert rgb.shape == (4, 5, 3)
    np.testing.assert_array_equal(rgb[..., 1], grey)
    (tmp_path / "broken.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="broken.jpg: cannot read image"):
        readers.read_image(tmp_path / "broken.jpg")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        readers.read_image(tmp_path / "missing.png")


def test_read_parsing_label_palette_and_colour_pngs(tmp_path):
    labels = (np.arange(48).reshape(6, 8) % 12).astype(np.uint8)
    Image.fromarray(labels).save(tmp_path / "l.png")
    pal = Image.fromarray(labels, "P")
    pal.putpalette([7] * 768)
    pal.save(tmp_path / "p.png")
    Image.fromarray(colorize_parsing(labels)).save(tmp_path / "c.png")
    for name in ("l.png", "p.png", "c.png"):
        out = readers.read_parsing(tmp_path / name, size=(6, 8))
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, labels, err_msg=name)


def test_read_parsing_errors(tmp_path):
    Image.fromarray(np.full((6, 8), 15, np.uint8)).save(tmp_path / "cihp.png")
    with pytest.raises(ValueError, match="cihp.png: label 15 is not a PINet class"):
        readers.read_parsing(tmp_path / "cihp.png")
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="small.png: parsing is 6x8 but the image photo.jpg "
                                         "is 12x16"):
        readers.read_parsing(tmp_path / "small.png", size=(12, 16), image_path="photo.jpg")
    Image.fromarray(np.full((6, 8, 3), (1, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="rgb.png: RGB parsing with colours outside"):
        readers.read_parsing(tmp_path / "rgb.png")


@pytest.mark.parametrize("label_set, torso", [("cihp", 5), ("lip", 3)])
def test_read_parsing_maps_cihp_and_lip_labels(tmp_path, label_set, torso):
    # 0 background, 2 hair, 5 upper-clothes, 9 pants, 10 torso-skin (CIHP) / jumpsuits (LIP),
    # 14 left-arm, 19 right-shoe.
    src = np.array([[0, 2, 5, 9], [10, 14, 19, 0]], np.uint8)
    Image.fromarray(src).save(tmp_path / "parser.png")
    out = readers.read_parsing(tmp_path / "parser.png", labels=label_set)
    np.testing.assert_array_equal(out, [[0, 1, 2, 4], [torso, 8, 10, 0]])
    Image.fromarray(np.full((2, 4), 20, np.uint8)).save(tmp_path / "bad20.png")
    with pytest.raises(ValueError, match="bad20.png: label 20 outside 0..19"):
        readers.read_parsing(tmp_path / "bad20.png", labels=label_set)


def test_atr_parser_output_is_mapped(tmp_path):
    """SCHP's ATR model (18 labels): each label to the class of the same name, belt -> pants,
    bag -> background, and ids past 17 refused."""
    from pinet_tf.config import CLASS_NAMES
    from pinet_tf.inference.readers import read_parsing

    path = tmp_path / "atr.png"
    Image.fromarray(np.arange(18, dtype=np.uint8).reshape(3, 6)).save(path)
    got = [CLASS_NAMES[c] for c in read_parsing(str(path), "atr").ravel()]
    assert got == ["background", "hat", "hair", "face", "upper-clothes", "skirt", "pants",
                   "dress", "pants", "shoes", "shoes", "face", "legs", "legs", "hands",
                   "hands", "background", "upper-clothes"]
    Image.fromarray(np.full((3, 6), 18, np.uint8)).save(path)
    with pytest.raises(ValueError, match="atr.png: label 18 outside 0..17"):
        read_parsing(str(path), "atr")
