"""Issue 29, class 5, in `pinet-tf evaluate`: records damaged where only TensorFlow notices (the
record checksum, the PNG decoder, the record count; the manifest's sizes and sha256 made
consistent) end in one line naming the shard and the record, with no report and no picture left.
Also: `--run` finds the run's own records, and an image folder given as `--data` is named as
such."""

import json
import os
import shutil

import pytest

from pinet_tf.cli import main
from tests import bad_files


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_records):
    from pinet_tf.config import ModelConfig
    from pinet_tf.models import build_generator
    from pinet_tf.models.io import save_generator

    run = tmp_path_factory.mktemp("run")
    cfg = ModelConfig.tiny()
    save_generator(build_generator(cfg), cfg, str(run / "generator.weights.h5"))
    cfg.save(str(run / "config.json"))
    (run / "data.json").write_text(json.dumps({"records": tiny_records}))
    return str(run)


def _one_error(capsys):
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("pinet-tf evaluate: error:")]
    assert len(lines) == 1 and "Traceback" not in captured.err + captured.out, captured.err
    return lines[0]


EXPECTED = {"flipped byte": r"record \d+ of \d+ is corrupt",
            "truncated shard": r"record \d+ of \d+ is corrupt",
            "wrong height": r"record 0 of \d+ does not decode as a 68x44 pair",
            "inflated count": r"holds \d+ records, but manifest.json says \d+"}


@pytest.mark.parametrize("how", bad_files.DAMAGES)
def test_evaluate_names_the_damaged_shard_and_leaves_nothing(run, tiny_records, tmp_path,
                                                             capsys, how):
    import re

    records = str(tmp_path / "records")
    shutil.copytree(tiny_records, records)
    shard = bad_files.damage_records(records, how)
    out = tmp_path / "report" / "eval.json"
    out.parent.mkdir()
    (out.parent / "mine.txt").write_text("keep")
    assert main(["evaluate", "--run", run, "--data", records, "--out", str(out),
                 "--no-download", "--no-progress", "--grid", "2"]) == 2
    line = _one_error(capsys)
    assert os.path.join(records, shard) in line and re.search(EXPECTED[how], line), line
    assert os.listdir(out.parent) == ["mine.txt"]  # no report, no images folder


def test_evaluate_run_finds_its_own_records(run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--run", run, "--out", str(out), "--no-download",
                 "--no-progress", "--grid", "0", "--limit", "2"]) == 0
    assert "the run's own records" in capsys.readouterr().out
    assert json.loads(out.read_text())["metrics"]


def test_evaluate_data_that_is_an_image_folder_says_so(run, tiny_synthetic_data, tmp_path,
                                                       capsys):
    assert main(["evaluate", "--run", run, "--data", tiny_synthetic_data, "--out",
                 str(tmp_path / "e.json"), "--no-download"]) == 2
    line = _one_error(capsys)
    assert "is a data folder in the authors' layout" in line and "make-tfrecords --data" in line
    assert "interrupted" not in line, line
    assert main(["evaluate", "--saved-model", run, "--out", str(tmp_path / "e.json")]) == 2
    assert "--saved-model needs --data" in _one_error(capsys)


@pytest.mark.parametrize("text, problem", [
    ('{"name": "tiny", "image_height": 64', "not valid JSON"),
    ('{"name": "tiny", "image_height": "64"}', "'image_height' must be an integer"),
    ('{"name": "tiny", "colour": 1}', "unknown ModelConfig fields"),
    ("[1, 2]", "expected a JSON object"),
], ids=["truncated", "wrong type", "unknown field", "a list"])
def test_evaluate_run_with_a_bad_config_json_is_one_line(run, tmp_path, capsys, text, problem):
    bad = tmp_path / "run"
    shutil.copytree(run, bad)
    (bad / "config.json").write_text(text)
    assert main(["evaluate", "--run", str(bad), "--out", str(tmp_path / "e.json"),
                 "--no-download"]) == 2
    line = _one_error(capsys)
    assert str(bad / "config.json") in line and problem in line, line
    assert not (tmp_path / "e.json").exists()
