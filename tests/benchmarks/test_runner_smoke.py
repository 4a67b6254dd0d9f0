"""The benchmark package: its JSON structure, registry, FLOP and ratio arithmetic, tables.

No timing asserts. One real end-to-end run at a tiny size (one TF stage in a subprocess, the
torch stage skipped as if torch were absent); the rest works on hand-made stage results or
hand-computed FLOP counts, so it is fast and exact.
"""

import json
import math
import os

import pytest

from benchmarks import analysis, common, registry, run, to_markdown

BENCH = os.path.dirname(os.path.abspath(run.__file__))


def _stage(median, rss=100.0, **kw):
    return {"median_s": median, "times_s": [median], "peak_rss_mb": rss, "stage_wall_s": 1.0,
            **kw}


def test_quick_run_writes_every_key_with_nulls_and_reasons(tmp_path):
    rc = run.main(["--name", "smoke", "--quick", "--config", "tiny", "--size", "32x24",
                   "--no-torch", "--stages", "forward_keras_b1,forward_torch_b1",
                   "--out-dir", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "smoke.json").read_text())
    assert set(res["ratios"]) == set(analysis.RATIO_KEYS)
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
    assert keras_b1["framework"] == "tf"
    # FLOP of the timed call and its rate; no peak stage ran, so no fraction.
    cfg = common.model_config("tiny", "32x24")
    assert keras_b1["gflop"] == pytest.approx(common.generator_flop(cfg) / 1e9)
    assert keras_b1["achieved_gflops"] == pytest.approx(keras_b1["gflop"] / keras_b1["median_s"])
    assert keras_b1["peak_fraction"] is None
    assert res["achieved_gflops"]["forward_keras_b1"] == keras_b1["achieved_gflops"]
    md = (tmp_path / "smoke.md").read_text()
    assert "forward_keras_b1" in md and "QUICK" in md
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_unknown_stage_is_one_line_naming_the_known_ones(tmp_path, capsys):
    rc = run.main(["--name", "x", "--only", "forward_keras_b1,forwards",
                   "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "unknown stage or group forwards" in err
    for known in ("forward_keras_b1", "train_torch_b4", "peak", "variants"):
        assert known in err
    assert not (tmp_path / "out").exists()  # refused before any work
    assert run.main(["--size", "64by44", "--out-dir", str(tmp_path / "out")]) == 2
    assert "--size" in capsys.readouterr().err


def test_registry_kinds_resolve_and_unknown_kind_is_named():
    for kind, spec in registry.KINDS.items():
        assert callable(registry.lookup(kind)), kind
        assert spec.framework in ("tf", "torch")
    with pytest.raises(ValueError, match=r"unknown stage kind 'forward'; known: .*forward_keras"):
        registry.lookup("forward")
    stages = registry.all_stages()
    assert {st.kind for st in stages} == set(registry.KINDS)
    assert len({st.name for st in stages}) == len(stages)
    assert [st.name for st in stages if st.torch] == ["peak_torch", "forward_torch_b1",
                                                      "forward_torch_b8", "train_torch_b4"]


def test_select_stages_groups_and_errors():
    stages = registry.all_stages()
    names = [s.name for s in registry.select_stages(stages, "peak,forward_torch_b8")]
    assert names == ["peak_tf", "peak_torch", "forward_torch_b8"]
    with pytest.raises(ValueError, match="unknown stage or group"):
        registry.select_stages(stages, "forwards")
    assert "train_tf_b4_mixed" in [s.name for s in run.plan(run.parse_args(["--mixed-precision"]))]
    assert "tflite_trained" in [s.name for s in registry.all_stages(trained_run="RUN")]


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
    ratios, reasons, basis = analysis.compute_ratios(stages)
    assert reasons == {}
    assert ratios["forward_b1"] == pytest.approx(0.9)
    assert ratios["forward_b8"] == pytest.approx(0.7)
    assert ratios["train_step_b4"] == pytest.approx(0.75)
    assert ratios["train_peak_memory"] == pytest.approx(0.5)
    assert ratios["tflite_best_forward"] == pytest.approx(0.7)  # int8 is fastest
    assert "int8" in basis["tflite_best_forward"]
    assert ratios["tflite_int8_size"] == pytest.approx(0.25)
    assert ratios["data_over_train"] == pytest.approx(2.0 / (4 / 30.0))
    fractions, achieved = analysis.compute_peak_fraction(stages)
    assert achieved["forward_b1"] == pytest.approx(248.0 / 1.8)
    assert fractions["forward_b1"] == pytest.approx(248.0 / 1.8 / 200.0)
    targets = analysis.check_targets(ratios, fractions)
    assert targets["forward_b1"]["met"] is True            # 0.9 <= 0.9
    assert targets["data_over_train"]["met"] is True       # 15x >= 5x
    assert targets["peak_fraction.forward_b1"]["met"] is False  # 0.69 < 0.85


def test_failed_and_skipped_stages_give_null_with_reason():
    stages = {"forward_savedmodel_b1": {"error": "exit code 1; log tail: boom"},
              "forward_torch_b1": _stage(2.0),
              "train_tf_b4": _stage(30.0, batch=4), "train_torch_b4": {"skipped": "no torch"}}
    ratios, reasons, _ = analysis.compute_ratios(stages)
    assert ratios["forward_b1"] is None and "failed" in reasons["forward_b1"]
    assert ratios["train_step_b4"] is None and "no torch" in reasons["train_step_b4"]
    assert ratios["train_peak_memory"] is None
    assert "not run" in reasons["data_over_train"]


def test_flop_rates_and_peak_fractions_by_hand():
    stages = {
        "peak_tf": {"peak_gflops": 200.0, "matmul_gflops": 200.0, "conv_gflops": 150.0,
                    "framework": "tf"},
        "peak_torch": {"peak_gflops": 100.0, "matmul_gflops": 90.0, "conv_gflops": 100.0,
                       "framework": "torch"},
        "train_tf_b4": _stage(10.0, batch=4, gflop=1000.0, framework="tf"),
        "train_torch_b4": _stage(20.0, batch=4, gflop=1000.0, framework="torch"),
        "forward_ab_b1": {"gflop": 50.0, "framework": "tf", "batch": 1,
                          "max_abs_diff": {"keras": 0.0},
                          "variants": {"keras": {"median_s": 0.5, "vs_keras": 1.0}}},
        "tflite": {"gflop": 50.0, "framework": "tf",
                   "variants": {"int8": {"median_s": 2.0, "size_mb": 1.0}}},
        "data": {"examples_per_s": 9.0, "framework": "tf"},
    }
    analysis.annotate_flop_rates(stages)
    tf_step, torch_step = stages["train_tf_b4"], stages["train_torch_b4"]
    assert tf_step["achieved_gflops"] == pytest.approx(1000.0 / 10.0)        # 100 GFLOP/s
    assert tf_step["peak_fraction"] == pytest.approx(100.0 / 200.0)          # of TF's peak
    assert tf_step["peak_stage"] == "peak_tf"
    assert torch_step["achieved_gflops"] == pytest.approx(50.0)
    assert torch_step["peak_fraction"] == pytest.approx(50.0 / 100.0)        # of torch's peak
    assert torch_step["peak_stage"] == "peak_torch"
    ab = stages["forward_ab_b1"]["variants"]["keras"]
    assert (ab["achieved_gflops"], ab["peak_fraction"]) == pytest.approx((100.0, 0.5))
    int8 = stages["tflite"]["variants"]["int8"]
    assert (int8["achieved_gflops"], int8["peak_fraction"]) == pytest.approx((25.0, 0.125))
    assert "achieved_gflops" not in stages["data"] and "achieved_gflops" not in stages["peak_tf"]
    fractions, achieved = analysis.compute_peak_fraction(stages)
    assert achieved == pytest.approx({"train_tf_b4": 100.0, "train_torch_b4": 50.0})
    assert fractions == {"forward_b1": None, "train_tf_b4": 0.5, "train_torch_b4": 0.5}
    # Without torch's peak a torch stage is judged against TF's; with no peak, no fraction.
    del stages["peak_torch"]
    assert analysis.peak_of(stages, torch_step) == ("peak_tf", 200.0)
    assert common.flop_rate(1000.0, 10.0, None) == (100.0, None)
    assert common.flop_rate(None, 10.0, 200.0) == (None, None)
    text = to_markdown.render({"stages": stages, "targets": {}})
    assert "| training step b4 GFLOP/s / measured peak (TF 200, torch  GFLOP/s) | 100 (0.50) " \
           "| 50 (0.50) |" in text
    assert "| train_tf_b4 | 10.00 s | 10.00 | – | 100 MiB | 1000.0 | 100 | 0.50 |" in text


def _keras_flop(model) -> float:
    """2 x MACs of every conv and attention matmul of a built Keras model, from its layers."""
    import keras
    from pinet_tf.layers import GatedConv2D, GatedUpsample2D, SelfAttention

    def walk(m):
        for layer in m.layers:
            yield from walk(layer) if isinstance(layer, keras.Model) else [layer]

    mac = 0
    for layer in walk(model):
        if isinstance(layer, (GatedConv2D, GatedUpsample2D)):
            kernel = (layer if isinstance(layer, GatedConv2D) else layer.gated_conv).conv.kernel
        elif isinstance(layer, SelfAttention):
            _, h, w, c = layer.output.shape
            n, inner = h * w, c // layer.reduction
            mac += n * c * (2 * inner + c) + n * n * inner + n * n * c
            continue
        else:
            kernel = getattr(layer, "kernel", None)
            if kernel is None or len(kernel.shape) != 4:
                continue
        kh, kw, cin, cout = kernel.shape
        _, h, w, _ = layer.output.shape
        mac += h * w * kh * kw * cin * cout
    return 2.0 * mac


def test_flop_counts_match_the_spec_the_keras_models_and_a_hand_count():
    from pinet_tf.models import (build_appearance_discriminator, build_generator,
                                 build_pose_discriminator)
    cfg = common.model_config("official", None)
    assert common.generator_flop(cfg) == pytest.approx(2 * 123.9e9, rel=1e-3)  # spec §10
    # One pose discriminator at 256x176 by hand: 7x7 21->64 at full size, 3x3 64->128 at 1/2,
    # 3x3 128->256 at 1/4, then 3 blocks of two 3x3 256->256 at 1/4.
    d_pose = 2 * (256 * 176 * 49 * 21 * 64 + 128 * 88 * 9 * 64 * 128 + 64 * 44 * 9 * 128 * 256
                  + 6 * 64 * 44 * 9 * 256 * 256)
    assert common.discriminator_flop(cfg, 21) == d_pose
    d_app = d_pose - 2 * 256 * 176 * 49 * (21 - 6) * 64
    vgg = 2 * 256 * 176 * 9 * (3 * 64 + 64 * 64)
    step = 4 * (3 * common.generator_flop(cfg) + 3 * vgg + 8 * (d_pose + d_app))
    assert common.train_step_flop(cfg, 4) == pytest.approx(step)
    assert step / 1e9 == pytest.approx(4747.7, rel=1e-4)  # the figure benchmarks/README.md quotes
    tiny = common.model_config("tiny", "32x24")
    assert common.generator_flop(tiny) == pytest.approx(_keras_flop(build_generator(tiny)))
    assert common.discriminator_flop(tiny, 21) == pytest.approx(
        _keras_flop(build_pose_discriminator(tiny)))
    assert common.discriminator_flop(tiny, 6) == pytest.approx(
        _keras_flop(build_appearance_discriminator(tiny)))


def test_torch_train_step_is_the_authors_step_from_tests_reference(monkeypatch):
    pytest.importorskip("torch")
    from benchmarks.stages.train_torch import torch_train_step
    from tests.reference import official_step

    calls = []

    def recorded(netG, netD_PB, netD_PP, optimizers, vgg, batch):
        calls.append({"nets": (netG, netD_PB, netD_PP), "batch": batch})
        calls[-1]["losses"] = real(netG, netD_PB, netD_PP, optimizers, vgg, batch)
        return calls[-1]["losses"]

    real = official_step.official_step
    monkeypatch.setattr(official_step, "official_step", recorded)
    cfg = common.model_config("tiny", "32x24")
    step = torch_train_step(cfg, batch=2)
    losses = [step(), step()]
    assert [c["losses"]["g_total"] for c in calls] == losses  # the step is official_step's
    assert all(math.isfinite(v) and v > 0 for v in losses)
    assert losses[0] != losses[1]  # a second iteration: updated weights (and new D dropout)
    netG, netD_PB, _ = calls[0]["nets"]
    assert netG.training and netD_PB.training  # train mode, as the authors train
    assert tuple(calls[0]["batch"]["P1"].shape) == (2, 3, 32, 24)
    assert tuple(calls[0]["batch"]["KP2"].shape) == (2, 18, 32, 24)


def test_markdown_table_and_readme_markers(tmp_path):
    res = {"name": "x", "settings": {"threads": 2, "repeats": 3, "config": "official"},
           "machine": {"cpu": "CPU"}, "stages": {"forward_savedmodel_b1": _stage(1.8),
                                                 "forward_torch_b1": _stage(2.0)},
           "ratios": {"forward_b1": 0.9},
           "targets": analysis.check_targets({"forward_b1": 0.9}, {})}
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
    assert to_markdown.main([str(tmp_path / "missing.json")]) == 2


def test_committed_tables_are_reproducible_from_the_committed_results():
    res = common.read_json(os.path.join(BENCH, "results", "cpu-2core.json"))
    text = to_markdown.render(res)
    with open(os.path.join(BENCH, "results", "cpu-2core.md")) as f:
        assert f.read() == text
    # The performance page renders the same tables from the same file when the site is built.
    with open(os.path.join(os.path.dirname(BENCH), "docs", "results", "performance.md")) as f:
        assert '{{ perf_tables("benchmarks/results/cpu-2core.json") }}' in f.read()


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="--size"):
        common.model_config("tiny", "64by44")
    assert common.model_config("tiny", "32x24").image_size == (32, 24)
