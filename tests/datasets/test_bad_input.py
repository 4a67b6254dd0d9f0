"""Bad-input corpus of the data readers (issue 15): the authors' layout through
`pinet-tf make-tfrecords`, and a records folder through `make_dataset`.

Each case: exit status 2 (or the ValueError / OSError the CLI turns into it), one line naming the
problem and the file, no traceback, and nothing written."""

import json
import os
import pathlib
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.config import ModelConfig
from pinet_tf.datasets import make_dataset, patn, synthetic, tfrecords
from pinet_tf.datasets.pipeline import naming_corrupt_shards
from tests import bad_files

TINY = ModelConfig.tiny()


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("small") / "data")
    synthetic.write_dataset(out, 4, 3, (64, 44), seed=3, test_fraction=0.25)
    return out


def _last_test_image(data):
    return sorted(os.listdir(os.path.join(data, "test")))[-1]


def _annotation(data, split="train"):
    return os.path.join(data, patn.annotation_csv(split))


def _edit_csv(path, change):
    lines = open(path).read().split("\n")
    change(lines)
    open(path, "w").write("\n".join(lines))


def _set_first_y(value):
    def change(data):
        path = _annotation(data)
        lines = open(path).read().split("\n")
        name, ys, xs = lines[2].split(":")
        values = json.loads(ys)
        values[0] = "__V__"
        lines[2] = f"{name}: {json.dumps(values).replace(chr(34) + '__V__' + chr(34), value)}:{xs}"
        open(path, "w").write("\n".join(lines))
        return path, 3
    return change


def _duplicate(data):
    path = _annotation(data)
    lines = open(path).read().split("\n")
    name, ys, xs = lines[1].split(":")
    lines.append(f"{name}:{ys}:{json.dumps([1] * 18)}")
    open(path, "w").write("\n".join(lines) + "\n")
    return path, len(lines)


def _binary_csv(data):
    path = _annotation(data)
    open(path, "ab").write(b"\xff\xfe\x00\x01")
    return path, None


def _image(make):
    def change(data):
        name = _last_test_image(data)
        path = os.path.join(data, "test", name)
        make(path)
        return path, None
    return change


def _bomb(path):
    bad_files.bomb_png(pathlib.Path(path))


def _truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])


def _folder_instead(path):
    os.remove(path)
    os.mkdir(path)


def _parsing(value):
    def change(data):
        name = _last_test_image(data)
        path = os.path.join(data, "testSPL2", os.path.splitext(name)[0] + ".png")
        bad_files.labels_png(path, (64, 44), value)
        return path, None
    return change


def _missing_parsing(data):
    name = _last_test_image(data)
    path = os.path.join(data, "testSPL2", os.path.splitext(name)[0] + ".png")
    os.remove(path)
    return path, None


def _pairs_row(data):
    path = os.path.join(data, patn.pairs_csv("test"))
    open(path, "a").write("only-one-field\n")
    return path, None


def _outside(data):
    return _set_first_y("70")(data)


# issue 29: names that escape, labels below 0, declared sizes, numbers out of range
def _escaping_pair(data):
    path = os.path.join(data, patn.pairs_csv("test"))
    lines = open(path).read().rstrip("\n").split("\n")
    first = lines[1].split(",")[0]
    open(path, "a").write(f"\n../../outside/x.png,{first}\n")
    return path, len(lines) + 2


def _negative_label(data):
    name = _last_test_image(data)
    path = os.path.join(data, "testSPL2", os.path.splitext(name)[0] + ".png")
    labels = np.full((64, 44), 2, np.int32)
    labels[5, 7] = -3
    Image.fromarray(labels).save(path, format="TIFF")  # mode I: a label map may hold negatives
    return path, None


def _huge_header(path):
    bad_files.bomb_png(pathlib.Path(path), side=12000)  # 144 Mpx declared, a few bytes on disk


DATA_CASES = [
    ("nan keypoint", _set_first_y("NaN"), "NaN is not a finite number"),
    ("inf keypoint", _set_first_y("Infinity"), "Infinity is not a finite number"),
    ("duplicate rows", _duplicate, "annotated twice with different keypoints"),
    ("binary csv", _binary_csv, "not a text file"),
    ("bomb image", _image(_bomb), "too large to decode safely"),
    ("truncated image", _image(_truncate), "cannot read image"),
    ("folder for image", _image(_folder_instead), "is a folder, expected an image"),
    ("label above 11", _parsing(15), "label 15 outside 0..11"),
    ("missing parsing", _missing_parsing, "missing parsing map"),
    ("malformed pairs row", _pairs_row, "malformed pairs row"),
    ("keypoint outside", _outside, "outside the 64x44 image"),
    # issue 29
    ("pairs name escapes (class 2)", _escaping_pair, "'../../outside/x.png' is not a plain file"),
    ("negative label (class 6)", _negative_label, "label -3 outside 0..11 (at row 5, column 7"),
    ("144 Mpx header (class 3)", _image(_huge_header), "declares 12000x12000 pixels"),
    ("5000-digit integer (class 4)", _set_first_y("1" + "0" * 5000), "is out of range"),
    ("10^30 integer (class 4)", _set_first_y("1" + "0" * 30), "is out of range"),
    ("1e30 coordinate (class 4)", _set_first_y("1e30"), "value 1e+30 is out of range"),
    ("1e400 coordinate (class 4)", _set_first_y("1e400"), "1e400 is not a finite number"),
]


