"""The held-out appearance curve (`--curve-every`, `AppearanceCurve`, RUN_DIR/curve.jsonl)."""

import json
import os

import numpy as np
import pytest

from pinet_tf.cli import main
from pinet_tf.config import ModelConfig
from pinet_tf.metrics.person import background_l1, paint_by_parsing, person_l1
from pinet_tf.models.encoding import float_to_uint8
from pinet_tf.training.callbacks import AppearanceCurve, read_curve
from tests.fixtures_data import TINY_TEST_PAIRS

FAST = ["--recipe", "tiny", "--steps", "1,2,1", "--batch-size", "2", "--image-every", "1000",
        "--checkpoint-every", "2", "--verbose", "0"]


def _held_out(records, pairs):
    from pinet_tf import datasets

    ds = datasets.make_dataset(records, "test", ModelConfig.tiny(), pairs, training=False,
                               deterministic=True)
    return {k: v.numpy() for k, v in next(iter(ds)).items() if v.dtype.name != "string"}


def test_train_writes_the_curve_with_its_baselines(tmp_path, tiny_records):
    run = str(tmp_path / "run")
    assert main(["train", *FAST, "--data", tiny_records, "--out", run, "--curve-every", "2",
                 "--curve-pairs", "20"]) == 0
    points = read_curve(os.path.join(run, "curve.jsonl"))
    assert [p["step"] for p in points] == [0, 2, 4]
    b = _held_out(tiny_records, 20)
    src, tgt = float_to_uint8(b["source_image"]).numpy(), float_to_uint8(b["target_image"]).numpy()
    tp = b["target_parsing"]
    want_true = np.nanmean(person_l1(paint_by_parsing(src, b["source_parsing"], tp), tgt, tp))
    want_grey = np.nanmean(person_l1(np.full_like(tgt, 128), tgt, tp))
    for p in points:
        assert p["pairs"] == 20
        assert p["paint_by_parsing_true"] == pytest.approx(want_true, rel=1e-9)
        assert p["flat_grey"] == pytest.approx(want_grey, rel=1e-9)
        assert all(np.isfinite(p[k]) for k in ("model", "paint_by_parsing", "copy_source",
                                               "model_background",
                                               "paint_by_parsing_background"))
        assert p["model_over_paint"] == pytest.approx(p["model"] / p["paint_by_parsing"])
    # The TensorBoard scalars are there too.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(os.path.join(run, "logs")).Reload()
    tags = events.Tags()["tensors"] + events.Tags().get("scalars", [])
    assert "heldout_person_l1/model" in tags and "heldout_person_l1/paint_by_parsing" in tags


class _Stub:
    """Just enough of a trainer for the curve's resume logic: a step and a generator that
    outputs grey."""

    def __init__(self, step):
        import keras

        self.step = keras.Variable(step, dtype="int64")
        self.stop_training = False

    def __call__(self, batch, training=False):
        shape = batch["target_image"].shape
        logits = np.zeros(shape[:3] + (12,), np.float32)
        return {"image": np.zeros(shape, np.float32), "parsing_logits": logits}


def test_a_resumed_run_drops_the_points_past_its_checkpoint(tmp_path, tiny_records):
    path = str(tmp_path / "curve.jsonl")
    with open(path, "w") as f:
        for step in (0, 100, 200, 300):
            f.write(json.dumps({"step": step, "model": 1.0}) + "\n")
        f.write('{"step": 40')  # a line cut by a kill
    cb = AppearanceCurve([_held_out(tiny_records, 4)], 100, str(tmp_path / "logs"), path)
    cb.set_model(_Stub(200))
    cb.on_train_begin()
    assert [p["step"] for p in read_curve(path)] == [0, 100, 200]
    cb.model.step.assign(250)
    cb.on_train_batch_end(0)            # not a multiple of 100: nothing
    cb.model.step.assign(300)
    cb.on_train_batch_end(0)
    cb.on_train_end()                   # the same step again: written once
    points = read_curve(path)
    assert [p["step"] for p in points] == [0, 100, 200, 300]
    assert points[-1]["model"] == pytest.approx(points[-1]["flat_grey"])  # grey output
    b = _held_out(tiny_records, 4)
    tgt, tp = float_to_uint8(b["target_image"]).numpy(), b["target_parsing"]
    assert points[-1]["model_background"] == pytest.approx(
        np.nanmean(background_l1(np.full_like(tgt, 128), tgt, tp)))
    assert np.isfinite(points[-1]["paint_by_parsing_background"])


def test_curve_options_are_checked():
    from pinet_tf.training.config import TrainConfig

    with pytest.raises(ValueError, match="curve_every must be >= 0"):
        TrainConfig(curve_every=-1)
    with pytest.raises(ValueError, match="curve_pairs must be >= 1"):
        TrainConfig(curve_pairs=0)
    assert TINY_TEST_PAIRS == 24
