"""tf.data pipeline: pair records -> the batched dataset element that the models and trainer take.

Element (batched), as documented in docs/contracts.md:

    source_image, target_image                   float32 [B,H,W,3] in [-1,1]
    source_parsing, target_parsing               uint8   [B,H,W]
    source_parsing_onehot, target_parsing_onehot float32 [B,H,W,12]
    source_keypoints, target_keypoints           float32 [B,18,2]   (y, x), -1 missing
    source_heatmaps, target_heatmaps             float32 [B,H,W,18]
    source_name, target_name                     string  [B]

Heatmaps and one-hot maps are made in the graph with `pinet_tf.models.encoding` (the same functions the
serving signatures use), from the compact record, so records stay small.

Size rule: records hold pictures at the size they were converted at (manifest ``image_height`` /
``image_width``). When that differs from ``cfg.image_size`` the pipeline resizes: bilinear for
images (rounded back to uint8 values), nearest for parsing maps, keypoints scaled by the size ratio
(-1 stays -1). So tiny-config runs can train on 256x176 records.

Flip (``flip=True``, training only): each pair is mirrored as a whole with probability 1/2; x
becomes W-1-x (missing points stay -1) and left/right keypoints swap (`FLIP_PERMUTATION`), so the
flipped right-shoulder heatmap is the mirrored left-shoulder one. The authors train with no flip,
so it is off by default.

Corruption: by default (``verify="auto"``) the manifest's sizes and sha256 are checked before
reading (sizes only above 2 GiB per split) and a bad shard raises `CorruptShardError` naming it.
A corruption that only a checksum finds, in a split read with sizes only, surfaces as TensorFlow's
``DataLossError`` while iterating, which names no file: iterate inside
``naming_corrupt_shards(path, split)`` to get a `CorruptShardError` naming the shard and record.
With ``skip_corrupt=True`` the good records of a bad shard are salvaged (record checksums) and
the bad ones skipped and counted (``stats["corrupt_records"]``, plus a warning).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re

import tensorflow as tf

from pinet_tf.models import encoding
from pinet_tf.config import NUM_CLASSES
from pinet_tf.datasets import schema, tfrecords

log = logging.getLogger(__name__)
ROLES = schema.ROLES

def decode_record(serialized, record_size):
    """Serialized pair -> dict of uint8 images [H,W,3], uint8 parsing [H,W], keypoints [18,2]
    (`schema.decode`)."""
    return schema.decode(serialized, record_size)


def resize_pair(ex, record_size, size):
    """Resize every picture of a decoded pair from `record_size` to `size` (see module doc)."""
    if tuple(record_size) == tuple(size):
        return ex
    scale = tf.constant([size[0] / record_size[0], size[1] / record_size[1]], tf.float32)
    out = dict(ex)
    for role in ROLES:
        image = tf.image.resize(ex[f"{role}_image"], size, method="bilinear")
        out[f"{role}_image"] = tf.cast(tf.round(tf.clip_by_value(image, 0, 255)), tf.uint8)
        parsing = tf.image.resize(ex[f"{role}_parsing"][..., None], size, method="nearest")
        out[f"{role}_parsing"] = parsing[..., 0]
        kp = ex[f"{role}_keypoints"]
        missing = tf.reduce_any(kp < 0, axis=-1, keepdims=True)
        out[f"{role}_keypoints"] = tf.where(missing, -1.0, kp * scale)
    return out


def flip_pair(ex, width: int):
    """Mirror a decoded pair horizontally (images, parsing, keypoints with left/right swapped)."""
    out = dict(ex)
    perm = tf.constant(encoding.FLIP_PERMUTATION, tf.int32)
    for role in ROLES:
        out[f"{role}_image"] = ex[f"{role}_image"][:, ::-1]
        out[f"{role}_parsing"] = ex[f"{role}_parsing"][:, ::-1]
        kp = ex[f"{role}_keypoints"]
        missing = tf.reduce_any(kp < 0, axis=-1, keepdims=True)
        mirrored = tf.stack([kp[:, 0], (width - 1.0) - kp[:, 1]], axis=-1)
        out[f"{role}_keypoints"] = tf.gather(tf.where(missing, -1.0, mirrored), perm)
    return out


def to_model_inputs(ex, cfg):
    """Decoded (uint8) pair -> the contract's element (one example, unbatched)."""
    h, w = cfg.image_size
    out = {}
    for role in ROLES:
        kp = tf.cast(ex[f"{role}_keypoints"], tf.float32)
        out[f"{role}_image"] = encoding.image_to_float(ex[f"{role}_image"])
        out[f"{role}_parsing"] = tf.cast(ex[f"{role}_parsing"], tf.uint8)
        out[f"{role}_parsing_onehot"] = encoding.parsing_to_onehot(ex[f"{role}_parsing"],
                                                                   NUM_CLASSES)
        out[f"{role}_keypoints"] = kp
        out[f"{role}_heatmaps"] = encoding.keypoints_to_heatmaps(kp, h, w, cfg.heatmap_sigma)
        out[f"{role}_name"] = ex[f"{role}_name"]
    return out