@pytest.mark.parametrize("change, message", [c[1:] for c in DATA_CASES],
                         ids=[c[0] for c in DATA_CASES])
def test_make_tfrecords_refuses_bad_data(small_data, tmp_path, capsys, change, message):
    data = str(tmp_path / "data")
    shutil.copytree(small_data, data)
    path, line = change(data)
    out = str(tmp_path / "records")
    assert main(["make-tfrecords", "--data", data, "--out", out]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    assert message in lines[0] and path in lines[0], lines[0]
    if line:
        assert f"{path}:{line}" in lines[0]
    assert "Traceback" not in err
    assert not os.path.exists(out)
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_out_below_a_file_is_a_sentence(small_data, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    out = str(tmp_path / "file" / "records")
    assert main(["make-tfrecords", "--data", small_data, "--out", out]) == 2
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if "error:" in ln][-1]
    assert f"{out}: cannot write the records directory: " in line and "is a file" in line, line


def test_data_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "data").write_text("x")
    assert main(["make-tfrecords", "--data", str(tmp_path / "data"), "--out",
                 str(tmp_path / "r")]) == 2
    assert "is a file, expected the data directory" in capsys.readouterr().err


# -- the records reader ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_records(small_data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("small_records") / "records")
    tfrecords.convert(small_data, out, shards=2)
    return out


def _manifest(change):
    def edit(out):
        path = os.path.join(out, tfrecords.MANIFEST)
        m = json.load(open(path))
        change(m)
        json.dump(m, open(path, "w"))
        return path
    return edit


def _raw_manifest(text):
    def edit(out):
        path = os.path.join(out, tfrecords.MANIFEST)
        open(path, "w").write(text)
        return path
    return edit


def _shard(edit_bytes):
    def edit(out):
        shard = json.load(open(os.path.join(out, tfrecords.MANIFEST)))["splits"]["train"]
        path = os.path.join(out, shard["shards"][0]["file"])
        data = bytearray(open(path, "rb").read())
        open(path, "wb").write(bytes(edit_bytes(data)))
        return path
    return edit


