import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pinet_tf.models import encoding
from pinet_tf.config import KEYPOINT_NAMES, ModelConfig
from pinet_tf.datasets import make_dataset, patn
from pinet_tf.datasets.pipeline import flip_pair, to_model_inputs
from tests.fixtures_data import TINY_TEST_PAIRS, TINY_TRAIN_PAIRS

TINY = ModelConfig.tiny()
RS, LS = KEYPOINT_NAMES.index("right_shoulder"), KEYPOINT_NAMES.index("left_shoulder")


def _first(ds):
    return {k: v.numpy() for k, v in next(iter(ds)).items()}


def test_element_matches_the_contract(tiny_records):
    ds = make_dataset(tiny_records, "train", TINY, batch_size=4, training=True, deterministic=True)
    h, w = TINY.image_size
    expect = {"image": (tf.float32, [4, h, w, 3]), "parsing": (tf.uint8, [4, h, w]),
              "parsing_onehot": (tf.float32, [4, h, w, 12]), "keypoints": (tf.float32, [4, 18, 2]),
              "heatmaps": (tf.float32, [4, h, w, 18]), "name": (tf.string, [4])}
    spec = ds.element_spec
    assert set(spec) == {f"{r}_{k}" for r in ("source", "target") for k in expect}
    for role in ("source", "target"):
        for key, (dtype, shape) in expect.items():
            assert spec[f"{role}_{key}"].dtype == dtype
            assert spec[f"{role}_{key}"].shape.as_list() == shape
    ex = _first(ds)
    assert ex["source_image"].min() >= -1 and ex["source_image"].max() <= 1
    np.testing.assert_allclose(ex["source_parsing_onehot"].sum(-1), 1.0)
    assert (ex["source_parsing_onehot"].argmax(-1) == ex["source_parsing"]).all()