def _salvaged(path, shard, stats):
    file = os.path.join(path, shard["file"])
    good, bad = tfrecords.salvage_records(file, shard["records"])
    stats["corrupt_records"] = stats.get("corrupt_records", 0) + bad
    stats.setdefault("corrupt_shards", []).append(shard["file"])
    log.warning("skipping %d corrupt record(s) of %d in %s", bad, shard["records"], file)
    return good


def _shard_problem(path, shard, record_size):
    """Why `shard` cannot be read whole (a checksum, a record that does not decode at
    `record_size`, fewer or more records than the manifest says), or None."""
    file = os.path.join(path, shard["file"])
    count = 0
    try:
        for _ in tf.data.TFRecordDataset(file):
            count += 1
    except tf.errors.DataLossError as e:
        at = re.search(r"corrupted record at (\d+)", e.message or "")
        where = f" (byte {at.group(1)})" if at else ""
        return (f"{file}: record {count} of {shard['records']} is corrupt{where}: its checksum "
                f"fails (or the shard is truncated)")
    if count != shard["records"]:
        return (f"{file}: holds {count} records, but {tfrecords.MANIFEST} says "
                f"{shard['records']}")
    ds = tf.data.TFRecordDataset(file).map(lambda r: decode_record(r, record_size))
    index = 0
    try:
        for _ in ds:
            index += 1
    except tf.errors.OpError as e:
        first = (e.message or type(e).__name__).strip().splitlines()[0][:160]
        return (f"{file}: record {index} of {shard['records']} does not decode as a "
                f"{record_size[0]}x{record_size[1]} pair ({first})")
    return None


def find_corrupt_record(path: str, split: str | None = None):
    """The first shard (of `split`, or of every split) that TensorFlow cannot read whole, as a
    `CorruptShardError` naming the shard and the record, or None when every shard reads."""
    manifest = tfrecords.read_manifest(path, verify="none")
    size = (manifest["image_height"], manifest["image_width"])
    for name, info in manifest["splits"].items():
        if split is not None and name != split:
            continue
        for shard in info["shards"]:
            problem = _shard_problem(path, shard, size)
            if problem:
                return tfrecords.CorruptShardError(
                    f"{problem}; the records are damaged: regenerate them with `pinet-tf "
                    f"make-tfrecords` (or read with verify='checksum' and skip_corrupt=True to "
                    f"skip bad records)")
    return None


#: TensorFlow errors a damaged records folder raises while it is read (a checksum or a
#: truncation; a count that differs from the manifest; a PNG that does not decode or has another
#: size than the manifest says).
DATA_ERRORS = (tf.errors.DataLossError, tf.errors.FailedPreconditionError,
               tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError)


def raise_named_data_error(path: str, split: str | None, error: Exception):
    """Raise the `CorruptShardError` that names the shard and record behind TensorFlow's
    `error`; re-raise `error` when the records read whole (the error is not the data's)."""
    if not isinstance(error, DATA_ERRORS):
        raise error
    try:
        named = find_corrupt_record(path, split)
    except (OSError, ValueError) as e:  # the manifest itself is gone or damaged meanwhile
        raise e from error
    if named is None:
        if isinstance(error, (tf.errors.DataLossError, tf.errors.FailedPreconditionError)):
            first = (error.message or "").strip().splitlines()[0][:200] if error.message else ""
            raise tfrecords.CorruptShardError(f"{path}: the records could not be read whole "
                                              f"({first})") from error
        raise error
    raise named from error


