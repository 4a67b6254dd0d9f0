"""Bad-input corpus of the inference verbs (issue 15): `pinet-tf transfer` and `pinet-tf texture`
exit 2 with one line naming the problem and the file, no traceback, and write nothing."""

import json
import logging
import os
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.datasets import synthetic
from tests import bad_files
from tests.inference.people import write_person


def _keypoints(doc):
    def make(files):
        path = pathlib.Path(files["source"]["keypoints"])
        if isinstance(doc, bytes):
            path.write_bytes(doc)
        else:
            path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return str(path)
    return make


def _image(make_bad):
    def make(files):
        path = files["source"]["image"]
        make_bad(pathlib.Path(path))
        return path
    return make


def _parsing(array):
    def make(files):
        path = files["source"]["parsing"]
        Image.fromarray(array).save(path)
        return path
    return make


def _folder(key):
    def make(files):
        path = files["source"][key]
        os.remove(path)
        os.mkdir(path)
        return path
    return make


def _two_people_person_5(files):
    path = files["source"]["keypoints"]
    doc = json.load(open(path))
    doc["people"] = doc["people"] * 2
    json.dump(doc, open(path, "w"))
    files["extra"] = ["--person", "5"]
    return path


_NAN = '{"people": [{"pose_keypoints_2d": [10, 10, 1, NaN' + ", 1" * 50 + "]}]}"

TRANSFER_CASES = [
    ("bomb photo", _image(bad_files.bomb_png), "too large to decode safely"),
    ("truncated photo", _image(lambda p: bad_files.truncated_png(p, np.zeros((50, 40, 3),
                                                                              np.uint8))),
     "cannot read image"),
    ("photo is a folder", _folder("image"), "is a folder, expected the image"),
    ("nan keypoint", _keypoints(_NAN), "NaN is not a finite number"),
    ("people is a number", _keypoints({"people": 3}), "OpenPose JSON has no person"),
    ("deep json", _keypoints(bad_files.deep_json()), "nested too deeply"),
    ("binary keypoints", _keypoints(b"\xff\xfe\x00{"), "not a text file"),
    ("keypoints are a folder", _folder("keypoints"), "is a folder, expected the keypoint file"),
    ("person out of range", _two_people_person_5, "--person 5 but the file holds 2 people"),
    ("parsing size", _parsing(np.zeros((10, 10), np.uint8)), "parsing is 10x10 but the image"),
    ("parsing colours", _parsing(np.full((50, 40, 3), (1, 2, 3), np.uint8)),
     "colours outside the PINet palette"),
    ("parsing label", _parsing(np.full((50, 40), 15, np.uint8)), "label 15 is not a PINet class"),
]


@pytest.fixture
def files(tmp_path):
    source, _ = write_person(tmp_path, "source", 50, 40, seed=1)
    target, _ = write_person(tmp_path, "target", 50, 40, seed=1, shift=0.08)
    return {"source": source, "target": target, "dir": tmp_path, "extra": []}


def _one_error_line(err, verb):
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"pinet-tf {verb}: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("make, message", [c[1:] for c in TRANSFER_CASES],
                         ids=[c[0] for c in TRANSFER_CASES])
def test_transfer_refuses_bad_input(files, tiny_weights, capsys, make, message):
    path = make(files)
    out = str(files["dir"] / "out" / "result.png")
    s, t = files["source"], files["target"]
    rc = main(["transfer", "--model", tiny_weights, "--source", s["image"],
               "--source-keypoints", s["keypoints"], "--source-parsing", s["parsing"],
               "--target-keypoints", t["keypoints"], "--out", out, "--grid"] + files["extra"])
    assert rc == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert message in line and path in line, line
    assert not os.path.exists(os.path.dirname(out))


