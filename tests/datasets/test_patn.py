"""Reader of the authors' layout: every error names the file (and line) and the problem."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from pinet_tf.datasets import parsing_labels, patn
from pinet_tf.datasets.patn import PatnReader
from tests.fixtures_data import TINY_TEST_PAIRS


@pytest.fixture
def data(tiny_synthetic_data, tmp_path):
    out = str(tmp_path / "data")
    shutil.copytree(tiny_synthetic_data, out)
    return out


def _read_all(root, split="test"):
    return list(PatnReader(root, split).iter_pairs())


def _rewrite_line(path, number, fn):
    lines = open(path).read().splitlines()
    lines[number - 1] = fn(lines[number - 1])
    open(path, "w").write("\n".join(lines) + "\n")


def _first_name(root, split="test"):
    return sorted(patn.read_annotations(os.path.join(root, patn.annotation_csv(split))))[0]


def test_reads_every_pair(data):
    pairs = _read_all(data)
    assert len(pairs) == TINY_TEST_PAIRS
    src, tgt = pairs[0]
    assert src.image.shape == (64, 44, 3) and src.parsing.shape == (64, 44)
    assert src.keypoints.shape == (18, 2) and src.name != tgt.name


def test_malformed_annotation_row(data):
    path = os.path.join(data, patn.annotation_csv("test"))
    _rewrite_line(path, 3, lambda s: s.replace("]: [", "]; [", 1))
    with pytest.raises(ValueError, match=rf"{path}:3: malformed annotation row"):
        _read_all(data)
    _rewrite_line(path, 3, lambda s: s.split(":")[0] + ": [1, 2]: [3, 4]")
    with pytest.raises(ValueError, match=rf"{path}:3: malformed .*expected 18 y and 18 x"):
        _read_all(data)


def test_malformed_pairs_row_and_header(data):
    path = os.path.join(data, patn.pairs_csv("test"))
    _rewrite_line(path, 4, lambda s: s.replace(",", ";"))
    with pytest.raises(ValueError, match=rf"{path}:4: malformed pairs row"):
        _read_all(data)
    _rewrite_line(path, 1, lambda s: "a,b")
    with pytest.raises(ValueError, match=rf"{path}:1: expected header 'from,to'"):
        _read_all(data)


def test_missing_image(data):
    name = _first_name(data)
    os.remove(os.path.join(data, "test", name))
    pairs = os.path.join(data, patn.pairs_csv("test"))
    with pytest.raises(FileNotFoundError,
                       match=rf"missing image .*{name} \(referenced at {pairs}:2\)"):
        _read_all(data)


def test_size_mismatch(data):
    name = _first_name(data)
    par = os.path.join(data, "testSPL2", os.path.splitext(name)[0] + ".png")
    Image.fromarray(np.zeros((60, 44), np.uint8)).save(par)
    with pytest.raises(ValueError, match=r"size mismatch: .* is 64x44 but .* is 60x44"):
        _read_all(data)


def test_label_above_11(data):
    name = _first_name(data)
    par = os.path.join(data, "testSPL2", os.path.splitext(name)[0] + ".png")
    labels = np.asarray(Image.open(par)).copy()
    labels[5, 5] = 12
    Image.fromarray(labels).save(par)
    with pytest.raises(ValueError, match=rf"{par}: label 12 outside 0..11"):
        _read_all(data)


def test_keypoint_outside_the_image(data):
    path = os.path.join(data, patn.annotation_csv("test"))
    name = open(path).read().splitlines()[1].split(":")[0]
    ys = [70] + [10] * 17
    xs = [5] * 18
    _rewrite_line(path, 2, lambda s: f"{name}: {ys}: {xs}")
    with pytest.raises(ValueError, match=rf"{path}:2: keypoint 0 \(y=70, x=5\) .* outside the "
                                         r"64x44 image"):
        _read_all(data)


def test_256_square_originals_are_cropped(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    labels = np.random.default_rng(1).integers(0, 12, (256, 256), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(labels).save(tmp_path / "a_par.png")
    assert np.array_equal(patn.load_image(str(tmp_path / "a.png")), image[:, 40:216])
    assert np.array_equal(patn.load_parsing(str(tmp_path / "a_par.png")), labels[:, 40:216])
    Image.fromarray(image[:, :176]).save(tmp_path / "b.png")  # already 256x176: unchanged
    assert np.array_equal(patn.load_image(str(tmp_path / "b.png")), image[:, :176])


def test_errors_reach_the_cli(data, tmp_path, capsys):
    from pinet_tf.cli import main

    os.remove(os.path.join(data, "test", _first_name(data)))
    assert main(["make-tfrecords", "--data", data, "--out", str(tmp_path / "r")]) == 2
    assert "missing image" in capsys.readouterr().err


def test_cihp_and_lip_differ_only_at_label_10():
    cihp, lip = parsing_labels.MAPPINGS["cihp"], parsing_labels.MAPPINGS["lip"]
    assert cihp.shape == lip.shape == (20,)
    assert [i for i in range(20) if cihp[i] != lip[i]] == [10]
    assert cihp[10] == 5 and lip[10] == 3  # torso-skin -> neck; jumpsuits -> dress
    assert set(cihp.tolist()) == set(range(12))  # every class is reachable


def test_convert_parsing_cli(tmp_path, capsys):
    from pinet_tf.cli import main

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    labels = np.arange(20, dtype=np.uint8).reshape(4, 5)
    Image.fromarray(labels).save(src / "x.png")
    assert main(["convert-parsing", "--labels", "lip", "--input", str(src), "--out",
                 str(out)]) == 0
    got = np.asarray(Image.open(out / "x.png"))
    expect = {0: 0, 1: 11, 2: 1, 5: 2, 9: 4, 10: 3, 12: 6, 13: 7, 14: 8, 17: 9, 19: 10}
    for label, cls in expect.items():
        assert got.reshape(-1)[label] == cls
    Image.fromarray(np.full((4, 5), 20, np.uint8)).save(src / "y.png")
    assert main(["convert-parsing", "--labels", "cihp", "--input", str(src), "--out",
                 str(out)]) == 2
    assert "y.png: label 20 outside 0..19" in capsys.readouterr().err