@contextlib.contextmanager
def naming_corrupt_shards(path: str, split: str | None = None):
    """Around code that iterates `make_dataset(path, split, ...)`: TensorFlow's errors from
    damaged records (`DATA_ERRORS`, which name no file) become a `CorruptShardError` naming the
    shard and the record."""
    try:
        yield
    except DATA_ERRORS as e:
        raise_named_data_error(path, split, e)


def make_dataset(path: str, split: str, cfg, batch_size: int, training: bool,
                 deterministic: bool = False, skip_corrupt: bool = False, flip: bool = False,
                 shuffle_buffer: int = 1024, repeat: bool = False, seed: int | None = None,
                 drop_remainder: bool | None = None, verify: str = "auto",
                 num_parallel_calls=tf.data.AUTOTUNE, stats: dict | None = None,
                 skip: int = 0):
    """Batched `tf.data.Dataset` of pair elements (module docstring) from a records directory.

    training: shuffle shards and pairs (and flip if `flip`), drop the last partial batch.
    deterministic: fixed shuffle/flip seeds (`seed`, default 0) and ordered parallel map, so two
    iterations give identical batches. stats: a dict that receives ``corrupt_records`` /
    ``corrupt_shards`` when `skip_corrupt` skips records. skip: pairs of the stream to pass over
    before decoding (a resumed run continues where the interrupted one stopped).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    manifest = tfrecords.read_manifest(path, verify=verify, splits=(split,))
    if split not in manifest["splits"]:
        raise ValueError(f"split {split!r} not in {os.path.join(path, tfrecords.MANIFEST)} "
                         f"(has {sorted(manifest['splits'])})")
    if not skip_corrupt:
        tfrecords.check_manifest(path, manifest)
    stats = {} if stats is None else stats
    stats.setdefault("corrupt_records", 0)
    record_size = (manifest["image_height"], manifest["image_width"])
    size = tuple(cfg.image_size)
    if seed is None:
        seed = 0 if deterministic else random.randrange(2 ** 31)
    corrupt = set(manifest["corrupt"])
    shards = manifest["splits"][split]["shards"]
    files = [os.path.join(path, sh["file"]) for sh in shards if sh["file"] not in corrupt]
    salvaged = []
    for sh in shards:
        if sh["file"] in corrupt:
            salvaged += _salvaged(path, sh, stats)
    if not files and not salvaged:
        raise ValueError(f"no readable records for split {split!r} in {path}")
    if training:
        random.Random(seed).shuffle(files)
    ds = None
    if files:
        ds = tf.data.Dataset.from_tensor_slices(files).interleave(
            tf.data.TFRecordDataset, cycle_length=min(4, len(files)), block_length=1,
            num_parallel_calls=1, deterministic=True)
    if salvaged:
        extra = tf.data.Dataset.from_tensor_slices(tf.constant(salvaged, tf.string))
        ds = extra if ds is None else ds.concatenate(extra)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.enumerate()
    if skip:
        ds = ds.skip(skip)

    def prepare(index, serialized):
        ex = decode_record(serialized, record_size)
        ex = resize_pair(ex, record_size, size)
        if training and flip:
            coin = tf.random.stateless_uniform([], seed=tf.stack(
                [tf.constant(seed, tf.int64), index]))
            ex = tf.cond(coin < 0.5, lambda: flip_pair(ex, size[1]), lambda: ex)
        return to_model_inputs(ex, cfg)

    ds = ds.map(prepare, num_parallel_calls=num_parallel_calls, deterministic=deterministic or None)
    drop = training if drop_remainder is None else drop_remainder
    ds = ds.batch(batch_size, drop_remainder=drop)
    if not repeat and len(files) == len(shards):  # every shard of the split readable
        # TFRecord reads have unknown length; stating it (from the manifest, checked when read)
        # lets Keras size the progress bar and spares users its "input ran out of data" warning
        # at the normal end of every `evaluate`.
        pairs = manifest["splits"][split]["pairs"]
        batches = pairs // batch_size if drop else -(-pairs // batch_size)
        ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)