TEXTURE_CASES = [
    ("condition bomb", "--condition", lambda p: bad_files.bomb_png(p), "too large to decode"),
    ("condition parsing is a folder", "--condition-parsing", lambda p: (os.remove(p), os.mkdir(p)),
     "is a folder, expected the parsing"),
    ("condition parsing colour", "--condition-parsing",
     lambda p: Image.fromarray(np.full((50, 40, 3), (9, 8, 7), np.uint8)).save(p),
     "colours outside"),
    ("source keypoints inf", "--source-keypoints",
     lambda p: p.write_text('{"keypoints": [1e999' + ", 1" * 50 + "]}"), "1e999 is not a finite"),
]


@pytest.mark.parametrize("flag, make, message", [c[1:] for c in TEXTURE_CASES],
                         ids=[c[0] for c in TEXTURE_CASES])
def test_texture_refuses_bad_input(files, tiny_weights, capsys, flag, make, message):
    s, t = files["source"], files["target"]
    paths = {"--source": s["image"], "--source-keypoints": s["keypoints"],
             "--source-parsing": s["parsing"], "--condition": t["image"],
             "--condition-parsing": t["parsing"]}
    make(pathlib.Path(paths[flag]))
    out = str(files["dir"] / "out" / "dressed.png")
    argv = ["texture", "--model", tiny_weights, "--regions", "upper-clothes", "--out", out]
    for k, v in paths.items():
        argv += [k, v]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err, "texture")
    assert message in line and paths[flag] in line, line
    assert not os.path.exists(os.path.dirname(out))


def test_out_below_a_file_is_a_sentence(files, tiny_weights, capsys):
    (files["dir"] / "file").write_text("x")
    out = str(files["dir"] / "file" / "result.png")
    s, t = files["source"], files["target"]
    assert main(["transfer", "--model", tiny_weights, "--source", s["image"],
                 "--source-keypoints", s["keypoints"], "--source-parsing", s["parsing"],
                 "--target-keypoints", t["keypoints"], "--out", out]) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert f"{out}: cannot write the picture: " in line and "is a file, not a folder" in line, line


def test_texture_unknown_region(files, tiny_weights, capsys):
    s, t = files["source"], files["target"]
    assert main(["texture", "--model", tiny_weights, "--source", s["image"],
                 "--source-keypoints", s["keypoints"], "--source-parsing", s["parsing"],
                 "--condition", t["image"], "--condition-parsing", t["parsing"],
                 "--regions", "shirt", "--out", str(files["dir"] / "x.png")]) == 2
    assert "unknown region 'shirt'" in _one_error_line(capsys.readouterr().err, "texture")


def test_several_people_warn_once_naming_the_file_and_the_flag(files, tiny_weights, caplog):
    path = files["target"]["keypoints"]
    doc = json.load(open(path))
    doc["people"] = doc["people"] * 3
    json.dump(doc, open(path, "w"))
    s = files["source"]
    out = str(files["dir"] / "r.png")
    with caplog.at_level(logging.WARNING, logger="pinet_tf.readers"):
        assert main(["transfer", "--model", tiny_weights, "--source", s["image"],
                     "--source-keypoints", s["keypoints"], "--source-parsing", s["parsing"],
                     "--target-keypoints", path, "--out", out]) == 0
    assert [r.getMessage() for r in caplog.records if r.name == "pinet_tf.readers"] == [
        f"{path}: 3 people in the file; using person 0 (the first); choose another with "
        f"--target-person N (0..2)"]
    assert os.path.isfile(out)


def test_batch_transfer_writes_nothing_when_a_pair_fails(tmp_path, tiny_weights, capsys):
    data = str(tmp_path / "data")
    synthetic.write_dataset(data, 4, 3, (64, 44), seed=1, test_fraction=0.25)
    names = sorted(os.listdir(os.path.join(data, "test")))
    bad = os.path.join(data, "test", names[-1])           # read by the last pairs only
    bad_files.truncated_png(pathlib.Path(bad), np.zeros((64, 44, 3), np.uint8))
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    (out_dir / "mine.txt").write_text("keep")
    assert main(["transfer", "--model", tiny_weights, "--data", data, "--out-dir", str(out_dir),
                 "--batch-size", "2"]) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert bad in line and "cannot read image" in line, line
    assert os.listdir(out_dir) == ["mine.txt"]
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []
    shutil.rmtree(data)
