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


def _npy(files, make):
    path = files["dir"] / "keypoints.npy"
    make(path)
    files["source"]["keypoints"] = str(path)
    return str(path)


def _negative_parsing(path):
    labels = np.full((50, 40), 1, np.int32)
    labels[3, 4] = -3
    Image.fromarray(labels).save(path, format="TIFF")  # mode I holds negative labels
    return path


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
    # issue 29
    ("npy declaring 2e12 values (class 3)", lambda f: _npy(f, bad_files.huge_npy),
     "keypoints have shape (2000000, 1000000)"),
    ("144 Mpx photo header (class 3)", _image(lambda p: bad_files.bomb_png(p, side=12000)),
     "declares 12000x12000 pixels"),
    ("10^30 integer keypoint (class 4)", _keypoints(bad_files.openpose([10 ** 30] + [1] * 53)),
     "is out of range (an integer of 31 digits)"),
    ("5000-digit keypoint (class 4)", _keypoints(
        '{"people": [{"pose_keypoints_2d": [1' + "0" * 5000 + ", 1" * 53 + "]}]}"),
     "is out of range (an integer of 5001 digits)"),
    ("1e30 keypoint (class 4)", _keypoints(bad_files.openpose([1e30] + [1.0] * 53)),
     "value 1e+30 is out of range"),
    ("1e400 keypoint (class 4)", _keypoints(
        '{"people": [{"pose_keypoints_2d": [1e400' + ", 1" * 53 + "]}]}"),
     "1e400 is not a finite number"),
    ("negative parsing label (class 6)", lambda f: _negative_parsing(f["source"]["parsing"]),
     "label -3 is not a PINet class"),
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


# -- issue 29: an output is never an input; names from a pairs CSV stay in --out-dir ---------------
def _snapshot(folder):
    return {os.path.join(r, n): open(os.path.join(r, n), "rb").read()
            for r, _, fs in os.walk(folder) for n in fs}


def _same_as(files, how):
    s = files["source"]
    if how == "same path":
        return s["image"], "--source"
    if how == "a symlink to it":
        os.symlink(s["image"], files["dir"] / "link.png")
        return str(files["dir"] / "link.png"), "--source"
    if how == "a hard link to it":
        os.link(s["image"], files["dir"] / "hard.png")
        return str(files["dir"] / "hard.png"), "--source"
    if how == "a path with ..":
        os.mkdir(files["dir"] / "sub")
        return str(files["dir"] / "sub" / ".." / os.path.basename(s["image"])), "--source"
    return s["parsing"], "--source-parsing"


OUT_IS_INPUT = ["same path", "a symlink to it", "a hard link to it", "a path with ..",
                "the parsing"]


@pytest.mark.parametrize("how", OUT_IS_INPUT)
def test_transfer_never_overwrites_an_input(files, tiny_weights, capsys, how):
    out, flag = _same_as(files, how)
    before = _snapshot(files["dir"])
    s, t = files["source"], files["target"]
    assert main(["transfer", "--model", tiny_weights, "--source", s["image"],
                 "--source-keypoints", s["keypoints"], "--source-parsing", s["parsing"],
                 "--target-keypoints", t["keypoints"], "--out", out]) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert f"--out {out}: is the same file as {flag}" in line, line
    assert _snapshot(files["dir"]) == before


@pytest.mark.parametrize("argv, flag, what", [
    (["--save-parsing", "SOURCE_PARSING"], "--source-parsing", "--save-parsing"),
    (["--grid", "--out", "GRID_OF_TARGET"], "--target-image", "--grid picture"),
], ids=["--save-parsing is the source parsing", "the grid is --target-image"])
def test_transfer_side_outputs_never_overwrite_an_input(files, tiny_weights, capsys, argv, flag,
                                                        what):
    s, t = files["source"], files["target"]
    grid_of_target = None
    if "GRID_OF_TARGET" in argv:  # the target photo is named like OUT's grid picture
        os.rename(t["image"], str(files["dir"] / "result_grid.png"))
        t["image"], grid_of_target = str(files["dir"] / "result_grid.png"), \
            str(files["dir"] / "result.png")
    argv = [{"SOURCE_PARSING": s["parsing"], "GRID_OF_TARGET": grid_of_target}.get(a, a)
            for a in argv]
    before = _snapshot(files["dir"])
    base = ["transfer", "--model", tiny_weights, "--source", s["image"], "--source-keypoints",
            s["keypoints"], "--source-parsing", s["parsing"], "--target-image", t["image"],
            "--target-image-keypoints", t["keypoints"]]
    if "--out" not in argv:
        base += ["--out", str(files["dir"] / "r.png")]
    assert main(base + argv) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert f"{what} " in line and f"is the same file as {flag}" in line, line
    assert _snapshot(files["dir"]) == before


def test_texture_never_overwrites_the_condition_photo(files, tiny_weights, capsys):
    s, t = files["source"], files["target"]
    before = _snapshot(files["dir"])
    assert main(["texture", "--model", tiny_weights, "--source", s["image"],
                 "--source-keypoints", s["keypoints"], "--source-parsing", s["parsing"],
                 "--condition", t["image"], "--condition-parsing", t["parsing"],
                 "--regions", "upper-clothes", "--out", t["image"]]) == 2
    line = _one_error_line(capsys.readouterr().err, "texture")
    assert f"--out {t['image']}: is the same file as --condition" in line, line
    assert _snapshot(files["dir"]) == before


@pytest.mark.parametrize("name", ["../../outside/x.png", "sub/x.png", "/tmp/x.png", ".."])
def test_batch_transfer_names_stay_in_the_out_dir(tmp_path, tiny_weights, capsys, name):
    data = str(tmp_path / "work" / "data")
    synthetic.write_dataset(data, 4, 3, (64, 44), seed=1, test_fraction=0.25)
    first = sorted(os.listdir(os.path.join(data, "test")))[0]
    pairs = tmp_path / "work" / "pairs.csv"
    pairs.write_text(f"from,to\n{first},{first}\n{name},{first}\n")
    out_dir = tmp_path / "work" / "results"
    before = _snapshot(tmp_path)
    assert main(["transfer", "--model", tiny_weights, "--data", data, "--pairs", str(pairs),
                 "--out-dir", str(out_dir)]) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert f"{pairs}:3: image name {name!r} is not a plain file name" in line, line
    assert _snapshot(tmp_path) == before and not out_dir.exists()
    assert not (tmp_path / "outside").exists()


def test_permission_denied_keypoint_file_is_one_line(files, tiny_weights, capsys, monkeypatch):
    """(class 5) The tests may run as root, for whom chmod 000 denies nothing: the denial is
    made where the reader opens the file."""
    import builtins

    s, t = files["source"], files["target"]
    denied = bad_files.huge_npy(files["dir"] / "denied.npy", shape=(18, 2))
    real_open = builtins.open

    def guarded(path, *args, **kwargs):
        if os.fspath(path) == str(denied):
            raise PermissionError(13, "Permission denied", str(denied))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    assert main(["transfer", "--model", tiny_weights, "--source", s["image"],
                 "--source-keypoints", str(denied), "--source-parsing", s["parsing"],
                 "--target-keypoints", t["keypoints"], "--out",
                 str(files["dir"] / "out" / "r.png")]) == 2
    line = _one_error_line(capsys.readouterr().err, "transfer")
    assert f"{denied}: cannot read the keypoint file: permission denied" in line, line
    assert not (files["dir"] / "out").exists()
