"""benchmarks/appearance_probe.py: what the image generator takes from the source."""

import json

import numpy as np
import pytest

from benchmarks import appearance_probe
from pinet_tf.config import ModelConfig
from pinet_tf.datasets import make_dataset
from pinet_tf.models.encoding import float_to_uint8


def test_class_medians_are_each_class_median_of_the_train_targets(tiny_records):
    cfg = ModelConfig.tiny()
    got = appearance_probe.class_medians(tiny_records, cfg, pairs=10 ** 6)
    images, labels = [], []
    for batch in make_dataset(tiny_records, "train", cfg, 5, training=False):
        images.append(np.asarray(float_to_uint8(batch["target_image"])))
        labels.append(np.asarray(batch["target_parsing"]))
    images, labels = np.concatenate(images), np.concatenate(labels)
    for c in range(12):
        # the probe subsamples every 7th pixel of each batch of 32; with every pixel the median
        # moves by at most a few levels on this data, and an absent class is grey
        if (labels == c).any():
            assert np.abs(got[c].astype(int) - np.median(images[labels == c], 0)).max() <= 12, c
        else:
            assert (got[c] == 128).all(), c


@pytest.mark.trained
def test_probe_of_the_quick_start_run(trained_tiny_run, tiny_records, tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert appearance_probe.main([trained_tiny_run, "--data", tiny_records, "--pairs", "12",
                                  "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["pairs"] == 12
    names = ("model", "gi_true_guide", "gi_identity", "gi_no_attention", "class_prior",
             "paint_by_parsing", "paint_by_parsing_true", "flat_grey")
    assert all(np.isfinite(r[k]) and 0 <= r[k] <= 255 for k in names), r
    # the measures are different predictions, not one number printed seven times
    assert len({round(r[k], 6) for k in names}) == len(names), r
    # the trained run has learnt something: better than grey, and the true parsing paints
    # better than no source information at all
    assert r["model"] < r["flat_grey"] and r["paint_by_parsing_true"] < r["class_prior"], r
    assert "gi_identity" in capsys.readouterr().out
    assert r["split"] == "test"


@pytest.mark.trained
def test_probe_on_training_pairs(trained_tiny_run, tiny_records, tmp_path):
    out = tmp_path / "probe.json"
    assert appearance_probe.main([trained_tiny_run, "--data", tiny_records, "--pairs", "7",
                                  "--split", "train", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["split"] == "train" and r["pairs"] == 7
    # the baselines are those of the first 7 training pairs in record order, computed here
    from pinet_tf.metrics.person import paint_by_parsing, person_l1

    b = next(iter(make_dataset(tiny_records, "train", ModelConfig.tiny(), 7, training=False,
                               deterministic=True)))
    source, target = (np.asarray(float_to_uint8(b[k])) for k in ("source_image", "target_image"))
    truth = np.asarray(b["target_parsing"])
    painted = paint_by_parsing(source, np.asarray(b["source_parsing"]), truth)
    assert r["paint_by_parsing_true"] == pytest.approx(
        float(np.nanmean(person_l1(painted, target, truth))), abs=1e-4)
    assert r["flat_grey"] == pytest.approx(
        float(np.nanmean(person_l1(np.full_like(target, 128), target, truth))), abs=1e-4)
    # the model's background, stray marks and parsing on the same pairs, computed here
    from pinet_tf.metrics.person import STRAY_MIN_PIXELS, background_l1, stray_pixels
    from pinet_tf.models.generators import PARSING_GENERATOR_INPUTS
    from pinet_tf.models.io import load_generator

    generator, _ = load_generator(trained_tiny_run)
    out = generator({k: b[k] for k in PARSING_GENERATOR_INPUTS}, training=False)
    model = np.asarray(float_to_uint8(out["image"]))
    own = np.argmax(np.asarray(out["parsing_logits"]), -1)
    assert r["model_background"] == pytest.approx(
        float(np.nanmean(background_l1(model, target, truth))), abs=1e-3)
    assert r["stray_mark_pairs"] == pytest.approx(
        float(np.mean(stray_pixels(model, target, truth) >= STRAY_MIN_PIXELS)))
    assert r["parsing_accuracy"] == pytest.approx(float((own == truth).mean()), abs=1e-6)
    # G_i on the true guide with its attention off, computed here; the probe put gamma back
    from benchmarks.image_generator_alone import pair_inputs

    image_generator = generator.get_layer("image_generator")
    gamma = image_generator.get_layer("gi_attention").gamma
    trained = gamma.numpy()
    assert np.abs(trained).max() > 0  # trained: the attention is on, and switching it off counts
    gamma.assign(np.zeros_like(trained))
    inputs, _, _ = pair_inputs({k: np.asarray(v) for k, v in b.items()
                                if v.dtype.name != "string"}, False)
    off = np.asarray(float_to_uint8(image_generator(inputs, training=False)["image"]))
    assert r["gi_no_attention"] == pytest.approx(
        float(np.nanmean(person_l1(off, target, truth))), abs=1e-4)
    assert r["gi_no_attention"] != pytest.approx(r["gi_true_guide"], abs=1e-6)
    assert 0.5 < r["parsing_accuracy"] <= 1.0  # the trained G_p parses better than chance
    # where: per class and boundary/interior pixel means, against the same pairs computed here
    from pinet_tf.config import CLASS_NAMES

    where = r["where"]
    diff = np.abs(painted.astype(float) - target).mean(-1)
    for c in np.unique(truth[truth != 0]):
        row = where[CLASS_NAMES[c]]
        assert row["paint_by_parsing_true"] == pytest.approx(diff[truth == c].mean(), abs=1e-4)
        assert row["share"] == pytest.approx((truth == c).sum() / (truth != 0).sum())
    edge = appearance_probe.class_boundary(truth) & (truth != 0)
    assert where["boundary"]["paint_by_parsing_true"] == pytest.approx(diff[edge].mean(), abs=1e-4)
    assert where["boundary"]["share"] + where["interior"]["share"] == pytest.approx(1.0)
    # the class rows split the person's pixels: their share-weighted means give the pixel mean
    classes = [row for name, row in where.items() if name not in ("boundary", "interior")]
    for name in appearance_probe.WHERE:
        assert sum(row["share"] * row[name] for row in classes) == pytest.approx(
            where["boundary"]["share"] * where["boundary"][name]
            + where["interior"]["share"] * where["interior"][name], rel=1e-9)
    # where_unmoved: the same over the source's classes, against the source painted with its own
    # class means
    unmoved = r["where_unmoved"]
    source_parsing = np.asarray(b["source_parsing"])
    flat = paint_by_parsing(source, source_parsing, source_parsing)
    diff = np.abs(flat.astype(float) - source).mean(-1)
    for c in np.unique(source_parsing[source_parsing != 0]):
        row = unmoved[CLASS_NAMES[c]]
        assert row["paint_by_parsing_unmoved"] == pytest.approx(diff[source_parsing == c].mean(),
                                                                abs=1e-4)
        assert row["share"] == pytest.approx((source_parsing == c).sum()
                                             / (source_parsing != 0).sum())
    assert set(unmoved["boundary"]) == {"share", *appearance_probe.WHERE_UNMOVED}


def test_class_boundary_marks_pixels_next_to_another_class():
    parsing = np.zeros((1, 4, 5), int)
    parsing[0, 1:3, 1:3] = 2
    want = np.zeros((1, 4, 5), bool)
    want[0, 0:4, 0:4] = True   # the 2x2 block and its ring (clipped by the picture's edge)
    np.testing.assert_array_equal(appearance_probe.class_boundary(parsing), want)
    assert not appearance_probe.class_boundary(np.ones((2, 3, 3), int)).any()


def test_a_missing_run_is_one_line(tmp_path, tiny_records, capsys):
    assert appearance_probe.main([str(tmp_path / "nothing"), "--data", tiny_records]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0], err
