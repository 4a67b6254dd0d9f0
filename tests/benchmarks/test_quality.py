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


@pytest.mark.slow
def test_smoke_recipe_end_to_end(tmp_path):
    results, picture = tmp_path / "quality.json", tmp_path / "quality.png"
    assert quality.main(["--recipe", "smoke", "--work", str(tmp_path / "work"),
                         "--results", str(results), "--picture", str(picture)]) == 0
    out = json.loads(results.read_text())
    assert sorted(out["variants"]) == ["gan", "no_gan"]
    n = out["held_out_pairs"]
    assert n >= 2
    for name, v in out["variants"].items():
        assert v["train_seconds"] > 0
        assert {"l1", "ssim", "psnr"} <= set(v["metrics"]["model"])
        assert [g["goal"] for g in v["goals"]] == [g[0] for g in quality.GOALS]
        for g in v["goals"]:
            assert np.isfinite(g["value"]) and isinstance(g["met"], bool)
        assert v["appearance"]["colour_error_skin"]["pairs"] <= n
    for b in ("copy_source", "mean_image"):
        assert "colour_error_upper_clothes" in out["baselines"][b]["appearance"]
    # the copy of the source is the same person: its colours are closer than the mean image's
    copy, mean = (out["baselines"][b]["appearance"]["colour_error_upper_clothes"]["mean"]
                  for b in ("copy_source", "mean_image"))
    assert copy < mean
    # one row per picture pair (at most 6), six columns (source, pose, parsing, 2 runs, target)
    img = np.asarray(Image.open(picture))
    rows = min(quality.PICTURE_PAIRS, n)
    scale = -(-96 // 44)
    cells = rows * 64 * scale + (rows + 1) * 2
    assert cells + 11 <= img.shape[0] <= cells + 50  # the cells and a title strip
    assert img.shape[1] >= 6 * 44 * scale + 7 * 2    # six columns and the parsing legend
