"""benchmarks/image_generator_alone.py: G_i trained alone, scored on held-out pairs."""

import json

import numpy as np
import pytest

from benchmarks import image_generator_alone as alone


def _args(records, out, *extra):
    return alone.parser().parse_args(["--data", records, "--out", str(out), *extra])


def test_two_steps_write_held_out_points(tiny_records, tmp_path):
    out = tmp_path / "run.jsonl"
    assert alone.main(["--data", tiny_records, "--out", str(out), "--steps", "2", "--every",
                       "1", "--batch-size", "2", "--identity-fraction", "0.5"]) == 0
    points = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["step"] for p in points] == [1, 2]
    for p in points:
        assert all(np.isfinite(p[k]) and 0 <= p[k] <= 255 for k in ("cross", "ident")), p
        assert all(0 <= p[k] <= 1 for k in ("stray_mark_pairs", "clamped")), p
    assert points[0]["cross"] != points[1]["cross"]  # it trained between the two points


def test_person_weight_trains_on_the_weighted_l1(tiny_records, tmp_path):
    """Same seed and batches: the person-weighted run reports the weighted L1 of its first step,
    which differs from the plain one (the person is drawn worse than the background at init)."""
    first = {}
    for weight in ("1", "10"):
        out = tmp_path / f"w{weight}.jsonl"
        assert alone.main(["--data", tiny_records, "--out", str(out), "--steps", "1",
                           "--batch-size", "2", "--person-weight", weight]) == 0
        first[weight] = json.loads(out.read_text().splitlines()[0])["loss"]
    assert first["10"] != pytest.approx(first["1"], rel=1e-3), first


def test_the_experiment_knobs_change_the_model(tiny_records, tmp_path):
    base, _ = alone.build(_args(tiny_records, tmp_path / "a"))
    changed, _ = alone.build(_args(tiny_records, tmp_path / "b", "--no-output-batch-norm",
                                   "--attention-gamma", "1"))
    assert base.get_layer("gi_gc17").bn is not None
    assert changed.get_layer("gi_gc17").bn is None
    assert changed.get_layer("gi_gc16").bn is not None
    assert float(changed.get_layer("gi_attention").gamma.numpy()[0]) == 1.0
    assert base.count_params() - changed.count_params() == 4 * 3  # gamma, beta, mean, var
    wide, cfg = alone.build(_args(tiny_records, tmp_path / "c", "--ngf", "32"))
    assert cfg.ngf == 32 and wide.get_layer("gi_gc16").filters == 16
    assert base.get_layer("gi_gc16").filters == 8


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps must be >= 1"),
    (["--identity-fraction", "2"], "--identity-fraction must be in [0, 1]"),
    (["--person-weight", "0"], "--person-weight must be > 0"),
    (["--ngf", "3"], "ngf must be an even number >= 2"),
])
def test_bad_options_are_one_line(tiny_records, tmp_path, capsys, argv, message):
    assert alone.main(["--data", tiny_records, "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x").exists()
