"""Pair TFRecords: one record per (source, target) pair, shards renamed when whole, manifest last.

Layout of a records directory:

    OUT/train-00000-of-00004.tfrecord ...   one tf.train.Example per pair
    OUT/test-00000-of-00001.tfrecord
    OUT/manifest.json                       written last (format, image size, per split: pairs,
                                            per shard: file, records, bytes, sha256)

Record features: the pair schema of `pinet_tf.datasets.schema` (images and parsing as PNG bytes,
keypoints as 36 floats, names).

Crash safety: the whole folder is built in a temporary sibling (``.tmp-OUT-xxxxxxxx``) and renamed
over OUT only when every shard and the manifest are written (`pinet_tf.utils.atomic.atomic_dir`),
so an earlier complete records folder stays readable until the new one replaces it whole, and a
failed or killed run leaves OUT as it was (the next run deletes a killed run's temporary sibling).
`read_manifest` refuses a directory without a manifest, a manifest missing a field, or shards that
differ from what it lists.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import shutil
import struct

import numpy as np
from PIL import Image
from tqdm import tqdm

from pinet_tf.datasets import schema
from pinet_tf.utils.atomic import TMP_PREFIX, atomic_dir, write_json
from pinet_tf.utils.readers import check_dir, check_writable, os_error, read_json

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


def serialize_pair(src, tgt, encoded: dict) -> bytes:
    """src/tgt: `patn.Example`; `encoded` caches PNG bytes by name (pairs share images)."""
    import tensorflow as tf

    def png_of(ex):
        if ex.name not in encoded:
            encoded.clear()  # pairs are grouped by identity: a small cache is enough
        if ex.name not in encoded:
            encoded[ex.name] = (_png(ex.image), _png(ex.parsing))
        return encoded[ex.name]

    values = {}
    for role, ex in zip(schema.ROLES, (src, tgt)):
        values[f"{role}_image"], values[f"{role}_parsing"] = png_of(ex)
        values[f"{role}_keypoints"] = ex.keypoints
        values[f"{role}_name"] = ex.name
    example = tf.train.Example(features=tf.train.Features(feature=schema.to_features(values)))
    return example.SerializeToString(deterministic=True)  # sorted map keys: same bytes per run


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


_READERS = {}  # per process: (root, split) -> PatnReader (CSV parsed once per worker)


def _reader(data_dir: str, split: str):
    from pinet_tf.datasets.patn import PatnReader

    key = (data_dir, split)
    if key not in _READERS:
        _READERS[key] = PatnReader(data_dir, split)
    return _READERS[key]


def _write_shard(data_dir, out_dir, split, index, count, start, stop, size,
                 progress=None) -> dict:
    """Write pairs [start, stop) of `split` as shard `index` into `out_dir` (a folder nobody
    reads until `convert` renames it into place)."""
    import tensorflow as tf

    name = shard_name(split, index, count)
    final = os.path.join(out_dir, name)
    encoded = {}
    with tf.io.TFRecordWriter(final) as writer:
        for src, tgt in _reader(data_dir, split).iter_pairs(start, stop):
            for ex in (src, tgt):
                if ex.parsing.shape != size:
                    raise ValueError(
                        f"{ex.name} ({split}) is {ex.parsing.shape[0]}x{ex.parsing.shape[1]} but "
                        f"the data set's first image is {size[0]}x{size[1]}: all images must "
                        f"share one size")
            writer.write(serialize_pair(src, tgt, encoded))
            if progress is not None:
                progress(1)
    return {"file": name, "records": stop - start, "bytes": os.path.getsize(final),
            "sha256": _sha256(final)}


def _check_out(out_dir: str) -> None:
    """`--out` may be new, empty or an earlier records folder that make-tfrecords wrote (replaced
    whole): its manifest (format FORMAT) is the mark, and every other file in it must be a shard
    that manifest lists. Anything else (someone else's .tfrecord files, a folder of photos) is
    refused, so a typo never deletes a user's files."""
    if not os.path.exists(out_dir):
        check_writable(out_dir, "records directory", folder=True)
        return
    check_dir(out_dir, "records directory (--out)")
    names = sorted(os.listdir(out_dir))
    if not names:
        return
    ours = set()
    mpath = os.path.join(out_dir, MANIFEST)
    if os.path.isfile(mpath) and not os.path.islink(mpath):
        try:
            manifest = read_json(mpath, "records manifest")
        except ValueError:
            manifest = None
        if isinstance(manifest, dict) and manifest.get("format") == FORMAT:
            ours = {MANIFEST} | {sh.get("file") for info in (manifest.get("splits") or {}).values()
                                 if isinstance(info, dict) for sh in info.get("shards") or []
                                 if isinstance(sh, dict)}
    tmp = re.compile(r"^\.[\w.-]+\.tfrecord\.tmp$")
    other = [f for f in names if f not in ours and not tmp.match(f)]
    if other:
        why = (f"not listed in its {MANIFEST}" if ours else
               f"no {MANIFEST} written by make-tfrecords")
        raise ValueError(f"{out_dir}: holds files that are not pair records ({', '.join(other[:3])}"
                         f"{', ...' if len(other) > 3 else ''}; {why}); make-tfrecords replaces "
                         f"only a records folder it wrote: choose a new or empty --out")


def _remove_stale_builds(out_dir: str) -> None:
    """Temporary siblings of `out_dir` left by a killed conversion (kill -9 skips clean-up). An
    old records folder moved aside just before a kill is put back when `out_dir` is missing."""
    parent, base = os.path.split(os.path.abspath(out_dir))
    pattern = re.compile(r"^" + re.escape(TMP_PREFIX) + r"(old-)?" + re.escape(base)
                         + r"-[a-z0-9_]{8}$")
    for name in sorted(os.listdir(parent)) if os.path.isdir(parent) else []:
        m = pattern.match(name)
        if not m:
            continue
        path = os.path.join(parent, name)
        if m.group(1) and not os.path.exists(out_dir) and \
                os.path.isfile(os.path.join(path, MANIFEST)):
            os.rename(path, out_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


def convert(data_dir: str, out_dir: str, shards: int | None = None, splits=("train", "test"),
            workers: int = 1, progress: bool = False) -> dict:
    """Authors' layout (DeepFashion or synthetic) -> pair TFRecords + manifest. Returns manifest.

    The records are built in a temporary sibling of `out_dir` and renamed into place only when
    complete (`utils.atomic.atomic_dir`), so an existing records folder stays readable until the
    new one replaces it whole, whatever happens (an error, Ctrl-C, kill -9), and a run with
    another shard count leaves no stale shard. `workers` > 1 writes shards in that many processes
    (spawned: each imports TensorFlow once); the shards are byte-identical to a one-process run.
    `progress`: a bar of converted pairs on stderr.
    """
    if shards is not None and shards < 1:
        raise ValueError(f"--shards must be >= 1, got {shards}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    _check_out(out_dir)
    _READERS.clear()  # re-read the CSVs on every conversion
    readers = {split: _reader(data_dir, split) for split in splits}  # CSV errors come first
    for reader in readers.values():
        if len(reader) == 0:
            raise ValueError(f"{reader.pairs_file}: no pairs")
    first = readers[splits[0]].pairs[0]
    size = readers[splits[0]].example(first[0], f"{readers[splits[0]].pairs_file}:{first[2]}")
    size = size.parsing.shape
    try:
        _remove_stale_builds(out_dir)
        return _build(data_dir, out_dir, readers, shards, workers, progress, size)
    except OSError as e:
        if e.errno is None:  # already a sentence (the readers' errors)
            raise
        raise os_error(out_dir, e, "records directory", "write") from None


def _build(data_dir, out_dir, readers, shards, workers, progress, size) -> dict:
    total = sum(len(r) for r in readers.values())
    with atomic_dir(out_dir, replace=True) as tmp, \
            tqdm(total=total, desc="make-tfrecords", unit="pair", disable=not progress) as bar:
        jobs = []
        for split, reader in readers.items():
            n = len(reader)
            count = min(shards or max(1, math.ceil(n / DEFAULT_PAIRS_PER_SHARD)), n)
            bounds = [round(i * n / count) for i in range(count + 1)]
            jobs += [(data_dir, tmp, split, i, count, bounds[i], bounds[i + 1], size)
                     for i in range(count)]
        if workers == 1 or len(jobs) == 1:
            entries = [_write_shard(*job, progress=bar.update) for job in jobs]
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
                entries = []
                for entry in pool.map(_write_shard, *zip(*jobs)):
                    entries.append(entry)
                    bar.update(entry["records"])
        manifest = {"format": FORMAT, "version": VERSION, "source": os.path.abspath(data_dir),
                    "image_height": int(size[0]), "image_width": int(size[1]), "splits": {}}
        for job, entry in zip(jobs, entries):
            split = job[2]
            info = manifest["splits"].setdefault(split, {"pairs": len(readers[split]),
                                                         "shards": []})
            info["shards"].append(entry)
        write_json(os.path.join(tmp, MANIFEST), manifest)
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
    check_dir(path, "records directory")
    mpath = os.path.join(path, MANIFEST)
    if not os.path.isfile(mpath):
        from pinet_tf.datasets import patn

        if any(os.path.isfile(os.path.join(path, patn.pairs_csv(s))) for s in patn.SPLITS):
            raise ValueError(f"{path}: is a data folder in the authors' layout (pictures and "
                             f"CSVs), not a records directory; convert it first: `pinet-tf "
                             f"make-tfrecords --data {path} --out RECORDS`, then pass RECORDS")
        leftovers = sorted(f for f in os.listdir(path) if f.endswith(".tmp"))
        hint = (f" (unfinished files: {', '.join(leftovers[:3])})" if leftovers else "")
        raise FileNotFoundError(
            f"{mpath} not found: this records directory is incomplete (make-tfrecords was "
            f"interrupted or never run){hint}; run `pinet-tf make-tfrecords` again")
    manifest = read_json(mpath, "records manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or manifest.get("version") != VERSION:
        got = manifest if not isinstance(manifest, dict) else manifest.get("format")
        raise ValueError(f"{mpath}: expected format {FORMAT!r} version {VERSION}, got "
                         f"{str(got)[:60]!r}" + (f" version {manifest.get('version')!r}"
                                                 if isinstance(manifest, dict) else ""))
    _check_schema(manifest, mpath)
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


def _check_schema(manifest: dict, mpath: str) -> None:
    """Every field the readers use is there with the right type: one error naming the field."""
    def need(ok, where, what):
        if not ok:
            raise ValueError(f"{mpath}: {where} must be {what}; the manifest is damaged or not "
                             f"written by make-tfrecords (run it again)")

    for key in ("image_height", "image_width"):
        value = manifest.get(key)
        need(type(value) is int and value > 0, repr(key), "a positive integer")
    need(isinstance(manifest.get("splits"), dict) and manifest["splits"], "'splits'",
         "an object of splits")
    for split, info in manifest["splits"].items():
        where = f"splits[{split!r}]"
        need(isinstance(info, dict), where, "an object")
        need(type(info.get("pairs")) is int and info["pairs"] >= 0, f"{where}['pairs']",
             "a count")
        need(isinstance(info.get("shards"), list) and info["shards"], f"{where}['shards']",
             "a list of shards")
        for i, shard in enumerate(info["shards"]):
            at = f"{where}['shards'][{i}]"
            need(isinstance(shard, dict), at, "an object")
            file = shard.get("file")
            need(isinstance(file, str) and file and os.path.basename(file) == file
                 and not file.startswith("."), f"{at}['file']", "a shard file name")
            for key in ("records", "bytes"):
                need(type(shard.get(key)) is int and shard[key] >= 0, f"{at}[{key!r}]",
                     "a count")
            need(isinstance(shard.get("sha256"), str), f"{at}['sha256']", "a hex digest")
        need(sum(sh["records"] for sh in info["shards"]) == info["pairs"], f"{where}['pairs']",
             "the sum of its shards' records")


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