def _flip(data):
    data[len(data) // 2] ^= 0xFF
    return data


def _remove(name):
    def edit(out):
        path = os.path.join(out, name)
        os.remove(path)
        return path
    return edit


RECORD_CASES = [
    ("no manifest", _remove(tfrecords.MANIFEST), "incomplete", "checksum"),
    ("manifest not json", _raw_manifest("{\"splits\": "), "not valid JSON", "checksum"),
    ("manifest too deep", _raw_manifest("[" * 100000 + "]" * 100000), "nested too deeply",
     "checksum"),
    ("no splits", _manifest(lambda m: m.pop("splits")), "'splits' must be", "checksum"),
    ("shard without bytes", _manifest(lambda m: m["splits"]["train"]["shards"][0].pop("bytes")),
     "['shards'][0]['bytes'] must be a count", "checksum"),
    ("shard outside the folder",
     _manifest(lambda m: m["splits"]["train"]["shards"][0].update(file="../x.tfrecord")),
     "['file'] must be a shard file name", "checksum"),
    ("wrong format", _manifest(lambda m: m.update(format="other")), "expected format", "checksum"),
    ("nan size", _raw_manifest('{"format": "pinet-tf-pairs", "version": 1, "image_height": NaN}'),
     "NaN is not a finite number", "checksum"),
    ("missing shard", _shard(lambda d: d), "is missing", "checksum"),
    ("truncated shard", _shard(lambda d: d[:len(d) // 2]), "corrupt shard", "size"),
    ("flipped byte", _shard(_flip), "corrupt shard", "checksum"),
    ("flipped byte, sizes only", _shard(_flip), "is corrupt", "size"),
]


@pytest.mark.parametrize("edit, message, verify", [c[1:] for c in RECORD_CASES],
                         ids=[c[0] for c in RECORD_CASES])
def test_records_reader_refuses_bad_records(small_records, tmp_path, edit, message, verify):
    out = str(tmp_path / "records")
    shutil.copytree(small_records, out)
    path = edit(out)
    if message == "is missing":
        os.remove(path)
    with pytest.raises((ValueError, OSError)) as e:
        with naming_corrupt_shards(out, "train"):
            for _ in make_dataset(out, "train", TINY, 2, training=False, verify=verify):
                pass
    text = str(e.value)
    assert message in text and "\n" not in text, text
    named = os.path.basename(path) if message != "incomplete" else out
    assert named in text, text
    if message == "is corrupt":   # sizes only: the shard and the record are named all the same
        assert re.search(r"record \d+ of \d+ is corrupt", text), text


def test_records_path_that_is_a_file(tmp_path):
    (tmp_path / "r").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, expected the records directory"):
        make_dataset(str(tmp_path / "r"), "train", TINY, 2, training=False)


@pytest.mark.parametrize("bad, message", [
    (lambda p: bad_files.labels_png(p, (8, 6), 25), "label 25 outside 0..19"),
    (lambda p: bad_files.truncated_png(p, np.zeros((64, 64), np.uint8) + 3), "cannot read"),
    (lambda p: Image.fromarray(np.full((8, 6, 3), (9, 8, 7), np.uint8)).save(p),
     "is a colour picture"),
])
def test_convert_parsing_writes_nothing_when_a_map_fails(tmp_path, capsys, bad, message):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    (out / "old.png").write_bytes(b"keep")
    bad_files.labels_png(src / "a.png", (8, 6), 5)
    bad(src / "b.png")
    assert main(["convert-parsing", "--labels", "cihp", "--input", str(src),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if "error:" in ln][-1]
    assert str(src / "b.png") in line and message in line and "Traceback" not in err, line
    assert os.listdir(out) == ["old.png"] and (out / "old.png").read_bytes() == b"keep"
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


# -- issue 29, class 1: only what this program wrote is ever replaced ----------------------------
def _tree(folder):
    """{relative path: bytes} of every file under `folder`."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, folder)] = open(path, "rb").read()
    return out


def _one_error(capsys, verb):
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"pinet-tf {verb}: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_synth_never_replaces_a_users_set_in_the_authors_layout(small_data, tmp_path, capsys):
    """A user's own data set with the authors' folder names (here: real-looking pictures and
    CSVs copied from a set, without the marker synth writes) is refused, byte for byte kept."""
    mine = str(tmp_path / "my_photos")
    shutil.copytree(small_data, mine)
    os.remove(os.path.join(mine, synthetic.MARKER))
    before = _tree(mine)
    assert main(["synth", "--out", mine, "--identities", "2", "--poses-per-identity", "2",
                 "--size", "64x44"]) == 2
    line = _one_error(capsys, "synth")
    assert mine in line and f"no {synthetic.MARKER}" in line, line
    assert _tree(mine) == before
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []
    # a set synth wrote itself is replaced (the marker says so)
    ours = str(tmp_path / "ours")
    assert main(["synth", "--out", ours, "--identities", "2", "--poses-per-identity", "2",
                 "--size", "64x44"]) == 0
    assert main(["synth", "--out", ours, "--identities", "3", "--poses-per-identity", "2",
                 "--size", "64x44", "--seed", "1"]) == 0
    assert os.path.isfile(os.path.join(ours, synthetic.MARKER))


def _foreign_records(folder, manifest=None):
    os.makedirs(folder)
    for name in ("train-00000-of-00001.tfrecord", "test-00000-of-00001.tfrecord"):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"someone else's records " + name.encode())
    if manifest is not None:
        with open(os.path.join(folder, tfrecords.MANIFEST), "w") as f:
            json.dump(manifest, f)


@pytest.mark.parametrize("manifest, why", [
    (None, "no manifest.json written by make-tfrecords"),
    ({"format": "their-tool", "splits": {}}, "no manifest.json written by make-tfrecords"),
    ("ours-plus-theirs", "not listed in its manifest.json"),
], ids=["shards without a manifest", "another tool's manifest", "extra shard in our folder"])
def test_make_tfrecords_never_replaces_someone_elses_records(small_data, small_records,
                                                             tmp_path, capsys, manifest, why):
    out = str(tmp_path / "records")
    if manifest == "ours-plus-theirs":
        shutil.copytree(small_records, out)
        open(os.path.join(out, "train-00007-of-00009.tfrecord"), "wb").write(b"theirs")
    else:
        _foreign_records(out, manifest)
    before = _tree(out)
    assert main(["make-tfrecords", "--data", small_data, "--out", out]) == 2
    line = _one_error(capsys, "make-tfrecords")
    assert out in line and why in line, line
    assert _tree(out) == before
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []
