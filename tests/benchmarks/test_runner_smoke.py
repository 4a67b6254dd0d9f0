"""The benchmark runner: its JSON structure, ratio arithmetic and README table (no timing asserts).

One real end-to-end run at a tiny size (one TF stage in a subprocess, the torch stage skipped as
if torch were absent); the rest works on hand-made stage results, so it is fast and exact.
"""

import json

import pytest

from benchmarks import run, to_markdown


def _stage(median, rss=100.0, **kw):
    return {"median_s": median, "times_s": [median], "peak_rss_mb": rss, "stage_wall_s": 1.0,
            **kw}


def test_quick_run_writes_every_key_with_nulls_and_reasons(tmp_path):
    rc = run.main(["--name", "smoke", "--quick", "--config", "tiny", "--size", "32x24",
                   "--no-torch", "--only", "forward_keras_b1,forward_torch_b1",
                   "--out-dir", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "smoke.json").read_text())
    assert set(res["ratios"]) == set(run.RATIO_KEYS)
    assert "forward_b1" in res["peak_fraction"]
    # Nothing that needs torch or an unrun stage has a value, and each null says why.
    for key, value in res["ratios"].items():
        assert value is None
        assert res["ratio_null_reasons"][key]
    assert "--no-torch" in res["stages"]["forward_torch_b1"]["skipped"]
    assert "--no-torch" in res["ratio_null_reasons"]["forward_b1"] or \
        "forward_savedmodel_b1" in res["ratio_null_reasons"]["forward_b1"]
    keras_b1 = res["stages"]["forward_keras_b1"]
    assert "error" not in keras_b1, keras_b1.get("error")
    assert keras_b1["median_s"] > 0 and len(keras_b1["times_s"]) == 1
    assert keras_b1["peak_rss_mb"] > 50  # a TF process; the child's own ru_maxrss
    assert keras_b1["output_std"] > 1e-3  # activations O(1), not vanishing (see randomise_tf)
    md = (tmp_path / "smoke.md").read_text()
    assert "forward_keras_b1" in md and "QUICK" in md


def test_ratios_from_stage_results():
    stages = {
        "forward_savedmodel_b1": _stage(1.8), "forward_torch_b1": _stage(2.0),
        "forward_savedmodel_b8": _stage(14.0), "forward_torch_b8": _stage(20.0),
        "train_tf_b4": _stage(30.0, rss=4000.0, batch=4),
        "train_torch_b4": _stage(40.0, rss=8000.0, batch=4),
        "tflite": {"variants": {"fp32": {"median_s": 1.6, "size_mb": 80.0},
                                "fp16": {"median_s": 1.7, "size_mb": 40.0},
                                "int8": {"median_s": 1.4, "size_mb": 20.0}},
                   "peak_rss_mb": 1.0},
        "data": {"examples_per_s": 2.0, "peak_rss_mb": 1.0},
        "peak_tf": {"peak_gflops": 200.0},
    }
    stages["forward_savedmodel_b1"]["gflop"] = 248.0
    ratios, reasons, basis = run.compute_ratios(stages)
    assert reasons == {}
    assert ratios["forward_b1"] == pytest.approx(0.9)
    assert ratios["forward_b8"] == pytest.approx(0.7)
    assert ratios["train_step_b4"] == pytest.approx(0.75)
    assert ratios["train_peak_memory"] == pytest.approx(0.5)
    assert ratios["tflite_best_forward"] == pytest.approx(0.7)  # int8 is fastest
    assert "int8" in basis["tflite_best_forward"]
    assert ratios["tflite_int8_size"] == pytest.approx(0.25)
    assert ratios["data_over_train"] == pytest.approx(2.0 / (4 / 30.0))
    fractions, achieved = run.compute_peak_fraction(stages)
    assert achieved["forward_b1"] == pytest.approx(248.0 / 1.8)
    assert fractions["forward_b1"] == pytest.approx(248.0 / 1.8 / 200.0)
    targets = run.check_targets(ratios, fractions)
    assert targets["forward_b1"]["met"] is True            # 0.9 <= 0.9
    assert targets["data_over_train"]["met"] is True       # 15x >= 5x
    assert targets["peak_fraction.forward_b1"]["met"] is False  # 0.69 < 0.85


def test_failed_and_skipped_stages_give_null_with_reason():
    stages = {"forward_savedmodel_b1": {"error": "exit code 1; log tail: boom"},
              "forward_torch_b1": _stage(2.0),
              "train_tf_b4": _stage(30.0, batch=4), "train_torch_b4": {"skipped": "no torch"}}
    ratios, reasons, _ = run.compute_ratios(stages)
    assert ratios["forward_b1"] is None and "failed" in reasons["forward_b1"]
    assert ratios["train_step_b4"] is None and "no torch" in reasons["train_step_b4"]
    assert ratios["train_peak_memory"] is None
    assert "not run" in reasons["data_over_train"]


def test_flop_count_matches_the_spec_and_the_torch_free_count():
    cfg = run.model_config("official", None)
    flop = run.generator_flop_torchless(cfg)
    assert flop == pytest.approx(2 * 123.9e9, rel=1e-3)  # official_checkpoint.md §10
    tiny = run.model_config("tiny", "32x24")
    assert run.generator_flop(tiny) == pytest.approx(run.generator_flop_torchless(tiny))


def test_select_stages_groups_and_errors():
    args = run.parse_args([])
    stages = run.all_stages(args)
    names = [s.name for s in run.select_stages(stages, "peak,forward_torch_b8")]
    assert names == ["peak_tf", "peak_torch", "forward_torch_b8"]
    with pytest.raises(ValueError, match="unknown stage or group"):
        run.select_stages(stages, "forwards")
    assert "train_tf_b4_mixed" in [s.name for s in run.all_stages(
        run.parse_args(["--mixed-precision"]))]


def test_markdown_table_and_readme_markers(tmp_path):
    res = {"name": "x", "settings": {"threads": 2, "repeats": 3, "config": "official"},
           "machine": {"cpu": "CPU"}, "stages": {"forward_savedmodel_b1": _stage(1.8),
                                                 "forward_torch_b1": _stage(2.0)},
           "ratios": {"forward_b1": 0.9}, "targets": run.check_targets({"forward_b1": 0.9}, {})}
    text = to_markdown.render(res)
    assert "| generator forward, batch 1 (SavedModel) | 1.80 s | 2.00 s | 0.90 | <= 0.9 | yes |" \
        in text
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\n## Performance\n{to_markdown.START}\nold\n{to_markdown.END}\nend\n")
    to_markdown.update_readme(str(readme), text)
    content = readme.read_text()
    assert "old" not in content and "1.80 s" in content and content.endswith("end\n")
    bad = tmp_path / "bad.md"
    bad.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        to_markdown.update_readme(str(bad), text)


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="--size"):
        run.model_config("tiny", "64by44")
    assert run.model_config("tiny", "32x24").image_size == (32, 24)
