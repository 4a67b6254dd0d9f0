"""`pinet-tf evaluate` end to end on the tiny synthetic records.

The mechanics use a RUN_DIR of an untrained tiny generator (saved, not trained: CI time); the
ranking test uses the training helper's `trained_tiny_run` session fixture.
"""

import hashlib
import json
import os

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from tests.fixtures_data import TINY_TEST_PAIRS, TINY_TRAIN_PAIRS


@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory):
    from pinet_tf.config import ModelConfig
    from pinet_tf.models import build_generator
    from pinet_tf.models.io import save_generator

    run = tmp_path_factory.mktemp("untrained_run")
    cfg = ModelConfig.tiny()
    save_generator(build_generator(cfg), cfg, str(run / "generator.weights.h5"))
    cfg.save(str(run / "config.json"))
    return str(run)


@pytest.fixture(scope="module")
def random_weights_dir(tmp_path_factory):
    """LPIPS (AlexNet) weights with random values in the real files' layout, so LPIPS runs
    without downloads."""
    from tests.metrics.test_lpips import random_state_dicts

    d = tmp_path_factory.mktemp("weights")
    backbone, heads = random_state_dicts("alex")
    np.savez(d / "alexnet-owt-7be5be79.npz", **backbone)
    np.savez(d / "lpips_alex.npz", **heads)
    return str(d)


class SmallInception:
    """Stands in for Inception-v3 (whose 2048x2048 covariance decompositions cost tens of
    seconds on CI): fixed random features and class probabilities of the image pixels."""

    include_top = True

    def __init__(self, weights_path):
        rng = np.random.default_rng(0)
        self.w_pool = rng.normal(size=(8 * 6 * 3, 16))
        self.w_cls = rng.normal(size=(16, 10))
        np.savez(weights_path, pool=self.w_pool, cls=self.w_cls)
        self.weights_path = weights_path

    def __call__(self, images):
        x = np.asarray(images, np.float64)[:, ::8, ::8][:, :8, :6].reshape(len(images), -1)
        pool = np.tanh(x @ self.w_pool / 2000.0)
        logits = pool @ self.w_cls
        e = np.exp(logits - logits.max(1, keepdims=True))
        return {"pool": pool, "probs": e / e.sum(1, keepdims=True)}


def _test_pairs(records, limit=None):
    """uint8 sources and targets of the test split, read independently of the evaluator."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.datasets import make_dataset

    src, tgt = [], []
    for b in make_dataset(records, "test", ModelConfig.tiny(), 4, training=False,
                          deterministic=True, drop_remainder=False):
        src.append(np.round((b["source_image"].numpy() + 1) * 127.5))
        tgt.append(np.round((b["target_image"].numpy() + 1) * 127.5))
    src, tgt = np.concatenate(src), np.concatenate(tgt)
    return (src, tgt) if limit is None else (src[:limit], tgt[:limit])


def _test_parsings(records):
    """Source and target parsings of the test split, in record order."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.datasets import make_dataset

    sp, tp = [], []
    for b in make_dataset(records, "test", ModelConfig.tiny(), 4, training=False,
                          deterministic=True, drop_remainder=False):
        sp.append(b["source_parsing"].numpy())
        tp.append(b["target_parsing"].numpy())
    return np.concatenate(sp), np.concatenate(tp)


