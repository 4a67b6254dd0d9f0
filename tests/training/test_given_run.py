"""`PINET_TF_TRAINED_RUN` (how CI hands the Quick start's run to the tests) takes only a finished
run of the Quick start command: anything else is named in one line (tests/fixtures_training.py)."""

import dataclasses
import os

import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.training.config import TrainConfig, recipe
from tests.fixtures_training import quick_start_run_problem


def _run(folder, cfg=None, **train_overrides):
    """A RUN_DIR's files as `pinet-tf train --recipe tiny` leaves them (weights are not read)."""
    os.makedirs(os.path.join(folder, "data"))
    (cfg or ModelConfig.tiny()).save(os.path.join(folder, "config.json"))
    _, values = recipe("tiny")
    TrainConfig(**{**values, **train_overrides}).save(os.path.join(folder, "train_config.json"))
    for name in ("metrics.json", "generator.weights.h5"):
        with open(os.path.join(folder, name), "w") as f:
            f.write("{}")
    return str(folder)


def test_the_quick_start_run_is_taken(tmp_path):
    assert quick_start_run_problem(_run(tmp_path / "run")) is None


@pytest.mark.parametrize("change, problem", [
    ({"learning_rate": 2e-4}, "its train_config.json has learning_rate=0.0002, the tiny recipe 0.001"),
    ({"steps": (1, 1, 1)}, "its train_config.json has steps=(1, 1, 1), the tiny recipe (60, 500, 300)"),
])
def test_another_recipe_is_named(tmp_path, change, problem):
    assert quick_start_run_problem(_run(tmp_path / "run", **change)) == problem


def test_another_model_unfinished_run_or_own_data_is_named(tmp_path):
    other = dataclasses.replace(ModelConfig.tiny(), stages=1)
    assert quick_start_run_problem(_run(tmp_path / "a", other)) == \
        "its config.json is not the tiny preset"
    unfinished = _run(tmp_path / "b")
    os.remove(os.path.join(unfinished, "metrics.json"))
    assert quick_start_run_problem(unfinished) == \
        "it has no metrics.json (not a finished `pinet-tf train` run)"
    given_data = _run(tmp_path / "c")
    os.rmdir(os.path.join(given_data, "data"))
    assert "trained on --data" in quick_start_run_problem(given_data)
    assert quick_start_run_problem(str(tmp_path / "missing")).startswith("it has no config.json")
