"""`--model MODEL.tflite` in `transfer` and `texture`: an `export-tflite` file runs like any
model (its frame and parsing input read from its signature), matching the SavedModel."""

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.export import tflite
from pinet_tf.inference.predictor import TFLitePredictor, load_predictor
from tests.inference.people import write_person
from tests.serving.tiny_export import tiny_export


@pytest.fixture(scope="module")
def exp(request, tmp_path_factory):
    return tiny_export(request, tmp_path_factory)


@pytest.fixture(scope="module")
def tflite_files(exp, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite")
    paths = {s: str(out / f"{s}.tflite") for s in ("serving_default", "texture_transfer")}
    for signature, path in paths.items():
        tflite.convert_to_file(exp.path, path, "none", signature=signature)
    return paths


def test_transfer_with_a_tflite_file_matches_the_saved_model(exp, tflite_files, tmp_path):
    predictor = load_predictor(tflite_files["serving_default"])
    assert isinstance(predictor, TFLitePredictor)
    assert predictor.image_size == tuple(exp.cfg.image_size) and predictor.has_parsing
    source, _ = write_person(tmp_path, "source", 50, 40, seed=1)
    target, _ = write_person(tmp_path, "target", 50, 40, seed=1, shift=0.08)
    results = {}
    for name, model in (("tflite", tflite_files["serving_default"]), ("saved", exp.path)):
        out = str(tmp_path / f"{name}.png")
        assert main(["transfer", "--model", model, "--source", source["image"],
                     "--source-keypoints", source["keypoints"], "--source-parsing",
                     source["parsing"], "--target-keypoints", target["keypoints"],
                     "--out", out]) == 0
        results[name] = np.asarray(Image.open(out))
    assert results["tflite"].shape == results["saved"].shape
    assert tflite.psnr_uint8(results["tflite"], results["saved"]) > 35.0


def test_texture_needs_the_texture_signature(exp, tflite_files, tmp_path, capsys):
    source, _ = write_person(tmp_path, "source", 50, 40, seed=1)
    cond, _ = write_person(tmp_path, "cond", 50, 40, seed=2)
    argv = ["texture", "--source", source["image"], "--source-keypoints", source["keypoints"],
            "--source-parsing", source["parsing"], "--condition", cond["image"],
            "--condition-parsing", cond["parsing"], "--regions", "upper-clothes"]
    out = tmp_path / "t.png"
    assert main(argv + ["--model", tflite_files["serving_default"], "--out", str(out)]) == 2
    assert "export-tflite --signature texture_transfer" in capsys.readouterr().err
    assert not out.exists()
    assert main(argv + ["--model", tflite_files["texture_transfer"], "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == np.asarray(Image.open(source["image"])).shape
