import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.datasets import make_dataset, tfrecords
from tests.fixtures_data import TINY_TRAIN_PAIRS, TINY_TEST_PAIRS

TINY = ModelConfig.tiny()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_manifest_lists_every_shard(tiny_records):
    with open(os.path.join(tiny_records, tfrecords.MANIFEST)) as f:
        m = json.load(f)
    assert (m["image_height"], m["image_width"]) == (64, 44)
    assert m["splits"]["train"]["pairs"] == TINY_TRAIN_PAIRS
    assert m["splits"]["test"]["pairs"] == TINY_TEST_PAIRS
    for split, info in m["splits"].items():
        assert sum(s["records"] for s in info["shards"]) == info["pairs"]
        for s in info["shards"]:
            path = os.path.join(tiny_records, s["file"])
            assert os.path.getsize(path) == s["bytes"]
            assert tfrecords._sha256(path) == s["sha256"]
    assert not [f for f in os.listdir(tiny_records) if f.endswith(".tmp")]


# Runs make-tfrecords in a child whose writer pauses after the first record, so the parent can
# kill it (SIGKILL) while a shard is half written.
_CHILD = """
import sys, time
from pinet_tf.datasets import tfrecords
real = tfrecords.serialize_pair
def slow(*a, **k):
    out = real(*a, **k)
    print("wrote", flush=True)
    time.sleep(60)
    return out
tfrecords.serialize_pair = slow
from pinet_tf.cli import main
main(["make-tfrecords", "--data", sys.argv[1], "--out", sys.argv[2]])
"""


def _tree(folder):
    return {f: open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))}


def _siblings(folder):
    return sorted(f for f in os.listdir(os.path.dirname(folder)) if f.startswith(".tmp-"))


def test_killed_conversion_keeps_the_old_records_readable(tiny_synthetic_data, tiny_records,
                                                          tmp_path):
    out = str(tmp_path / "records")
    shutil.copytree(tiny_records, out)  # a previous complete run
    before = _tree(out)
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, tiny_synthetic_data, out], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout.readline().strip() == "wrote"
        os.kill(child.pid, signal.SIGKILL)   # mid-shard: no clean-up runs
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert _tree(out) == before              # the old set is untouched, byte for byte ...
    tfrecords.check_manifest(out, tfrecords.read_manifest(out, verify="checksum"))
    assert len(list(make_dataset(out, "test", TINY, 6, training=False))) == TINY_TEST_PAIRS // 6
    assert len(_siblings(out)) == 1          # ... and the half build is a hidden sibling
    # The next run (another shard count) replaces the set whole: no stale shard, no sibling.
    tfrecords.convert(tiny_synthetic_data, out, shards=3)
    assert sorted(os.listdir(out)) == [tfrecords.MANIFEST] + [
        tfrecords.shard_name(s, i, 3) for s in ("test", "train") for i in range(3)]
    assert _siblings(out) == []
    assert len(list(make_dataset(out, "test", TINY, 6, training=False))) == TINY_TEST_PAIRS // 6


def test_failed_conversion_keeps_the_old_records_and_leaves_no_tmp(tiny_synthetic_data,
                                                                   tiny_records, tmp_path):
    out = str(tmp_path / "records")
    shutil.copytree(tiny_records, out)
    before = _tree(out)
    data = str(tmp_path / "data")
    shutil.copytree(tiny_synthetic_data, data)
    names = sorted(os.listdir(os.path.join(data, "test")))
    with open(os.path.join(data, "test", names[-1]), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")      # an image the last shard needs
    with pytest.raises(ValueError, match=rf"{names[-1]}: cannot read image"):
        tfrecords.convert(data, out, shards=2)
    assert _tree(out) == before and _siblings(out) == []


def test_out_holding_other_files_is_refused(tiny_synthetic_data, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"mine: holds files that are not pair records "
                                         r"\(notes.txt; no manifest.json written by "):
        tfrecords.convert(tiny_synthetic_data, str(out))
    assert (out / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, expected the records directory"):
        tfrecords.convert(tiny_synthetic_data, str(tmp_path / "file"))


def test_folder_without_manifest_is_incomplete(tmp_path):
    (tmp_path / ".train-00000-of-00001.tfrecord.tmp").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="incomplete .*interrupted.*unfinished files"):
        make_dataset(str(tmp_path), "train", TINY, 2, training=True)


def _corrupt_copy(tiny_records, tmp_path):
    out = str(tmp_path / "records")
    shutil.copytree(tiny_records, out)
    with open(os.path.join(out, tfrecords.MANIFEST)) as f:
        shard = json.load(f)["splits"]["train"]["shards"][0]
    path = os.path.join(out, shard["file"])
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # inside one record's payload
    open(path, "wb").write(bytes(data))
    return out, shard


def test_corrupt_shard_is_named(tiny_records, tmp_path):
    out, shard = _corrupt_copy(tiny_records, tmp_path)
    with pytest.raises(tfrecords.CorruptShardError, match=shard["file"]):
        make_dataset(out, "train", TINY, 2, training=True)
    make_dataset(out, "test", TINY, 2, training=False)  # the other split is intact


def test_skip_corrupt_skips_and_counts(tiny_records, tmp_path):
    out, shard = _corrupt_copy(tiny_records, tmp_path)
    stats = {}
    ds = make_dataset(out, "train", TINY, 1, training=False, skip_corrupt=True, stats=stats)
    n = sum(1 for _ in ds)
    assert stats["corrupt_records"] == 1 and stats["corrupt_shards"] == [shard["file"]]
    assert n == TINY_TRAIN_PAIRS - 1


def test_crc32c_matches_the_known_vector():
    assert tfrecords.crc32c(b"123456789") == 0xE3069283


def test_make_tfrecords_cli(tiny_synthetic_data, tmp_path, capsys):
    from pinet_tf.cli import main

    out = str(tmp_path / "rec")
    assert main(["make-tfrecords", "--data", tiny_synthetic_data, "--out", out,
                 "--shards", "3"]) == 0
    assert f"train: {TINY_TRAIN_PAIRS} pairs in 3 shard(s)" in capsys.readouterr().out
    assert main(["make-tfrecords", "--data", str(tmp_path / "nope"), "--out", out]) == 2
    assert "data directory not found" in capsys.readouterr().err


def test_parallel_workers_write_identical_shards(tiny_synthetic_data, tiny_records, tmp_path):
    m = tfrecords.convert(tiny_synthetic_data, str(tmp_path / "par"), shards=2, workers=2)
    with open(os.path.join(tiny_records, tfrecords.MANIFEST)) as f:
        serial = json.load(f)
    for split in ("train", "test"):
        assert [s["sha256"] for s in m["splits"][split]["shards"]] == \
            [s["sha256"] for s in serial["splits"][split]["shards"]]
