"""Pair TFRecords: one record per (source, target) pair, shards renamed when whole, manifest last.

Layout of a records directory:

    OUT/train-00000-of-00004.tfrecord ...   one tf.train.Example per pair
    OUT/test-00000-of-00001.tfrecord
    OUT/manifest.json                       written last (format, image size, per split: pairs,
                                            per shard: file, records, bytes, sha256)

Record features: ``source_image`` / ``target_image`` (PNG bytes, RGB), ``source_parsing`` /
``target_parsing`` (PNG bytes, 8-bit labels 0..11), ``source_keypoints`` / ``target_keypoints``
(36 floats, (y, x) pairs in COCO-18 order, -1 missing), ``source_name`` / ``target_name``.

Crash safety: an existing manifest is deleted before anything else is written; each shard is
written under a temporary name (``.NAME.tmp``) and renamed when closed; the manifest is written
(also via a temporary name) only after every shard is in place. So an interrupted run never leaves
a directory that looks complete, and `read_manifest` refuses a directory without one or whose
shards differ from what it lists.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct

import numpy as np
from PIL import Image

MANIFEST = "manifest.json"
FORMAT = "pinet-tf-pairs"
VERSION = 1
DEFAULT_PAIRS_PER_SHARD = 2000
AUTO_CHECKSUM_BYTES = 2 << 30


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _feature_bytes(value: bytes):
    import tensorflow as tf
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _feature_floats(values):
    import tensorflow as tf
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def serialize_pair(src, tgt, encoded: dict) -> bytes:
    """src/tgt: `patn.Example`; `encoded` caches PNG bytes by name (pairs share images)."""
    import tensorflow as tf

    def png_of(ex):
        if ex.name not in encoded:
            encoded.clear()  # pairs are grouped by identity: a small cache is enough
        if ex.name not in encoded:
            encoded[ex.name] = (_png(ex.image), _png(ex.parsing))
        return encoded[ex.name]

    feats = {}
    for role, ex in (("source", src), ("target", tgt)):
        image_png, parsing_png = png_of(ex)
        feats[f"{role}_image"] = _feature_bytes(image_png)
        feats[f"{role}_parsing"] = _feature_bytes(parsing_png)
        feats[f"{role}_keypoints"] = _feature_floats(np.asarray(ex.keypoints).reshape(-1))
        feats[f"{role}_name"] = _feature_bytes(ex.name.encode())
    example = tf.train.Example(features=tf.train.Features(feature=feats))
    return example.SerializeToString(deterministic=True)  # sorted map keys: same bytes per run


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def _write_json_atomic(path: str, data: dict) -> None:
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


_READERS = {}  # per process: (root, split) -> PatnReader (CSV parsed once per worker)


def _reader(data_dir: str, split: str):
    from pinet_tf.datasets.patn import PatnReader

    key = (data_dir, split)
    if key not in _READERS:
        _READERS[key] = PatnReader(data_dir, split)
    return _READERS[key]


def _write_shard(data_dir, out_dir, split, index, count, start, stop, size) -> dict:
    """Write pairs [start, stop) of `split` as shard `index`: temporary name, then rename."""
    import tensorflow as tf

    name = shard_name(split, index, count)
    final = os.path.join(out_dir, name)
    tmp = os.path.join(out_dir, "." + name + ".tmp")
    encoded = {}
    with tf.io.TFRecordWriter(tmp) as writer:
        for src, tgt in _reader(data_dir, split).iter_pairs(start, stop):
            for ex in (src, tgt):
                if ex.parsing.shape != size:
                    raise ValueError(
                        f"{ex.name} ({split}) is {ex.parsing.shape[0]}x{ex.parsing.shape[1]} but "
                        f"the data set's first image is {size[0]}x{size[1]}: all images must "
                        f"share one size")
            writer.write(serialize_pair(src, tgt, encoded))
    os.replace(tmp, final)
    return {"file": name, "records": stop - start, "bytes": os.path.getsize(final),
            "sha256": _sha256(final)}


def convert(data_dir: str, out_dir: str, shards: int | None = None, splits=("train", "test"),
            workers: int = 1) -> dict:
    """Authors' layout (DeepFashion or synthetic) -> pair TFRecords + manifest. Returns manifest.

    `workers` > 1 writes shards in that many processes (spawned: each imports TensorFlow once);
    the shards are byte-identical to a one-process run.
    """
    if shards is not None and shards < 1:
        raise ValueError(f"--shards must be >= 1, got {shards}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    _READERS.clear()  # re-read the CSVs on every conversion
    readers = {split: _reader(data_dir, split) for split in splits}  # CSV errors come first
    for reader in readers.values():
        if len(reader) == 0:
            raise ValueError(f"{reader.pairs_file}: no pairs")
    first = readers[splits[0]].pairs[0]
    size = readers[splits[0]].example(first[0], f"{readers[splits[0]].pairs_file}:{first[2]}")
    size = size.parsing.shape
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, MANIFEST)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # from here on the directory is visibly incomplete
    jobs = []
    for split, reader in readers.items():
        n = len(reader)
        count = min(shards or max(1, math.ceil(n / DEFAULT_PAIRS_PER_SHARD)), n)
        bounds = [round(i * n / count) for i in range(count + 1)]
        jobs += [(data_dir, out_dir, split, i, count, bounds[i], bounds[i + 1], size)
                 for i in range(count)]
    if workers == 1 or len(jobs) == 1:
        entries = [_write_shard(*job) for job in jobs]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
            entries = list(pool.map(_write_shard, *zip(*jobs)))
    manifest = {"format": FORMAT, "version": VERSION, "source": os.path.abspath(data_dir),
                "image_height": int(size[0]), "image_width": int(size[1]), "splits": {}}
    for job, entry in zip(jobs, entries):
        split = job[2]
        info = manifest["splits"].setdefault(split, {"pairs": len(readers[split]), "shards": []})
        info["shards"].append(entry)
    _write_json_atomic(manifest_path, manifest)
    return manifest


# -- reading and checking --------------------------------------------------------------------------

class CorruptShardError(ValueError):
    """A shard differs from the manifest (size or checksum) or holds unreadable records."""


def read_manifest(path: str, verify: str = "auto", splits=None) -> dict:
    """Load and check `path/manifest.json`.

    verify: "checksum" (sizes and sha256 of every shard), "size" (sizes only: fast for very large
    sets), "none", or "auto" (checksums when the checked shards total at most
    `AUTO_CHECKSUM_BYTES`, else sizes only: hashing DeepFashion's ~15 GB takes minutes).
    Adds ``manifest["corrupt"]`` = list of shard files that failed the check (the caller decides
    whether that is an error; `check_manifest` raises). `splits` limits the check to those splits
    (default: all).
    """
    if verify not in ("auto", "checksum", "size", "none"):
        raise ValueError(f"verify must be 'auto', 'checksum', 'size' or 'none', got {verify!r}")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"records directory not found: {path}")
    mpath = os.path.join(path, MANIFEST)
    if not os.path.isfile(mpath):
        leftovers = sorted(f for f in os.listdir(path) if f.endswith(".tmp"))
        hint = (f" (unfinished files: {', '.join(leftovers[:3])})" if leftovers else "")
        raise FileNotFoundError(
            f"{mpath} not found: this records directory is incomplete (make-tfrecords was "
            f"interrupted or never run){hint}; run `pinet-tf make-tfrecords` again")
    try:
        with open(mpath) as f:
            manifest = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{mpath}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{mpath}: expected format {FORMAT!r} version {VERSION}, got "
                         f"{manifest.get('format')!r} version {manifest.get('version')!r}")
    corrupt = []
    if verify == "auto":
        total = sum(sh["bytes"] for split, info in manifest["splits"].items()
                    if splits is None or split in splits for sh in info["shards"])
        verify = "checksum" if total <= AUTO_CHECKSUM_BYTES else "size"
    for split, info in manifest["splits"].items():
        if splits is not None and split not in splits:
            continue
        for shard in info["shards"]:
            file = os.path.join(path, shard["file"])
            if not os.path.isfile(file):
                raise FileNotFoundError(f"shard {file} listed in {mpath} is missing")
            if verify == "none":
                continue
            if os.path.getsize(file) != shard["bytes"]:
                corrupt.append(shard["file"])
            elif verify == "checksum" and _sha256(file) != shard["sha256"]:
                corrupt.append(shard["file"])
    manifest["corrupt"] = corrupt
    return manifest


def check_manifest(path: str, manifest: dict) -> None:
    if manifest["corrupt"]:
        raise CorruptShardError(
            f"corrupt shard(s) in {path}: {', '.join(manifest['corrupt'])} (size or sha256 "
            f"differs from {MANIFEST}); regenerate with `pinet-tf make-tfrecords`, or pass "
            f"skip_corrupt=True to skip and count the bad records")


# TFRecord framing: uint64 length, uint32 masked crc32c(length), data, uint32 masked crc32c(data).

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = None


def crc32c(data: bytes) -> int:
    """CRC-32C in pure Python (slow; used only to salvage records from a corrupt shard)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _crc32c_table()
    table = _TABLE
    c = 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def salvage_records(file: str, expected: int):
    """Read a corrupt shard record by record. Returns (good serialized records, bad count).

    A record whose data checksum fails is bad; once a length field is damaged the framing is
    lost, and every remaining record of the shard (per the manifest's count) counts as bad.
    """
    good = []
    with open(file, "rb") as f:
        blob = f.read()
    pos = 0
    while pos + 12 <= len(blob) and len(good) < expected:
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if _masked(crc32c(header)) != length_crc or pos + 16 + length > len(blob):
            break
        data = blob[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[pos + 12 + length:pos + 16 + length])
        pos += 16 + length
        if _masked(crc32c(data)) == data_crc:
            good.append(data)
    return good, expected - len(good)
