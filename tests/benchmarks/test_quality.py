"""benchmarks.quality end to end on its smoke recipe: data, two runs, evaluation, measures."""

import json

import numpy as np
import pytest
from PIL import Image

from benchmarks import quality


def test_unknown_variant_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        quality.main(["--recipe", "smoke", "--work", str(tmp_path), "--variants", "gan,foo"])
    assert "unknown variants ['foo']" in capsys.readouterr().err


def test_a_recipe_with_a_fine_tune_trains_twice_then_evaluates_the_second(tmp_path,
                                                                         monkeypatch):
    """`Recipe.fine_tune_args`: the variant's first run goes to RUN_first, the second starts from
    its weights into RUN, and RUN is what is evaluated; the wall time is both runs'."""
    import dataclasses
    import os

    calls = []

    def cli(*args, log=None):
        calls.append([str(a) for a in args])
        if args[0] == "evaluate":
            report = args[list(args).index("--out") + 1]
            os.makedirs(os.path.dirname(report), exist_ok=True)
            with open(report, "w") as f:
                json.dump({"metrics": {}}, f)
        return 2.0

    monkeypatch.setattr(quality, "cli", cli)
    recipe = dataclasses.replace(quality.RECIPES["smoke"],
                                 fine_tune_args=("--steps", "0,0,2", "--seed", "1"))
    result = quality.train_and_evaluate(recipe, "gan", "REC", str(tmp_path), None)
    run = str(tmp_path / "runs" / "gan")
    assert [c[0] for c in calls] == ["train", "train", "evaluate"]
    assert calls[0][:2] == ["train", "--config"]
    assert calls[0][calls[0].index("--out") + 1] == run + "_first"
    assert calls[1] == ["train", "--init-weights", run + "_first", "--data", "REC", "--out", run,
                        "--steps", "0,0,2", "--seed", "1"]
    assert calls[2][calls[2].index("--run") + 1] == run
    assert result["run"] == run and result["train_seconds"] == 4.0


@pytest.mark.slow
def test_smoke_recipe_end_to_end(tmp_path):
    """A two-stage and a one-stage variant in one run of the benchmark (one data set, each
    variant trained and evaluated by its own `pinet-tf` subprocess, the picture of both)."""
    results, picture = tmp_path / "quality.json", tmp_path / "quality.png"
    assert quality.main(["--recipe", "smoke", "--work", str(tmp_path / "work"), "--variants",
                         "gan,one_stage", "--results", str(results),
                         "--picture", str(picture)]) == 0
    out = json.loads(results.read_text())
    assert sorted(out["variants"]) == ["gan", "one_stage"]
    assert out["recipe"]["variants"] == ["gan", "one_stage"]
    n = out["held_out_pairs"]
    assert n >= 2
    for name, v in out["variants"].items():
        assert v["train_seconds"] > 0
        assert {"l1", "ssim", "psnr"} <= set(v["metrics"]["model"])
        assert [g["goal"] for g in v["goals"]] == [g[0] for g in quality.GOALS]
        for g in v["goals"]:
            assert np.isfinite(g["value"]) and isinstance(g["met"], bool)
        assert v["appearance"]["colour_error_skin"]["pairs"] <= n
    for variant, stages in (("gan", 2), ("one_stage", 1)):
        with open(tmp_path / "work" / "runs" / variant / "config.json") as f:
            assert json.load(f)["stages"] == stages, variant
    assert sorted(out["baselines"]) == ["copy_source", "flat_grey", "mean_image",
                                        "paint_by_parsing", "paint_by_parsing_true"]
    for b in out["baselines"]:
        assert "colour_error_upper_clothes" in out["baselines"][b]["appearance"]
        assert 0 <= out["baselines"][b]["appearance"]["person_l1"]["mean"] <= 255
        assert "person_l1" in out["baselines"][b]["metrics"]  # the evaluate report's, too
    # with the true target parsing, painting beats flat grey inside the person
    paint, grey = (out["baselines"][b]["appearance"]["person_l1"]["mean"]
                   for b in ("paint_by_parsing_true", "flat_grey"))
    assert paint < grey
    # ... and outside it: the source's background colour beats grey on a light background
    paint, grey = (out["baselines"][b]["appearance"]["background_l1"]["mean"]
                   for b in ("paint_by_parsing_true", "flat_grey"))
    assert paint < grey
    # paint-by-parsing with the true parsing draws nothing away from the person; flat grey on a
    # light background is wrong everywhere there, in every pair
    stray = {b: out["baselines"][b]["appearance"]["stray_mark_pairs"]
             for b in ("paint_by_parsing_true", "flat_grey")}
    assert stray["paint_by_parsing_true"]["mean"] == 0 and stray["flat_grey"]["mean"] == 1
    assert stray["flat_grey"]["pairs"] == n
    # the copy of the source is the same person: its colours are closer than the mean image's
    copy, mean = (out["baselines"][b]["appearance"]["colour_error_upper_clothes"]["mean"]
                  for b in ("copy_source", "mean_image"))
    assert copy < mean
    # one row per picture pair (at most 6), seven columns (source, pose, the gan run's parsing,
    # paint-by-parsing, 2 runs, target) and the parsing legend
    img = np.asarray(Image.open(picture))
    rows = min(quality.PICTURE_PAIRS, n)
    scale = -(-96 // 44)
    cells = rows * 64 * scale + (rows + 1) * 2
    assert cells + 11 <= img.shape[0] <= cells + 50  # the cells and a title strip
    assert img.shape[1] >= 7 * 44 * scale + 8 * 2


def test_picture_without_a_predicted_parsing(tmp_path):
    # A one-stage variant first (no parsing): the column shows the first variant that has one.
    rng = np.random.default_rng(0)
    n, h, w = 3, 64, 44
    pairs = {"source_image": rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8),
             "target_image": rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8),
             "target_keypoints": rng.uniform(0, 40, (n, 18, 2)).astype(np.float32),
             "source_parsing": rng.integers(0, 12, (n, h, w), dtype=np.uint8),
             "target_parsing": rng.integers(0, 12, (n, h, w), dtype=np.uint8)}
    images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    parsing = rng.integers(0, 12, (n, h, w), dtype=np.uint8)
    scale = -(-96 // w)
    widths = {}
    for name, results in {
            "none": {"one_stage": {"images": images, "parsing": None}},
            "second": {"one_stage": {"images": images, "parsing": None},
                       "gan": {"images": images, "parsing": parsing}}}.items():
        quality.picture(pairs, results, str(tmp_path / f"{name}.png"))
        widths[name] = np.asarray(Image.open(tmp_path / f"{name}.png")).shape[1]
    # source, pose, paint-by-parsing (true parsing), one variant, target
    assert 5 * w * scale + 6 * 2 <= widths["none"] < 5 * w * scale + 6 * 2 + 20
    assert widths["second"] >= 7 * w * scale + 8 * 2  # + parsing, another variant, legend
    assert quality.VARIANTS["one_stage"](quality.RECIPES["smoke"])[-2:] == ["--stages", "1"]
