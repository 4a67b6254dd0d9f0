"""`pinet-tf gates` (paper Fig. 8) on the shipped examples with a tiny random-weights model."""

import os

import keras
import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.config import ModelConfig
from pinet_tf.inference import pipeline
from pinet_tf.inference.frame import Fit
from pinet_tf.models import build_generator
from pinet_tf.models.gates import pose_transfer_with_gates
from pinet_tf.models.io import load_generator, save_generator

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
FILES = dict(source="person.png", source_keypoints="person_keypoints.json",
             source_parsing="person_parsing.png", target_keypoints="target_keypoints.json")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    keras.utils.set_random_seed(3)
    cfg = ModelConfig.tiny()
    path = str(tmp_path_factory.mktemp("gates") / "tiny.weights.h5")
    save_generator(build_generator(cfg), cfg, path)
    return path


def _argv(model, out, *extra):
    argv = ["gates", "--model", model, "--out", out]
    for flag, name in FILES.items():
        argv += ["--" + flag.replace("_", "-"), os.path.join(EXAMPLES, name)]
    return argv + list(extra)  # argparse: a later flag overrides an earlier one


def test_picture_and_arrays(weights, tmp_path, capsys):
    out, arrays = str(tmp_path / "gates.png"), str(tmp_path / "gates.npz")
    assert main(_argv(weights, out, "--save-arrays", arrays, "--columns", "9")) == 0
    assert "32 gated layers (16 of G_p, 16 of G_i)" in capsys.readouterr().out
    saved = np.load(arrays)
    assert len(saved.files) == 32 and saved.files[0] == "gp_gc1" and saved.files[-1] == "gi_gc17"
    # 2 input panels + 32 maps + 2 grey panels (layer 10 of G_p and of G_i: the attention, no
    # gate) + parsing + result = 38 panels, 9 a row: 5 rows of 64x2 px + labels
    picture = np.asarray(Image.open(out))
    assert picture.shape[0] == 5 * (2 * 64 + 14) + 6 * 4
    # the arrays are the gates of the very call the verb made (same inputs, same model)
    generator, cfg = load_generator(weights)
    source = pipeline.load_person(os.path.join(EXAMPLES, FILES["source"]),
                                  os.path.join(EXAMPLES, FILES["source_keypoints"]),
                                  os.path.join(EXAMPLES, FILES["source_parsing"]))
    target = pipeline.load_keypoints_for(os.path.join(EXAMPLES, FILES["target_keypoints"]),
                                         source.image.shape, FILES["source"])
    fit = Fit.make(*source.size, *cfg.image_size, "pad")
    _, maps = pose_transfer_with_gates(
        generator, cfg, fit.image(source.image)[None], fit.parsing(source.parsing)[None],
        fit.keypoints(source.keypoints)[None].astype(np.float32),
        fit.keypoints(target)[None].astype(np.float32))
    for m in maps:
        np.testing.assert_allclose(saved[m.name], m.mask[0], atol=1e-6)


def test_bad_inputs_are_one_line_errors(weights, tmp_path, capsys):
    export = tmp_path / "export" / "1"
    export.mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    cases = [
        (_argv(str(export), str(tmp_path / "a.png")), "a SavedModel has no per-layer gates"),
        (_argv(weights, str(tmp_path / "b.png"), "--save-arrays", str(tmp_path / "x.txt")),
         "--save-arrays must name a .npz file"),
        (_argv(weights, str(tmp_path / "c.png"), "--source", str(tmp_path / "missing.png")),
         "missing.png"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["export"]  # nothing written


def test_target_pose_from_another_photo(weights, tmp_path, capsys):
    """--target-image (+ its keypoint file, so no estimator is needed) gives the target pose,
    fitted into the model's frame as that photo's own: the same gates as passing that pose."""
    out, arrays = str(tmp_path / "g.png"), str(tmp_path / "g.npz")
    argv = [a for a in _argv(weights, out, "--save-arrays", arrays)]
    i = argv.index("--target-keypoints")
    del argv[i:i + 2]
    argv += ["--target-image", os.path.join(EXAMPLES, "target.png"),
             "--target-image-keypoints", os.path.join(EXAMPLES, "target_keypoints.json")]
    assert main(argv) == 0, capsys.readouterr()
    saved = np.load(arrays)
    generator, cfg = load_generator(weights)
    source = pipeline.load_person(os.path.join(EXAMPLES, FILES["source"]),
                                  os.path.join(EXAMPLES, FILES["source_keypoints"]),
                                  os.path.join(EXAMPLES, FILES["source_parsing"]))
    target = pipeline.load_person(os.path.join(EXAMPLES, "target.png"),
                                  os.path.join(EXAMPLES, "target_keypoints.json"))
    fit = Fit.make(*source.size, *cfg.image_size, "pad")
    target_fit = Fit.make(*target.size, *cfg.image_size, "pad")
    _, maps = pose_transfer_with_gates(
        generator, cfg, fit.image(source.image)[None], fit.parsing(source.parsing)[None],
        fit.keypoints(source.keypoints)[None].astype(np.float32),
        target_fit.keypoints(target.keypoints)[None].astype(np.float32))
    for m in maps:
        np.testing.assert_allclose(saved[m.name], m.mask[0], atol=1e-6)


@pytest.mark.parametrize("change, message", [
    (("--target-keypoints",), "give a target pose"),
    (("--target-image-keypoints",), "--target-image-keypoints needs --target-image"),
    (("--both",), "give the target pose once"),
])
def test_target_pose_options_are_checked(weights, tmp_path, capsys, change, message):
    argv = _argv(weights, str(tmp_path / "g.png"))
    kp = os.path.join(EXAMPLES, "target_keypoints.json")
    if change[0] in ("--target-keypoints", "--target-image-keypoints"):
        i = argv.index("--target-keypoints")
        del argv[i:i + 2]
        if change[0] == "--target-image-keypoints":
            argv += ["--target-image-keypoints", kp]
    else:
        argv += ["--target-image", os.path.join(EXAMPLES, "target.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []
