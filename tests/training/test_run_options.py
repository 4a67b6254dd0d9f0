"""`pinet-tf train` options end to end: fine-tuning from import-torch's layout (--init-weights),
--config FILE, --discriminator-dropout, the final weights of all three networks, the held-out
split named in metrics.json, the tiny recipe, and inputs refused before any work."""

import dataclasses
import json
import os
import shutil

import keras
import numpy as np
import pytest

from pinet_tf.cli import build_parser, main
from pinet_tf.config import ModelConfig
from pinet_tf.models import (build_appearance_discriminator, build_generator,
                             build_pose_discriminator)
from pinet_tf.models.io import (discriminator_weights_paths, save_generator,
                                save_weights_atomic)

FAST = ["--schedule", "official", "--steps", "2", "--batch-size", "2", "--perceptual-weight",
        "0", "--image-every", "1000", "--verbose", "0"]


def _records_copy(records, dst, drop_split=None):
    shutil.copytree(records, dst)
    if drop_split:
        path = os.path.join(dst, "manifest.json")
        with open(path) as f:
            manifest = json.load(f)
        for shard in manifest["splits"].pop(drop_split)["shards"]:
            os.unlink(os.path.join(dst, shard["file"]))
        with open(path, "w") as f:
            json.dump(manifest, f)
    return str(dst)


def _trainable(model):
    return [np.asarray(v) for v in model.trainable_weights]


def test_fine_tune_from_import_torch_layout(tmp_path, tiny_records, capsys):
    """PREFIX.weights.h5 + PREFIX.config.json + PREFIX.pose_discriminator.weights.h5 (no
    appearance file): G and D_P start from them, D_A fresh (and the log says so); the records
    have no test split, so metrics.json says it measured the train split."""
    cfg = ModelConfig.tiny()
    keras.utils.set_random_seed(7)
    prefix = str(tmp_path / "release" / "pinet.weights.h5")
    generator, pose = build_generator(cfg), build_pose_discriminator(cfg)
    save_generator(generator, cfg, prefix)
    save_weights_atomic(pose, discriminator_weights_paths(prefix)[0])
    config_file = str(tmp_path / "model.json")
    cfg.save(config_file)
    records = _records_copy(tiny_records, tmp_path / "records", drop_split="test")
    run = str(tmp_path / "run")
    code = main(["train", "--init-weights", prefix, "--config", config_file, "--data", records,
                 "--out", run, "--lr", "1e-9", "--discriminator-dropout", "0.25"] + FAST)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"generator from {prefix}" in out
    assert "pose_discriminator from" in out
    assert "appearance_discriminator initialised fresh" in out
    run_cfg = ModelConfig.load(os.path.join(run, "config.json"))
    assert run_cfg == dataclasses.replace(cfg, discriminator_dropout=0.25)
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["split"] == "train" and metrics["step"] == 2
    assert "no test split" in out
    # All three final weight files load into the builders of the run's config; at lr 1e-9 two
    # steps move nothing visible, so G and D_P are still the released ones.
    final = {}
    for name, build in (("generator", build_generator), ("pose_discriminator",
                                                          build_pose_discriminator),
                        ("appearance_discriminator", build_appearance_discriminator)):
        final[name] = build(run_cfg)
        final[name].load_weights(os.path.join(run, f"{name}.weights.h5"))
    for name, start in (("generator", generator), ("pose_discriminator", pose)):
        for a, b in zip(_trainable(final[name]), _trainable(start)):
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)
    fresh = build_appearance_discriminator(run_cfg)
    assert len(_trainable(fresh)) == len(_trainable(final["appearance_discriminator"]))


