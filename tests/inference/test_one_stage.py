"""The inference verbs on a one-stage model (`stages=1`, no G_p): `transfer` and `gates` need no
parsing file and draw no parsing; `texture` refuses in one line before reading anything."""

import dataclasses
import os

import keras
import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.config import ModelConfig
from pinet_tf.models import build_generator
from pinet_tf.models.io import save_generator
from tests.inference.people import write_person


@pytest.fixture(scope="module")
def one_stage_weights(tmp_path_factory):
    keras.utils.set_random_seed(5)
    cfg = dataclasses.replace(ModelConfig.tiny(), stages=1)
    path = str(tmp_path_factory.mktemp("one_stage") / "one.weights.h5")
    save_generator(build_generator(cfg), cfg, path)
    return path


@pytest.fixture
def files(tmp_path):
    source, arrays = write_person(tmp_path, "source", 50, 40, seed=1)
    target, _ = write_person(tmp_path, "target", 50, 40, seed=1, shift=0.08)
    return tmp_path, source, target, arrays


def test_transfer_needs_no_parsing_and_draws_none(files, one_stage_weights, capsys):
    folder, source, target, (image, _, _) = files
    out = str(folder / "result.png")
    argv = ["transfer", "--model", one_stage_weights, "--source", source["image"],
            "--source-keypoints", source["keypoints"], "--target-keypoints",
            target["keypoints"], "--out", out]
    assert main(argv + ["--grid"]) == 0
    result = np.asarray(Image.open(out))
    assert result.shape == image.shape and result.dtype == np.uint8
    grid = np.asarray(Image.open(folder / "result_grid.png"))
    assert grid.shape[1] == 4 * 4 * 44 + 5 * 4  # source, two poses, result: no parsing, legend
    # A given parsing is ignored: the same result.
    again = str(folder / "again.png")
    assert main(argv[:-1] + [again, "--source-parsing", source["parsing"]]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(again)), result)
    capsys.readouterr()
    assert main(argv + ["--save-parsing", str(folder / "p.png")]) == 2
    assert "has stages=1 and predicts no parsing" in capsys.readouterr().err
    assert not os.path.exists(folder / "p.png")


def test_texture_is_refused_in_one_line(files, one_stage_weights, capsys):
    folder, source, target, _ = files
    out = folder / "tex.png"
    code = main(["texture", "--model", one_stage_weights, "--source", source["image"],
                 "--source-keypoints", source["keypoints"], "--source-parsing",
                 source["parsing"], "--condition", target["image"], "--condition-parsing",
                 target["parsing"], "--regions", "upper-clothes", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"pinet-tf texture: error: texture transfer needs the parsing generator; "
                   f"the model in {one_stage_weights} has stages=1")
    assert not out.exists()


def test_gates_shows_the_image_generator_only(files, one_stage_weights, capsys):
    folder, source, target, _ = files
    out, arrays = str(folder / "gates.png"), str(folder / "gates.npz")
    assert main(["gates", "--model", one_stage_weights, "--source", source["image"],
                 "--source-keypoints", source["keypoints"], "--target-keypoints",
                 target["keypoints"], "--out", out, "--save-arrays", arrays,
                 "--columns", "9"]) == 0
    assert "16 gated layers (0 of G_p, 16 of G_i)" in capsys.readouterr().out
    saved = np.load(arrays)
    assert saved.files[0] == "gi_gc1" and len(saved.files) == 16
    # 2 input panels + 16 maps + result = 19 panels, 9 a row: 3 rows
    assert np.asarray(Image.open(out)).shape[0] == 3 * (2 * 64 + 14) + 4 * 4
    # A two-stage model still needs a parsing: without the file, a rough one from the pose.
    cfg = ModelConfig.tiny()
    two = str(folder / "two.weights.h5")
    save_generator(build_generator(cfg), cfg, two)
    assert main(["gates", "--model", two, "--source", source["image"], "--source-keypoints",
                 source["keypoints"], "--target-keypoints", target["keypoints"],
                 "--out", str(folder / "g2.png")]) == 0
    err = capsys.readouterr().err
    assert "no --source-parsing given: using a ROUGH parsing made from the pose" in err
    assert "--parsing-labels cihp|lip|atr" in err
