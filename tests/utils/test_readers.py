"""The shared readers of users' files: every format, and one clear error per kind of bad file."""

import json
import logging

import numpy as np
import pytest
from PIL import Image

from pinet_tf.config import KEYPOINT_NAMES
from pinet_tf.utils import keypoint_files, readers
from pinet_tf.utils.drawing import PARSING_PALETTE, colorize_parsing
from tests import bad_files


def _kp(rng=None):
    rng = rng or np.random.default_rng(0)
    return np.stack([rng.uniform(1, 60, 18), rng.uniform(1, 40, 18)], 1).astype(np.float32)


def _csv(path, rows):
    lines = ["name:keypoints_y:keypoints_x"]
    for name, kp in rows:
        lines.append(f"{name}: {json.dumps(kp[:, 0].tolist())}: {json.dumps(kp[:, 1].tolist())}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_every_keypoint_format_gives_the_same_points(tmp_path):
    kp = np.round(_kp(), 1)
    kp[4] = -1
    xyc = np.concatenate([kp[:, [1, 0]], np.where(kp[:, :1] < 0, 0.0, 1.0)], 1)
    xyc[4] = 0
    files = {
        "openpose.json": json.dumps(bad_files.openpose(xyc.reshape(-1).tolist())),
        "coco18.json": json.dumps({"keypoints": xyc.reshape(-1).tolist()}),
        "pairs.json": json.dumps(kp.tolist()),
        "dict_pairs.json": json.dumps({"keypoints": kp.tolist()}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    np.save(tmp_path / "points.npy", kp)
    specs = [str(tmp_path / n) for n in files] + [str(tmp_path / "points.npy"),
                                                   _csv(tmp_path / "a.csv", [("x.jpg", kp)])]
    for spec in specs:
        np.testing.assert_allclose(keypoint_files.read_keypoints(spec), kp, atol=1e-5,
                                   err_msg=spec)


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


_ROW = "name:keypoints_y:keypoints_x\na.jpg: [{ys}]: [{xs}]\n"
_NUMS = ", ".join(["5"] * 18)
_NAN_KP = np.ones((18, 2), np.float32)
_NAN_KP[3, 1] = np.nan

# (file name, content, message it must raise): NaN / inf at every format, then the rest.
BAD_KEYPOINTS = [
    ("nan.json", '{"people": [{"pose_keypoints_2d": [1, 2, NaN' + ", 1" * 51 + "]}]}",
     r"nan.json:1: NaN is not a finite number"),
    ("inf.json", '{"keypoints":\n [1, 2, 1, Infinity' + ", 1" * 47 + "]}",
     r"inf.json:2: Infinity is not a finite number"),
    ("big.json", "[" + ", ".join(["[1e999, 2]"] + ["[1, 2]"] * 17) + "]",
     r"big.json:1: 1e999 is not a finite number"),
    ("nan.npy", _NAN_KP, r"nan.npy: keypoint 3 \(right_elbow\) is \[1.0, nan\]: not finite"),
    ("nan.csv", _ROW.format(ys=_NUMS, xs=", ".join(["5"] * 17 + ["NaN"])),
     r"nan.csv:2: NaN is not a finite number"),
    ("people_number.json", {"people": 5}, r"people_number.json: OpenPose JSON has no person"),
    ("person_number.json", {"people": [7]}, r"person_number.json: people\[0\] must be an object"),
    ("deep.json", bad_files.deep_json(), r"deep.json: JSON nested too deeply"),
    ("binary.json", b"\x89\xff\xfe\x00binary", r"binary.json:1: not a text file"),
    ("binary.csv", b"name:keypoints_y:keypoints_x\n\xff\xfe", r"binary.csv:2: not a text file"),
    ("half.json", '{"people": [', r"half.json: not valid JSON \(line 1"),
    ("strings.json", {"keypoints": ["a"] * 51}, r"strings.json: keypoints must be a flat list"),
    ("shape.npy", np.zeros((17, 2)), r"shape.npy: keypoints have shape \(17, 2\)"),
    ("pickle.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
     + b" " * 50 + b"\n", r"pickle.npy: not a readable .npy array"),
]


@pytest.mark.parametrize("name, content, message", BAD_KEYPOINTS,
                         ids=[b[0] for b in BAD_KEYPOINTS])
def test_bad_keypoint_files_are_one_clear_error(tmp_path, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(ValueError, match=message) as e:
        keypoint_files.read_keypoints(path)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


def test_folder_and_missing_file_are_said_as_such(tmp_path):
    with pytest.raises(IsADirectoryError, match=rf"{tmp_path}: is a folder, expected the "
                                                r"keypoint file"):
        keypoint_files.read_keypoints(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="keypoint file not found: .*nope.json"):
        keypoint_files.read_keypoints(str(tmp_path / "nope.json"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"f: is a file, expected the data directory"):
        readers.check_dir(str(tmp_path / "f"), "data directory")
    with pytest.raises(PermissionError, match=r"x.png: cannot read the image: permission denied"):
        raise readers.os_error(tmp_path / "x.png", PermissionError(13, "Permission denied"),
                               "image")


def test_annotation_csv_refuses_conflicting_duplicates_naming_both_lines(tmp_path):
    kp, other = _kp(), _kp(np.random.default_rng(1))
    same = _csv(tmp_path / "same.csv", [("a.jpg", kp), ("b.jpg", other), ("a.jpg", kp)])
    assert sorted(keypoint_files.read_annotations(same)) == ["a.jpg", "b.jpg"]
    assert keypoint_files.read_annotations(same)["a.jpg"].line == 2
    path = _csv(tmp_path / "dup.csv", [("a.jpg", kp), ("b.jpg", other), ("a.jpg", other)])
    with pytest.raises(ValueError, match=r"dup.csv:4: a.jpg is annotated twice with different "
                                         r"keypoints \(lines 2 and 4\)"):
        keypoint_files.read_annotations(path)


def test_several_people_warn_and_person_chooses(tmp_path, caplog):
    a, b = [10.0, 20.0, 0.9] * 18, [30.0, 40.0, 0.9] * 18
    path = _write(tmp_path, "two.json", {"people": [{"pose_keypoints_2d": a},
                                                    {"pose_keypoints_2d": b}]})
    with caplog.at_level(logging.WARNING, logger="pinet_tf.readers"):
        kp = keypoint_files.read_keypoints(path, choose_with="--target-person")
    np.testing.assert_array_equal(kp[0], [20, 10])
    assert "two.json: 2 people in the file; using person 0" in caplog.text
    assert "--target-person N (0..1)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pinet_tf.readers"):
        np.testing.assert_array_equal(keypoint_files.read_keypoints(path, person=1)[0], [40, 30])
    assert caplog.text == ""
    with pytest.raises(ValueError, match=r"two.json: --person 2 but the file holds 2 people"):
        keypoint_files.read_keypoints(path, person=2)


BAD_IMAGES = [
    ("bomb.png", lambda p: bad_files.bomb_png(p), r"bomb.png: the image is too large to decode "
                                                  r"safely \(Image size \(900000000 pixels\)"),
    ("half.png", lambda p: bad_files.truncated_png(p, np.full((64, 64, 3), 7, np.uint8)),
     r"half.png: cannot read image \(corrupt"),
    ("text.png", lambda p: p.write_text("hello"), r"text.png: cannot read image \(not an image"),
    ("empty.png", lambda p: p.write_bytes(b""), r"empty.png: cannot read image"),
]


@pytest.mark.parametrize("name, make, message", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_images_are_one_clear_error(tmp_path, name, make, message):
    make(tmp_path / name)
    for read in (readers.read_image, readers.read_label_map):
        with pytest.raises(ValueError) as e:
            read(tmp_path / name)
        assert name in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match=message):
        readers.read_image(tmp_path / name)


def test_one_label_map_policy(tmp_path):
    labels = (np.arange(48).reshape(6, 8) % 12).astype(np.uint8)
    Image.fromarray(labels).save(tmp_path / "l.png")
    pal = Image.fromarray(labels, "P")
    pal.putpalette([7] * 768)                 # palette colours are ignored: the ids count
    pal.save(tmp_path / "p.png")
    Image.fromarray(np.repeat(labels[..., None], 3, -1)).save(tmp_path / "grey_rgb.png")
    Image.fromarray(colorize_parsing(labels)).save(tmp_path / "colour.png")
    Image.fromarray(labels.astype(np.uint16) * 1).save(tmp_path / "i16.png")
    for name in ("l.png", "p.png", "grey_rgb.png", "i16.png"):
        np.testing.assert_array_equal(readers.read_label_map(tmp_path / name), labels, name)
    np.testing.assert_array_equal(
        readers.read_label_map(tmp_path / "colour.png", palette=PARSING_PALETTE), labels)
    with pytest.raises(ValueError, match="colour.png: the parsing map is a colour picture"):
        readers.read_label_map(tmp_path / "colour.png")


def test_keypoint_names_table_is_coco18():
    assert len(KEYPOINT_NAMES) == 18 and keypoint_files.COCO17_NAMES[0] == "nose"


def test_client_reads_every_format_transfer_reads(tmp_path, capsys):
    """`pinet-tf client` reads its files with the same readers: an OpenPose file and a colour
    parsing picture are accepted (it gets as far as the server), a bad file is refused first."""
    pytest.importorskip("grpc")
    from pinet_tf.cli import main

    image = np.full((64, 44, 3), 200, np.uint8)
    Image.fromarray(image).save(tmp_path / "s.png")
    Image.fromarray(colorize_parsing(np.ones((64, 44), np.uint8))).save(tmp_path / "p.png")
    kp = _write(tmp_path, "k.json", bad_files.openpose())
    argv = ["client", "--server", "127.0.0.1:9", "--timeout", "2", "--source",
            str(tmp_path / "s.png"), "--source-parsing", str(tmp_path / "p.png"),
            "--target-keypoints", kp, "--out", str(tmp_path / "o.png")]
    assert main(argv + ["--source-keypoints", kp]) == 2
    err = capsys.readouterr().err
    assert "server 127.0.0.1:9" in err and "keypoint" not in err, err
    bad = _write(tmp_path, "bad.json", '{"people": 5}')
    assert main(argv + ["--source-keypoints", bad]) == 2
    assert "bad.json: OpenPose JSON has no person" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
