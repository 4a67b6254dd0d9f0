"""The ablation variants (paper Table 3) train through `pinet-tf train`: a few tiny steps with
the GAN term on, finite losses, final weights and held-out metrics; the one-stage variant's
schedule (phase 1 skipped, no parsing losses or accuracy), its checkpoint without G_p and an
exact `--resume` from a mid-run checkpoint."""

import contextlib
import io
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.cli import main
from pinet_tf.config import ModelConfig
from tests.training.test_resume import WEIGHTS, assert_same_final_weights

VARIANTS = {"one_stage": ["--stages", "1"], "vanilla": ["--convolution", "vanilla"]}
STEPS = "2,2,2"


def _argv(records, out, variant):
    return ["train", "--config", "tiny", "--data", records, "--out", out, "--steps", STEPS,
            "--batch-size", "2", "--perceptual-weight", "0", "--gan-weight", "1",
            "--checkpoint-every", "3", "--log-every", "2", "--seed", "1", "--verbose", "2",
            *VARIANTS[variant]]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def run(request, tiny_records, tmp_path_factory):
    """(variant, RUN_DIR, exit code, what the run printed)."""
    out = str(tmp_path_factory.mktemp("variant") / request.param)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(_argv(tiny_records, out, request.param))
    return request.param, out, code, printed.getvalue()


def test_variant_trains_and_writes_its_run(run):
    variant, out, code, _ = run
    assert code == 0
    cfg = ModelConfig.load(os.path.join(out, "config.json"))
    assert (cfg.stages, cfg.convolution) == ((1, "gated") if variant == "one_stage"
                                             else (2, "vanilla"))
    for name in WEIGHTS + ("samples/results.png",):
        assert os.path.isfile(os.path.join(out, name)), name
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["step"] == 6
    expected = {"l1", "ssim"} | ({"parsing_accuracy"} if cfg.has_parsing else set())
    assert set(metrics["metrics"]) == expected
    assert all(np.isfinite(v) for v in metrics["metrics"].values())
    saved = {name for name, _ in tf.train.list_variables(os.path.join(out, "checkpoints"))}
    assert any(n.startswith("image_generator/") for n in saved)
    assert any(n.startswith("parsing_generator/") for n in saved) == cfg.has_parsing
    assert any(n.startswith("parsing_optimizer/") for n in saved) == cfg.has_parsing


def test_one_stage_log_skips_phase_one_and_resumes_exactly(run, tiny_records, tmp_path,
                                                            capsys):
    variant, out, code, text = run
    if variant != "one_stage":
        pytest.skip("the one-stage schedule")
    assert "stages=1: no parsing generator, so phase 1's 2 steps are skipped; training starts " \
           "at step 2" in text
    assert "phase 2 (one-stage image generator)" in text
    assert "parsing_ce" not in text and "parsing_accuracy" not in text
    for name in ("l1", "g_gan", "d_pose", "d_appearance", "g_total"):
        assert f"{name}: " in text, name
    assert "results picture (source | target pose | generated | target)" in text

    # Exact resume: roll a copy back to its step-3 checkpoint and resume it to the end.
    copy = str(tmp_path / "copy")
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("data"))
    ckpt = os.path.join(copy, "checkpoints")
    with open(os.path.join(ckpt, "checkpoint"), "w") as f:  # the state file, rolled back
        f.write('model_checkpoint_path: "ckpt-3"\nall_model_checkpoint_paths: "ckpt-3"\n')
    for name in os.listdir(ckpt):
        if name.startswith("ckpt-6"):
            os.unlink(os.path.join(ckpt, name))
    for name in WEIGHTS + ("metrics.json",):
        os.unlink(os.path.join(copy, name))
    assert main(["train", "--out", copy, "--data", tiny_records, "--resume",
                 "--verbose", "0"]) == 0
    assert "resumed" in capsys.readouterr().out
    assert_same_final_weights(out, copy)


def test_one_stage_with_only_phase_one_steps_is_refused(tmp_path, capsys):
    code = main(["train", "--config", "tiny", "--stages", "1", "--out", str(tmp_path / "r"),
                 "--steps", "5,0,0", "--perceptual-weight", "0"])
    assert code == 2
    assert "a one-stage model (stages=1) trains nothing in phase 1" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "r")


def test_evaluate_and_predictor_on_a_one_stage_run(run, tiny_records, tmp_path):
    variant, out, code, _ = run
    if variant != "one_stage":
        pytest.skip("the one-stage run's downstream")
    from pinet_tf.evaluation import evaluate
    from pinet_tf.inference.predictor import load_predictor

    report = evaluate(tiny_records, str(tmp_path / "report.json"), run=out, limit=4,
                      batch_size=2, grid_k=1, progress=False, allow_download=False)
    model = report["metrics"]["model"]
    assert {"l1", "ssim", "psnr"} <= set(model) and not any("parsing" in k for k in model)
    assert {"copy_source", "mean_image"} <= set(report["metrics"])
    assert report["model"]["config"]["stages"] == 1
    predictor = load_predictor(out)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 64, 44, 3)).astype(np.uint8)
    kp = rng.uniform(0, 40, (1, 18, 2)).astype(np.float32)
    generated, parsing = predictor.transfer(image, None, kp, kp[:, ::-1])
    assert generated.shape == (1, 64, 44, 3) and parsing is None
    with pytest.raises(ValueError, match=f"the model in {out} has stages=1"):
        predictor.texture(image, None, kp, image, None, np.ones((1, 12)))