def test_finite_dataset_states_its_length(tiny_records):
    """Keras sizes `evaluate` from the cardinality (no "ran out of data" warning at its end)."""
    full = make_dataset(tiny_records, "test", TINY, 5, training=False)
    assert int(full.cardinality()) == -(-TINY_TEST_PAIRS // 5) == len(list(full))
    dropped = make_dataset(tiny_records, "test", TINY, 5, training=False, drop_remainder=True)
    assert int(dropped.cardinality()) == TINY_TEST_PAIRS // 5 == len(list(dropped))
    endless = make_dataset(tiny_records, "train", TINY, 5, training=True, repeat=True)
    assert int(endless.cardinality()) == int(tf.data.INFINITE_CARDINALITY)


def test_records_reproduce_the_files_bit_exact(tiny_records, tiny_synthetic_data):
    ds = make_dataset(tiny_records, "test", TINY, batch_size=6, training=False, deterministic=True)
    batches = list(ds)
    assert sum(b["source_name"].shape[0] for b in batches) == TINY_TEST_PAIRS
    ann = patn.read_annotations(os.path.join(tiny_synthetic_data, patn.annotation_csv("test")))
    for b in batches:
        images = encoding.float_to_uint8(b["target_image"]).numpy()
        for i, name in enumerate(b["target_name"].numpy()):
            name = name.decode()
            png = np.asarray(Image.open(os.path.join(tiny_synthetic_data, "test", name)))
            labels = np.asarray(Image.open(os.path.join(
                tiny_synthetic_data, "testSPL2", os.path.splitext(name)[0] + ".png")))
            assert np.array_equal(images[i], png)
            assert np.array_equal(b["target_parsing"][i].numpy(), labels)
            assert np.array_equal(b["target_keypoints"][i].numpy(), ann[name].keypoints)


def test_heatmap_peaks_at_the_keypoint_and_missing_is_zero(tiny_records):
    ex = _first(make_dataset(tiny_records, "train", TINY, 8, training=False))
    found = 0
    for kp, hm in zip(ex["source_keypoints"], ex["source_heatmaps"]):
        for k in range(18):
            if kp[k, 0] < 0:
                assert hm[..., k].max() == 0.0
                continue
            y, x = np.unravel_index(hm[..., k].argmax(), hm.shape[:2])
            assert (y, x) == (int(kp[k, 0]), int(kp[k, 1]))
            assert hm[y, x, k] == pytest.approx(1.0)
            found += 1
    assert found > 50


def test_flip_swaps_left_and_right_heatmaps(tiny_records):
    ex = _first(make_dataset(tiny_records, "train", TINY, 1, training=False))
    one = {k: v[0] for k, v in ex.items() if not k.endswith(("heatmaps", "onehot"))}
    one = {k: tf.constant(encoding.float_to_uint8(v) if k.endswith("image") else v)
           for k, v in one.items()}
    w = TINY.image_width
    flipped = to_model_inputs(flip_pair(one, w), TINY)
    plain = to_model_inputs(one, TINY)
    assert plain["source_keypoints"][LS, 0] >= 0
    np.testing.assert_allclose(flipped["source_heatmaps"][..., RS].numpy(),
                               plain["source_heatmaps"][..., LS].numpy()[:, ::-1], atol=1e-6)
    kp, kpf = plain["source_keypoints"].numpy(), flipped["source_keypoints"].numpy()
    perm = list(encoding.FLIP_PERMUTATION)
    assert np.array_equal(kpf[:, 1], np.where(kp[perm, 1] < 0, -1, w - 1 - kp[perm, 1]))
    assert np.array_equal(flipped["source_image"].numpy(), plain["source_image"].numpy()[:, ::-1])
    assert np.array_equal(flipped["target_parsing"].numpy(),
                          plain["target_parsing"].numpy()[:, ::-1])


def test_training_flip_and_determinism(tiny_records):
    def names(**kw):
        ds = make_dataset(tiny_records, "train", TINY, 6, training=True, deterministic=True,
                          flip=True, **kw)
        return [(b["source_name"].numpy().tolist(), b["source_image"].numpy()) for b in ds]

    a, b = names(), names()
    assert len(a) == TINY_TRAIN_PAIRS // 6 and [x[0] for x in a] == [x[0] for x in b]
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    c = names(seed=5)
    assert [x[0] for x in a] != [x[0] for x in c]
    # some images flipped: compare against the unflipped, unshuffled originals by name
    plain = {}
    for bt in make_dataset(tiny_records, "train", TINY, TINY_TRAIN_PAIRS, training=False):
        plain = {n: img for n, img in zip(bt["source_name"].numpy().tolist(),
                                          bt["source_image"].numpy())}
    flips = [np.array_equal(img, plain[n][:, ::-1]) and not np.array_equal(img, plain[n])
             for batch_names, imgs in a for n, img in zip(batch_names, imgs)]
    same = [np.array_equal(img, plain[n]) for batch_names, imgs in a
            for n, img in zip(batch_names, imgs)]
    assert all(f or s for f, s in zip(flips, same)) and 0.25 < np.mean(flips) < 0.75


def test_records_at_another_size_are_resized(tiny_records):
    cfg = ModelConfig(name="t", image_height=32, image_width=24, ngf=8)
    small = _first(make_dataset(tiny_records, "test", cfg, 2, training=False))
    full = _first(make_dataset(tiny_records, "test", TINY, 2, training=False))
    assert small["source_image"].shape == (2, 32, 24, 3)
    assert small["source_heatmaps"].shape == (2, 32, 24, 18)
    kp, kps = full["source_keypoints"], small["source_keypoints"]
    present = kp[..., 0] >= 0
    np.testing.assert_allclose(kps[present], kp[present] * [32 / 64, 24 / 44], rtol=1e-6)
    assert (kps[~present] == -1).all()
    assert set(np.unique(small["source_parsing"])) <= set(np.unique(full["source_parsing"]))


def test_unknown_split_and_bad_batch(tiny_records):
    with pytest.raises(ValueError, match="split 'val' not in"):
        make_dataset(tiny_records, "val", TINY, 2, training=False)
    with pytest.raises(ValueError, match="batch_size"):
        make_dataset(tiny_records, "train", TINY, 0, training=False)


def test_prepare_synthetic_builds_once_then_reuses(tmp_path):
    from pinet_tf.datasets import prepare_synthetic, tfrecords

    cfg = ModelConfig(name="t", image_height=32, image_width=24, ngf=8)
    records = prepare_synthetic(str(tmp_path), cfg, identities=3, poses_per_identity=2, seed=1)
    manifest = os.path.join(records, tfrecords.MANIFEST)
    stamp = os.stat(manifest).st_mtime_ns
    assert prepare_synthetic(str(tmp_path), cfg, 3, 2, seed=1) == records
    assert os.stat(manifest).st_mtime_ns == stamp  # reused, not regenerated
    ex = _first(make_dataset(records, "train", cfg, 2, training=False))
    assert ex["source_image"].shape == (2, 32, 24, 3)
    os.remove(manifest)  # an incomplete directory is rebuilt
    assert prepare_synthetic(str(tmp_path), cfg, 3, 2, seed=1) == records
    assert os.path.isfile(manifest)
