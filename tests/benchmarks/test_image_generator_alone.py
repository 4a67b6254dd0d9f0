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
    (["--attention-class-weight", "-1"], "--attention-class-weight must be >= 0"),
    (["--ngf", "3"], "ngf must be an even number >= 2"),
])
def test_bad_options_are_one_line(tiny_records, tmp_path, capsys, argv, message):
    assert alone.main(["--data", tiny_records, "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x").exists()


def _onehot(labels, classes=4):
    return np.eye(classes, dtype="float32")[np.asarray(labels)][None]


def test_class_lookup_targets_point_each_position_at_its_class_in_the_source():
    """4x4 maps pooled 2x2 to 4 positions: the source holds class 1 at positions 0 and 1,
    class 2 at 2, background at 3; class 3 is not in it."""
    source = _onehot([[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 0, 0], [2, 2, 0, 0]])
    guide = _onehot([[2, 2, 1, 1], [2, 2, 1, 1],
                     [0, 0, 1, 3], [0, 0, 3, 3]])  # position 3: a quarter class 1, rest class 3
    targets, rows, person = (np.asarray(x)[0] for x in
                             alone.class_lookup_targets(guide, source, (2, 2)))
    np.testing.assert_allclose(targets, [[0, 0, 1, 0],        # class 2: where the source has it
                                         [.5, .5, 0, 0],      # class 1: both its places, equally
                                         [0, 0, 0, 1],        # background
                                         [.5, .5, 0, 0]],     # its class 1 part, renormalised
                               atol=1e-6)
    assert rows.tolist() == [1, 1, 1, 0]  # position 3 is mostly a class the source lacks
    assert person.tolist() == [1, 1, 0, 0]


def test_the_lookup_loss_is_added_and_never_below_its_floor(tiny_records, tmp_path):
    """Same seed and batch: the first step's loss with weight 1 is the plain run's loss plus the
    lookup cross-entropy it reports; held out, that cross-entropy is at least the targets'
    entropy (the attention's rows are distributions)."""
    first = {}
    for weight in ("0", "1"):
        out = tmp_path / f"w{weight}.jsonl"
        assert alone.main(["--data", tiny_records, "--out", str(out), "--steps", "1",
                           "--batch-size", "2", "--attention-class-weight", weight]) == 0
        first[weight] = json.loads(out.read_text().splitlines()[0])
    assert first["1"]["loss"] == pytest.approx(first["0"]["loss"] + first["1"]["lookup"],
                                               rel=1e-5)
    assert first["0"]["lookup"] == pytest.approx(first["1"]["lookup"], rel=1e-5)
    for point in first.values():
        assert point["lookup_person"] >= point["lookup_person_floor"] > 0, point


def test_the_rebuilt_g_i_is_g_i_until_an_experiment_changes_it(tiny_records, tmp_path):
    """Layer by layer with neither experiment, G_i draws exactly what G_i draws. The lookup
    oracle with gamma 0 still does (the attention is then the identity), with gamma 1 it does
    not; the skip connections change the picture whatever gamma is."""
    import tensorflow as tf

    from pinet_tf.config import ModelConfig
    from pinet_tf.training.run import held_out, held_out_split

    model, _ = alone.build(_args(tiny_records, tmp_path / "a"))
    batch = next(iter(held_out(tiny_records, held_out_split(tiny_records),
                               ModelConfig.tiny(), 2)))
    inputs, _, _ = alone.pair_inputs({k: v for k, v in batch.items() if v.dtype != tf.string},
                                     identity=False)

    def draw(**experiment):  # training=True: batch statistics (a new model draws ~0 otherwise)
        return np.asarray(alone.rebuilt(model, inputs, True, **experiment)[0])

    own = np.asarray(model(inputs, training=True)["image"])
    assert np.abs(own).max() > 0.1
    for experiment in ({}, {"lookup": True}):
        np.testing.assert_allclose(draw(**experiment), own, atol=1e-5)
    assert np.abs(draw(skips=True) - own).max() > 1e-2
    model.get_layer("gi_attention").gamma.assign([1.0])
    own = np.asarray(model(inputs, training=True)["image"])
    np.testing.assert_allclose(draw(), own, atol=1e-5)
    assert np.abs(draw(lookup=True) - own).max() > 1e-2
    features = alone.rebuilt(model, inputs, True)[1]
    assert features.shape[1:3] == (16, 11)  # the attention's 1/4 resolution at 64x44
