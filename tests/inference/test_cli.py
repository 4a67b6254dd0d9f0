"""`pinet-tf transfer` / `pinet-tf texture` end to end with a tiny random-weight generator,
and the errors users hit (message names the file, nothing is written)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from tests.inference.people import C, write_person


@pytest.fixture
def files(tmp_path):
    source, arrays = write_person(tmp_path, "source", 50, 40, seed=1)
    target, _ = write_person(tmp_path, "target", 50, 40, seed=1, shift=0.08)
    return tmp_path, source, target, arrays


def _read(path):
    return np.asarray(Image.open(path))


def test_transfer_writes_result_parsing_and_grid(files, tiny_weights):
    folder, source, target, (image, _, _) = files
    out = str(folder / "out" / "result.png")
    rc = main(["transfer", "--model", tiny_weights, "--source", source["image"],
               "--source-keypoints", source["keypoints"], "--source-parsing", source["parsing"],
               "--target-keypoints", target["keypoints"], "--target-image", target["image"],
               "--out", out, "--save-parsing", str(folder / "parsing.png"), "--grid"])
    assert rc == 0
    result = _read(out)
    assert result.shape == image.shape and result.dtype == np.uint8
    parsing = _read(folder / "parsing.png")
    assert parsing.shape == image.shape[:2] and parsing.max() < 12
    grid = _read(folder / "out" / "result_grid.png")
    assert grid.shape == (14 + 256 + 8, 6 * 4 * 44 + 96 + 8 * 4, 3)   # with the target photo


def test_transfer_from_another_photo_with_coco_keypoints(files, tiny_weights, tmp_path):
    folder, source, _, _ = files
    other, (_, _, kp) = write_person(folder, "other", 90, 50, seed=4)
    # The other photo's pose as a COCO-17 detector result.
    from pinet_tf.inference.readers import COCO17_NAMES
    from tests.inference.people import K
    xyv = np.zeros((17, 3))
    for i, name in enumerate(COCO17_NAMES):
        if (kp[K[name]] >= 0).all():
            xyv[i] = (kp[K[name], 1], kp[K[name], 0], 2)
    coco = folder / "other_coco.json"
    coco.write_text(json.dumps([{"image_id": 1, "keypoints": xyv.reshape(-1).tolist(),
                                 "score": 0.9}]))
    out = str(folder / "r.png")
    rc = main(["transfer", "--model", tiny_weights, "--source", source["image"],
               "--source-keypoints", source["keypoints"], "--source-parsing", source["parsing"],
               "--target-image-keypoints", str(coco), "--target-image", other["image"],
               "--out", out, "--grid", "--fit", "crop"])
    assert rc == 0
    assert _read(out).shape == (50, 40, 3)
    grid = _read(folder / "r_grid.png")
    assert grid.shape[1] == 6 * 4 * 44 + 96 + 8 * 4    # six panels (with the photo), legend


def test_texture_keeps_pixels_outside_the_regions(files, tiny_weights):
    folder, source, _, (image, parsing, _) = files
    condition, _ = write_person(folder, "cond", 64, 64, seed=7)
    out = str(folder / "tex.png")
    rc = main(["texture", "--model", tiny_weights, "--source", source["image"],
               "--source-keypoints", source["keypoints"], "--source-parsing", source["parsing"],
               "--condition", condition["image"], "--condition-parsing", condition["parsing"],
               "--regions", "upper-clothes,pants", "--out", out, "--grid"])
    assert rc == 0
    result = _read(out)
    mask = np.isin(parsing, [C["upper-clothes"], C["pants"]])
    np.testing.assert_array_equal(result[~mask], image[~mask])
    assert (result[mask] != image[mask]).any()
    assert os.path.exists(folder / "tex_grid.png")


def _break(kind, folder, source):
    """Make one input bad; return (argument to replace, new value, expected message)."""
    if kind == "unreadable image":
        bad = folder / "broken.png"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        return "--source", str(bad), "broken.png: cannot read image"
    if kind == "wrong number of keypoints":
        bad = folder / "short.json"
        bad.write_text(json.dumps({"people": [{"pose_keypoints_2d": [10.0, 10.0, 1.0] * 17}]}))
        return "--source-keypoints", str(bad), "short.json: people[0].pose_keypoints_2d has 17"
    if kind == "all keypoints missing":
        bad = folder / "weak.json"
        bad.write_text(json.dumps({"people": [{"pose_keypoints_2d": [10.0, 10.0, 0.01] * 18}]}))
        return "--source-keypoints", str(bad), "weak.json: all 18 keypoints are missing"
    if kind == "parsing size":
        bad = folder / "small_parsing.png"
        Image.fromarray(np.zeros((25, 20), np.uint8)).save(bad)
        return "--source-parsing", str(bad), "small_parsing.png: parsing is 25x20 but the " \
                                             "image"
    raise AssertionError(kind)


@pytest.mark.parametrize("verb", ["transfer", "texture"])
@pytest.mark.parametrize("kind", ["unreadable image", "wrong number of keypoints",
                                  "all keypoints missing", "parsing size"])
def test_bad_inputs_fail_with_the_file_named_and_write_nothing(files, tiny_weights, capsys,
                                                               verb, kind):
    folder, source, target, _ = files
    args = {"--source": source["image"], "--source-keypoints": source["keypoints"],
            "--source-parsing": source["parsing"]}
    flag, value, message = _break(kind, folder, source)
    args[flag] = value
    out = folder / "never.png"
    argv = [verb, "--model", tiny_weights, "--out", str(out), "--grid"]
    for k, v in args.items():
        argv += [k, v]
    if verb == "transfer":
        argv += ["--target-keypoints", target["keypoints"]]
    else:
        argv += ["--condition", source["image"], "--condition-parsing", source["parsing"],
                 "--regions", "pants"]
    before = set(os.listdir(folder))
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert set(os.listdir(folder)) == before


def test_unknown_region_fails_before_anything_runs(files, capsys):
    folder, source, _, _ = files
    before = set(os.listdir(folder))
    rc = main(["texture", "--model", str(folder / "no-model-needed"), "--source",
               source["image"], "--source-keypoints", source["keypoints"], "--source-parsing",
               source["parsing"], "--condition", source["image"], "--condition-parsing",
               source["parsing"], "--regions", "upper-clothes,jacket",
               "--out", str(folder / "x.png")])
    assert rc == 2
    assert "unknown region 'jacket'; choose from background, hair, upper-clothes" in \
        capsys.readouterr().err
    assert set(os.listdir(folder)) == before


def test_missing_model_and_argument_errors(files, capsys):
    folder, source, target, _ = files
    base = ["transfer", "--source", source["image"], "--source-keypoints", source["keypoints"],
            "--source-parsing", source["parsing"], "--out", str(folder / "x.png")]
    assert main(base + ["--model", str(folder / "nope"), "--target-keypoints",
                        target["keypoints"]]) == 2
    assert "nope: model not found" in capsys.readouterr().err
    assert main(base + ["--model", str(folder / "nope")]) == 2
    assert "give a target pose: --target-keypoints" in capsys.readouterr().err
    assert not (folder / "x.png").exists()
