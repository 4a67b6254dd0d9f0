import filecmp
import os

import numpy as np
import pytest
from PIL import Image

from pinet_tf.config import KEYPOINT_NAMES, NUM_CLASSES
from pinet_tf.datasets import patn, synthetic
from tests.fixtures_data import (TINY_IDENTITIES, TINY_POSES, TINY_SIZE,
                                 TINY_TEST_FRACTION)


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_same_bytes_other_seed_differs(tmp_path, tiny_synthetic_data):
    again = str(tmp_path / "again")
    synthetic.write_dataset(again, TINY_IDENTITIES, TINY_POSES, TINY_SIZE, seed=0,
                            test_fraction=TINY_TEST_FRACTION)
    files = _files(tiny_synthetic_data)
    # the pictures, 4 CSVs and the marker file that says synth wrote the folder
    assert files == _files(again) and len(files) == TINY_IDENTITIES * TINY_POSES * 2 + 5
    _, mismatch, errors = filecmp.cmpfiles(tiny_synthetic_data, again, files, shallow=False)
    assert mismatch == [] and errors == []
    other = synthetic.sample(1, 0, 0, 64, 44)[0]
    assert not np.array_equal(other, synthetic.sample(0, 0, 0, 64, 44)[0])


def test_train_test_identities_disjoint_and_pairs_same_identity(tiny_synthetic_data):
    ids = {}
    for split in ("train", "test"):
        ann = patn.read_annotations(os.path.join(tiny_synthetic_data, patn.annotation_csv(split)))
        ids[split] = {name.split("_")[0] for name in ann}
        for a, b, _ in patn.read_pairs(os.path.join(tiny_synthetic_data, patn.pairs_csv(split))):
            assert a != b and a.split("_")[0] == b.split("_")[0]
    assert ids["train"] and ids["test"] and not ids["train"] & ids["test"]
    assert len(ids["train"]) + len(ids["test"]) == TINY_IDENTITIES


def test_parsing_and_keypoints_agree_with_the_drawing():
    body = [KEYPOINT_NAMES.index(n) for n in ("neck", "right_hip", "left_hip", "right_shoulder",
                                                "left_shoulder")]
    views = set()
    for ident in range(6):
        for pose in range(4):
            image, parsing, kp, view = synthetic.sample(3, ident, pose, 128, 88)
            views.add(view)
            assert image.shape == (128, 88, 3) and image.dtype == np.uint8
            assert parsing.shape == (128, 88) and parsing.max() < NUM_CLASSES
            assert 2 in parsing or 3 in parsing  # an upper garment or a dress is always worn
            for k in body:
                if kp[k, 0] >= 0:
                    assert parsing[kp[k, 0], kp[k, 1]] != 0, (ident, pose, KEYPOINT_NAMES[k])
            face = [KEYPOINT_NAMES.index(n) for n in ("nose", "right_eye", "left_eye")]
            if view == "back":
                assert (kp[face] == -1).all()
                # in a back view the person's right shoulder is on the image's right
                if kp[2, 1] >= 0 and kp[5, 1] >= 0:
                    assert kp[2, 1] > kp[5, 1]
            elif kp[2, 1] >= 0 and kp[5, 1] >= 0:
                assert kp[2, 1] < kp[5, 1]
    assert views == {"front", "back"}


def test_identity_keeps_its_look_across_poses():
    """Shoe and skin colours of one identity are identical sets of base colours in every pose."""
    looks = []
    for pose in range(3):
        image, parsing, _, _ = synthetic.sample(0, 5, pose, 256, 176)
        shoes = image[parsing == 10].astype(int)
        looks.append(shoes.max(axis=0))  # brightest shoe pixel = unshaded base colour
    assert all(np.abs(looks[0] - x).max() <= 1 for x in looks[1:])
    a = synthetic.sample(0, 5, 0, 256, 176)[0]
    b = synthetic.sample(0, 6, 0, 256, 176)[0]
    assert not np.array_equal(a, b)


def test_backdrop_belongs_to_the_identity():
    """Background pixels of one identity agree in every pose (one studio per item, as in
    DeepFashion in-shop), and two identities have different backdrops."""
    shots = [synthetic.sample(0, 5, pose, 128, 88) for pose in range(3)]
    for (a, pa, _, _), (b, pb, _, _) in zip(shots, shots[1:]):
        both = (pa == 0) & (pb == 0)
        assert both.sum() > 0.5 * both.size
        np.testing.assert_array_equal(a[both], b[both])
    # Near-white walls differ by a few grey levels (identity 6's by 4.3 on average).
    other, po, _, _ = synthetic.sample(0, 6, 0, 128, 88)
    both = (shots[0][1] == 0) & (po == 0)
    assert np.abs(shots[0][0][both].astype(int) - other[both]).mean() > 2
    assert shots[0][0][shots[0][1] == 0].min() >= 200  # near-white, as DeepFashion's studio