def test_init_weights_of_another_shape_are_refused_naming_the_tensor(tmp_path, tiny_records,
                                                                     capsys):
    other = dataclasses.replace(ModelConfig.tiny(), ngf=8)
    prefix = str(tmp_path / "other.weights.h5")
    save_generator(build_generator(other), other, prefix)
    run = tmp_path / "run"
    code = main(["train", "--init-weights", prefix, "--config", "tiny", "--data", tiny_records,
                 "--out", str(run)] + FAST)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert prefix in err and "tensor gp_" in err and "has shape (8,)" in err, err
    assert not run.exists()


def test_corrupt_test_split_is_an_error_and_leaves_no_run(tmp_path, tiny_records, capsys):
    records = _records_copy(tiny_records, tmp_path / "records")
    with open(os.path.join(records, "manifest.json")) as f:
        shard = json.load(f)["splits"]["test"]["shards"][0]["file"]
    path = os.path.join(records, shard)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    run = tmp_path / "run"
    code = main(["train", "--config", "tiny", "--data", records, "--out", str(run)] + FAST)
    err = capsys.readouterr().err
    assert code == 2 and shard in err, err
    assert not run.exists()


@pytest.mark.parametrize("argv, message", [
    (["--lr", "0"], "must be > 0"),
    (["--lr=-1e-3"], "must be > 0"),
    (["--config", "huge"], "official, paper, small, tiny or a config JSON file"),
    (["--config", "missing/model.json"], "no such config file"),
    (["--perceptual-weight", "1", "--vgg-weights", "absent.h5"], "absent.h5 does not exist"),
    (["--discriminator-dropout", "1.5"], "discriminator_dropout"),
    (["--decay-steps", "99999"], "decay_steps must be in [0, 860]"),
    (["--l1-person-weight", "0"], "l1_person_weight (--l1-person-weight) must be > 0"),
    (["--l1-person-weight-joint", "-1"],
     "l1_person_weight_joint (--l1-person-weight-joint) must be > 0"),
    (["--l1-class-weight", "shoe=4"], "unknown class 'shoe'"),
    (["--l1-class-weight", "shoes=0"], "a factor must be a number > 0"),
    (["--l1-class-weight", "shoes"], "--l1-class-weight takes NAME=W (e.g. shoes=4), got 'shoes'"),
    (["--l1-class-weight", "shoes=x"], "--l1-class-weight takes NAME=W"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, argv, message, capsys,
                                                           monkeypatch):
    """No --data: a run that went ahead would first write 618 synthetic files."""
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--recipe", "tiny", "--out", "run"] + argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert os.listdir(tmp_path) == []


def test_a_run_failing_in_set_up_removes_only_what_it_created(tmp_path, tiny_records, capsys):
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)  # an earlier attempt's logs: a run's own entry
    (run / "logs" / "notes.txt").write_text("mine")
    bad_vgg = tmp_path / "vgg.h5"
    bad_vgg.write_bytes(b"not an HDF5 file")
    code = main(["train", "--config", "tiny", "--data", tiny_records, "--out", str(run),
                 "--perceptual-weight", "1", "--vgg-weights", str(bad_vgg), "--schedule",
                 "official", "--steps", "1"])
    assert code == 2 and "vgg.h5" in capsys.readouterr().err
    assert sorted(os.listdir(run)) == ["logs"] and os.listdir(run / "logs") == ["notes.txt"]


def test_tiny_recipe_and_explicit_options_over_it():
    from pinet_tf.training.cli import configs

    def parse(*argv):
        return configs(build_parser().parse_args(["train", "--out", "r", *argv]))

    cfg, train_cfg = parse("--recipe", "tiny")
    assert cfg == ModelConfig.tiny()
    assert (train_cfg.schedule, train_cfg.steps, train_cfg.batch_size) == ("paper",
                                                                         (60, 500, 300), 8)
    assert (train_cfg.learning_rate, train_cfg.gan_weight, train_cfg.perceptual_weight) == \
        (1e-3, 0.0, 0.0)
    cfg, train_cfg = parse("--recipe", "tiny", "--steps", "6,5,3", "--no-shuffle")
    assert train_cfg.steps == (6, 5, 3) and train_cfg.batch_size == 8 and not train_cfg.shuffle
    cfg, train_cfg = parse("--schedule", "official", "--perceptual-weight", "0")
    assert cfg == ModelConfig.official() and train_cfg.steps == (700 * 4000 // 6,)
    assert train_cfg.learning_rate == 2e-4 and train_cfg.shuffle


# -- issue 29 (and issue 27, item 5) ---------------------------------------------------------------
def _one_error(capsys):
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("pinet-tf train: error:")]
    assert len(lines) == 1 and "Traceback" not in captured.err + captured.out, captured.err
    return lines[0]


def _tree(folder):
    return {os.path.join(r, n): open(os.path.join(r, n), "rb").read()
            for r, _, fs in os.walk(folder) for n in fs}


def test_out_holding_unrelated_files_is_refused(tmp_path, tiny_records, capsys):
    run = tmp_path / "photos"
    run.mkdir()
    (run / "holiday.jpg").write_bytes(b"mine")
    assert main(["train", "--config", "tiny", "--data", tiny_records, "--out", str(run)]
                + FAST) == 2
    line = _one_error(capsys)
    assert f"--out {run}: holds files that are not a training run's (holiday.jpg)" in line
    assert _tree(run) == {str(run / "holiday.jpg"): b"mine"}


@pytest.fixture
def resumable(tmp_path, tiny_records):
    """A run directory with a checkpoint, its configs and the record of its data."""
    import tensorflow as tf

    from pinet_tf.training.config import TrainConfig

    run = tmp_path / "run"
    tf.train.Checkpoint(step=tf.Variable(1)).save(str(run / "checkpoints" / "ckpt"))
    ModelConfig.tiny().save(str(run / "config.json"))
    TrainConfig(schedule="official", steps=(2,), batch_size=2, perceptual_weight=0.0).save(
        str(run / "train_config.json"))
    (run / "data.json").write_text(json.dumps({"records": tiny_records}))
    return run


def test_resume_refuses_other_data_unless_data_changed(resumable, tiny_records, tmp_path,
                                                       capsys):
    other = _records_copy(tiny_records, tmp_path / "other")
    before = _tree(resumable)
    assert main(["train", "--resume", "--out", str(resumable), "--data", other]) == 2
    line = _one_error(capsys)
    assert f"the run trained on {tiny_records}" in line and "--data-changed" in line, line
    assert _tree(resumable) == before
    # the same records under another spelling are the same data
    same = os.path.join(tiny_records, "..", os.path.basename(tiny_records))
    from pinet_tf.training.run import check_run
    assert check_run(None, None, str(resumable), same, resume=True)[0] == ModelConfig.tiny()
    assert check_run(None, None, str(resumable), other, resume=True, data_changed=True)


@pytest.mark.parametrize("file, text, problem", [
    ("data.json", '{"records": ', "not valid JSON"),
    ("data.json", '{"records": 3}', "expected {\"records\""),
    ("data.json", json.dumps({"records": "/nonexistent/records"}), "which is missing"),
    ("config.json", '{"name": "tiny", "image_height": 64', "not valid JSON"),
    ("config.json", '{"name": "tiny", "ngf": 4.5}', "'ngf' must be an integer"),
    ("train_config.json", '{"schedule": "official", "steps": [2', "not valid JSON"),
    ("train_config.json", '{"batch_size": "two"}', "'batch_size' must be an integer"),
    ("train_config.json", '{"shuffle": 1}', "'shuffle' must be true or false"),
], ids=["data.json truncated", "data.json wrong type", "recorded records missing",
        "config.json truncated", "config.json wrong type", "train_config.json truncated",
        "train_config.json wrong type", "train_config.json int for bool"])
def test_resume_with_a_damaged_run_file_is_one_line(resumable, capsys, file, text, problem):
    (resumable / file).write_text(text)
    before = _tree(resumable)
    assert main(["train", "--resume", "--out", str(resumable)]) == 2
    line = _one_error(capsys)
    named = "/nonexistent/records" if problem == "which is missing" else str(resumable / file)
    assert named in line and problem in line, line
    assert _tree(resumable) == before


@pytest.mark.parametrize("how, split, expected", [
    ("wrong height", "test", "record 0 of"),
    ("flipped byte", "test", "is corrupt"),
])
def test_train_on_records_only_tensorflow_finds_damaged(tmp_path, tiny_records, capsys, how,
                                                        split, expected):
    """Issue 29, class 5: the manifest is consistent (sizes and sha256 rewritten), so only the
    record checksum or the PNG decoder notices; one line names the shard, no run is left."""
    from tests import bad_files

    records = _records_copy(tiny_records, tmp_path / "records")
    shard = bad_files.damage_records(records, how, split, at=0.05)
    run = tmp_path / "run"
    assert main(["train", "--config", "tiny", "--data", records, "--out", str(run)] + FAST) == 2
    line = _one_error(capsys)
    assert os.path.join(records, shard) in line and expected in line, line
    assert not run.exists()


def test_resume_of_an_older_run_without_its_data_record_asks_for_data(resumable, capsys):
    """A run from before data.json that trained on given records (no RUN_DIR/data): resuming it
    without --data must not make a fresh synthetic set and train on it (issue 29)."""
    (resumable / "data.json").unlink()
    before = _tree(resumable)
    assert main(["train", "--resume", "--out", str(resumable)]) == 2
    line = _one_error(capsys)
    assert "has no data.json" in line and "pass --data RECORDS" in line, line
    assert _tree(resumable) == before


def test_decay_steps_reaches_the_train_config():
    from pinet_tf.training.cli import configs

    args = build_parser().parse_args(["train", "--recipe", "tiny", "--out", "run",
                                      "--steps", "10,20,30", "--decay-steps", "45"])
    _, train_cfg = configs(args)
    assert train_cfg.decay_steps == 45 and train_cfg.total_steps == 60
    args = build_parser().parse_args(["train", "--recipe", "tiny", "--out", "run",
                                      "--steps", "10,20,90"])
    assert configs(args)[1].decay_steps == 40  # the paper's last 4/9 of phase 3
    assert configs(args)[1].loss_weights["l1_person"] == 1.0  # the authors' plain L1
    args = build_parser().parse_args(["train", "--recipe", "tiny", "--out", "run",
                                      "--l1-person-weight", "10"])
    assert configs(args)[1].loss_weights["l1_person"] == 10.0
    assert configs(args)[1].loss_weights["l1_person_joint"] == 10.0  # the same by default
    args = build_parser().parse_args(["train", "--recipe", "tiny", "--out", "run",
                                      "--l1-person-weight", "10",
                                      "--l1-person-weight-joint", "4"])
    assert configs(args)[1].loss_weights["l1_person_joint"] == 4.0
    assert configs(args)[1].l1_class_weights is None  # no class factor unless asked
    args = build_parser().parse_args(["train", "--recipe", "tiny", "--out", "run",
                                      "--l1-class-weight", "shoes=4",
                                      "--l1-class-weight", "hair=2.5"])
    assert configs(args)[1].l1_class_weights == {"shoes": 4.0, "hair": 2.5}


def test_no_output_batch_norm_reaches_the_model_config():
    from pinet_tf.training.cli import configs

    def cfg(*argv):
        return configs(build_parser().parse_args(["train", "--recipe", "tiny", "--out", "run",
                                                  *argv]))[0]

    assert cfg().output_batch_norm  # the authors' code: BatchNorm on every layer
    assert not cfg("--no-output-batch-norm").output_batch_norm
    assert cfg("--no-output-batch-norm") == ModelConfig.from_dict(
        {**ModelConfig.tiny().to_dict(), "output_batch_norm": False})