def test_evaluate_writes_report_images_grid_and_baselines(untrained_run, tiny_records,
                                                          random_weights_dir, tmp_path, capsys,
                                                          monkeypatch):
    from pinet_tf.evaluation import evaluator as evaluate_module

    out = tmp_path / "rep" / "report.json"
    net = SmallInception(str(tmp_path / "small_inception.npz"))
    real_evaluate = evaluate_module.evaluate
    monkeypatch.setattr(evaluate_module, "evaluate",
                        lambda *a, **k: real_evaluate(*a, **k, inception=net))
    rc = main(["evaluate", "--run", untrained_run, "--data", tiny_records, "--out", str(out),
               "--weights-dir", random_weights_dir, "--batch-size", "4", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    n = report["protocol"]["pairs"]
    assert n == report["data"]["pairs_in_split"] == TINY_TEST_PAIRS
    assert report["protocol"]["image_size"] == [64, 44]
    assert report["protocol"]["resize_method"].startswith("none")
    # Generated images: one lossless PNG per pair at the data's size.
    pngs = sorted(os.listdir(report["protocol"]["generated_images"]))
    assert len(pngs) == TINY_TEST_PAIRS and all(p.endswith(".png") for p in pngs)
    assert np.asarray(Image.open(os.path.join(report["protocol"]["generated_images"],
                                              pngs[0]))).shape == (64, 44, 3)
    # Baselines recomputed here from the data: copy-the-source L1 and PSNR.
    src, tgt = _test_pairs(tiny_records)
    copy = report["metrics"]["copy_source"]
    assert copy["l1"] == pytest.approx(np.mean(np.abs(src - tgt)) / 255, rel=1e-5)
    mse = ((src - tgt) ** 2).mean(axis=(1, 2, 3)) / 255 ** 2
    assert copy["psnr"] == pytest.approx(np.mean(-10 * np.log10(mse)), rel=1e-5)
    # The model's L1 from its saved PNGs.
    gen = np.stack([np.asarray(Image.open(os.path.join(
        report["protocol"]["generated_images"], p)), np.float64) for p in pngs])
    assert report["metrics"]["model"]["l1"] == pytest.approx(
        np.mean(np.abs(gen - tgt)) / 255, rel=1e-5)
    # Every metric with weights ran (IS too: 24 pairs >= its 10 splits); nothing skipped.
    appearance = {"person_l1", "colour_error_skin", "colour_error_hair",
                  "colour_error_upper_clothes", "colour_error_lower_clothes"}
    assert list(report["metrics"]) == ["model", "copy_source", "mean_image", "paint_by_parsing",
                                       "paint_by_parsing_true", "flat_grey"]
    for method in report["metrics"]:
        assert set(report["metrics"][method]) == {"l1", "ssim", "psnr", "lpips", "fid", "is",
                                                  "is_std"} | appearance
    # Paint-by-parsing with the true target parsing, and flat grey, recomputed from the data.
    from pinet_tf.evaluation.baselines import paint_by_parsing, person_l1
    sp, tp = _test_parsings(tiny_records)
    painted = paint_by_parsing(src.astype(np.uint8), sp, tp)
    assert report["metrics"]["paint_by_parsing_true"]["person_l1"] == pytest.approx(
        np.nanmean(person_l1(painted, tgt, tp)), rel=1e-9)
    assert report["metrics"]["flat_grey"]["l1"] == pytest.approx(
        np.mean(np.abs(128 - tgt)) / 255, rel=1e-5)
    assert set(report["beats_paint_by_parsing"]) == set(report["beats_baselines"])
    assert abs(report["metrics"]["copy_source"]["lpips"]) > 0
    assert not report["skipped"], report["skipped"]
    # Weight sources with checksums.
    for w in report["weights"]:
        assert w["sha256"] == hashlib.sha256(open(w["path"], "rb").read()).hexdigest()
    assert {w["role"] for w in report["weights"]} == \
        {"LPIPS alex backbone", "LPIPS alex heads", "Inception network"}
    # FID recomputed here from the stand-in network's features.
    from pinet_tf.metrics import fid_from_features
    assert report["metrics"]["copy_source"]["fid"] == pytest.approx(
        fid_from_features(net(src)["pool"], net(tgt)["pool"]), rel=1e-6)
    assert f"mean of {TINY_TRAIN_PAIRS} target images of the 'train' split" in \
        report["protocol"]["baselines"]["mean_image"]
    md = open(report["files"]["markdown"]).read()
    assert "| model |" in md and "| copy_source |" in md and "## Protocol" in md
    grid = np.asarray(Image.open(report["files"]["grid"]))
    assert grid.shape[0] > 4 * 64 and grid.shape[1] > 6 * 44  # 4 rows x (3 + 3) cells
    ranked = [p["l1"] for p in report["best_pairs_by_l1"]]
    assert ranked == sorted(ranked) and len(ranked) == 4
    assert report["best_pairs_by_l1"][0]["l1"] <= report["worst_pairs_by_l1"][-1]["l1"]
    assert "copy_source" in capsys.readouterr().out


def test_evaluate_limit_without_weights_skips_network_metrics(untrained_run, tiny_records,
                                                              tmp_path, monkeypatch):
    from pinet_tf.evaluation import evaluate
    from pinet_tf.utils.weights import ENV_DIR as ENV_VAR

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    report = evaluate(tiny_records, str(tmp_path / "r.json"), run=untrained_run, limit=3,
                      progress=False)
    assert report["protocol"]["pairs"] == 3
    assert len(os.listdir(tmp_path / "r_images")) == 3
    assert {"l1", "ssim", "psnr", "person_l1"} <= set(report["metrics"]["model"])
    assert not {"lpips", "fid", "is"} & set(report["metrics"]["model"])
    assert "alex.pth" in report["skipped"]["lpips"]
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels" in report["skipped"]["fid"]
    assert all(len(v) < 110 for v in report["skipped"].values())  # one short line each
    src, tgt = _test_pairs(tiny_records, 3)
    assert report["metrics"]["copy_source"]["l1"] == pytest.approx(
        np.mean(np.abs(src - tgt)) / 255, rel=1e-5)


def test_evaluate_inception_score_on_twenty_pairs(untrained_run, tiny_records, tmp_path):
    """IS needs >= 10 pairs: the train split with --limit 20 (2 per split). Identical
    predictions (the mean image) have IS exactly 1; with no other split the mean image comes
    from the evaluated targets."""
    from pinet_tf.evaluation import evaluate

    net = SmallInception(str(tmp_path / "small_inception.npz"))
    report = evaluate(tiny_records, str(tmp_path / "t.json"), run=untrained_run, split="train",
                      limit=20, batch_size=10, inception=net, progress=False)
    m = report["metrics"]
    assert report["protocol"]["pairs"] == 20 and "is" not in report["skipped"]
    assert m["mean_image"]["is"] == pytest.approx(1.0, abs=1e-9)
    assert m["copy_source"]["is"] > 1.0 and m["copy_source"]["is_std"] >= 0
    assert "mean of 20 target images of the 'train' split" in \
        report["protocol"]["baselines"]["mean_image"]


def test_evaluate_saved_model_matches_run(untrained_run, tiny_records, tmp_path):
    """The exported SavedModel's `pose_transfer` signature gives the same pictures and scores."""
    from pinet_tf.evaluation import evaluate
    from pinet_tf.export.savedmodel import export_from_source

    export_from_source(untrained_run, str(tmp_path / "export"))
    a = evaluate(tiny_records, str(tmp_path / "a.json"), saved_model=str(tmp_path / "export"),
                 limit=2, progress=False)
    b = evaluate(tiny_records, str(tmp_path / "b.json"), run=untrained_run, limit=2,
                 progress=False)
    assert a["model"]["kind"] == "saved_model" and a["model"]["path"].endswith("1")
    for k in ("l1", "ssim", "psnr"):
        assert a["metrics"]["model"][k] == pytest.approx(b["metrics"]["model"][k], abs=2e-3)


def test_evaluate_refuses_bad_arguments(untrained_run, tiny_records, tmp_path, capsys):
    assert main(["evaluate", "--run", str(tmp_path / "nope"), "--data", tiny_records,
                 "--out", str(tmp_path / "r.json")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    assert main(["evaluate", "--run", untrained_run, "--data", tiny_records,
                 "--out", str(tmp_path / "r.txt")]) == 2
    assert "must name a .json file" in capsys.readouterr().err
    assert main(["evaluate", "--saved-model", str(tmp_path), "--data", tiny_records,
                 "--out", str(tmp_path / "r.json")]) == 2
    assert "no saved_model.pb" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --run and --saved-model are exclusive
        main(["evaluate", "--run", "a", "--saved-model", "b", "--data", "d", "--out", "o.json"])


@pytest.mark.trained
def test_trained_tiny_run_ranks_above_both_baselines(trained_tiny_run, tiny_records, tmp_path):
    """The session's tiny run (tests/fixtures_training.py) on the held-out pairs: L1 and SSIM."""
    from pinet_tf.evaluation import evaluate

    report = evaluate(tiny_records, str(tmp_path / "trained.json"), run=trained_tiny_run,
                      progress=False)
    m = report["metrics"]
    for baseline in ("copy_source", "mean_image"):
        assert m["model"]["l1"] < m[baseline]["l1"], (baseline, m)
        assert m["model"]["ssim"] > m[baseline]["ssim"], (baseline, m)
    assert report["beats_baselines"]["l1"] and report["beats_baselines"]["ssim"]


def test_evaluate_no_download_grid_zero_and_missing_explicit_file(untrained_run, tiny_records,
                                                                  tmp_path, capsys, monkeypatch):
    """--no-download skips the metrics whose files are absent (saying why); --grid 0 writes no
    picture and no link to one; an explicitly named weights file that is missing is an error
    before any work, not a skip."""
    monkeypatch.delenv("PINET_TF_NO_DOWNLOAD")  # the flag alone must forbid downloads
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    out = tmp_path / "g.json"
    rc = main(["evaluate", "--run", untrained_run, "--data", tiny_records, "--out", str(out),
               "--limit", "3", "--grid", "0", "--no-download", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["files"]["grid"] is None and report["best_pairs_by_l1"] == []
    assert not (tmp_path / "g_best_worst.png").exists()
    assert "best_worst" not in open(report["files"]["markdown"]).read()
    assert report["skipped"]["lpips"] == "lpips_alex.pth not found (downloads off; pass " \
                                         "--weights-dir)"
    assert "skipped lpips" in capsys.readouterr().out
    missing = tmp_path / "nope" / "alex.pth"
    rc = main(["evaluate", "--run", untrained_run, "--data", tiny_records,
               "--out", str(tmp_path / "m.json"), "--lpips-heads", str(missing)])
    err = capsys.readouterr().err
    assert rc == 2 and f"--lpips-heads: weights file {missing} does not exist" in err
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "m_images").exists()
    assert main(["evaluate", "--run", untrained_run, "--data", tiny_records,
                 "--out", str(tmp_path / "n.json"), "--grid", "-1"]) == 2
    assert "--grid must be >= 0" in capsys.readouterr().err


def test_is_skip_names_the_classifier_file_it_needs(tmp_path, monkeypatch):
    from pinet_tf.evaluation.networks import setup_networks
    from pinet_tf.metrics.inception import TOP_FILE
    from pinet_tf.utils.weights import FILES

    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    class NoClassifier(SmallInception):
        include_top = False

    nets = setup_networks(20, inception=NoClassifier(str(tmp_path / "s.npz")))
    assert TOP_FILE in nets.skipped["is"] and len(nets.skipped["is"]) < 160
    assert "fid" not in nets.skipped and nets.inception is not None
    # An explicit notop file: FID from it, IS skipped naming the file IS needs.
    import keras
    notop = tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.weights.h5"
    keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                   input_shape=(299, 299, 3)).save_weights(str(notop))
    nets = setup_networks(20, inception_weights=str(notop))
    assert TOP_FILE in nets.skipped["is"] and str(notop) in nets.skipped["is"]
    assert nets.inception is not None and not nets.inception.include_top