def test_written_files_match_the_csv(tiny_synthetic_data):
    ann = patn.read_annotations(os.path.join(tiny_synthetic_data, patn.annotation_csv("test")))
    name = sorted(ann)[0]
    ident, pose = int(name[5:10]), int(name[11:13])
    image, parsing, kp, _ = synthetic.sample(0, ident, pose, 64, 44)
    assert np.array_equal(np.asarray(Image.open(os.path.join(tiny_synthetic_data, "test", name))),
                          image)
    stem = os.path.splitext(name)[0]
    assert np.array_equal(
        np.asarray(Image.open(os.path.join(tiny_synthetic_data, "testSPL2", stem + ".png"))),
        parsing)
    assert np.array_equal(ann[name].keypoints, kp.astype(np.float32))


def test_texture_moves_with_the_body():
    """Shifting the person by whole pixels shifts its pixels (garment prints included) exactly."""
    import dataclasses

    ident = synthetic.Identity.sample(synthetic.identity_rng(0, 2))
    ident = dataclasses.replace(ident, upper=dataclasses.replace(ident.upper, texture="checks"))
    pose = synthetic.Pose.sample(synthetic.pose_rng(0, 2, 0), 128, 88)
    moved = dataclasses.replace(pose, pelvis=(pose.pelvis[0] + 3.0, pose.pelvis[1] + 5.0))
    a, pa, _ = synthetic.render(ident, pose, 128, 88)
    b, pb, _ = synthetic.render(ident, moved, 128, 88)
    body = pa[:-3, :-5] != 0
    assert body.sum() > 500
    same_label = pb[3:, 5:][body] == pa[:-3, :-5][body]
    same_pixel = (b[3:, 5:][body] == a[:-3, :-5][body]).all(axis=-1)
    assert same_label.mean() > 0.99 and same_pixel.mean() > 0.97
    shirt = pa == 2
    assert len(np.unique(a[shirt].reshape(-1, 3), axis=0)) > 4  # a printed, shaded garment


def test_synth_and_make_tfrecords_show_progress_on_stderr(tmp_path, capsys):
    from pinet_tf.cli import main

    data, records = str(tmp_path / "d"), str(tmp_path / "r")
    assert main(["synth", "--out", data, "--identities", "3", "--poses-per-identity", "2",
                 "--size", "64x44"]) == 0
    out = capsys.readouterr()
    assert "synth: 100%" in out.err and "6/6" in out.err and "wrote" in out.out
    assert main(["make-tfrecords", "--data", data, "--out", records]) == 0
    out = capsys.readouterr()
    assert "make-tfrecords: 100%" in out.err and "6/6" in out.err, out.err


def _snapshot(root):
    out = {}
    for name in _files(root):
        with open(os.path.join(root, name), "rb") as f:
            out[name] = f.read()
    return out


def test_a_failed_rewrite_leaves_the_earlier_set_whole(tmp_path):
    out = str(tmp_path / "data")
    synthetic.write_dataset(out, 4, 2, (64, 44), seed=0, test_fraction=0.25)
    before = _snapshot(out)

    def fail_after_three(n, seen=[]):  # noqa: B006 - a counter shared across calls
        seen.append(n)
        if len(seen) == 3:
            raise KeyboardInterrupt  # as a Ctrl-C in the middle of the pictures

    with pytest.raises(KeyboardInterrupt):
        synthetic.write_dataset(out, 4, 2, (64, 44), seed=5, test_fraction=0.25,
                                progress=fail_after_three)
    assert _snapshot(out) == before
    assert os.listdir(tmp_path) == ["data"]  # no temporary folder left beside it
    # A complete rewrite replaces it whole: another seed's pictures (and views in the names).
    synthetic.write_dataset(out, 4, 2, (64, 44), seed=5, test_fraction=0.25)
    after = _snapshot(out)
    assert len(after) == len(before) and after != before
    fresh = str(tmp_path / "fresh")
    synthetic.write_dataset(fresh, 4, 2, (64, 44), seed=5, test_fraction=0.25)
    assert after == _snapshot(fresh)


def test_a_folder_with_other_files_is_refused_before_any_work(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    calls = []
    with pytest.raises(ValueError, match=r"--out .*mine: holds files that are not a synthetic "
                                         r"set \(notes.txt\); give a new or empty folder"):
        synthetic.write_dataset(str(out), 4, 2, (64, 44), progress=calls.append)
    assert calls == [] and os.listdir(out) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"
    # an empty folder (e.g. made by the user beforehand) is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert synthetic.write_dataset(str(empty), 4, 2, (64, 44))["train"]["images"] == 6
