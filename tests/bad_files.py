"""Bad user files, made on the fly, shared by the readers' and the verbs' bad-input tests."""

import struct
import zlib

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path, side=30000):
    """A valid PNG header declaring side x side pixels (a few hundred bytes on disk)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path


def truncated_png(path, like):
    """The first half of a real PNG of `like` (uint8 array)."""
    Image.fromarray(like).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def openpose(values=None, people=1):
    values = values if values is not None else [10.0, 20.0, 0.9] * 18
    return {"version": 1.3, "people": [{"pose_keypoints_2d": list(values)}] * people}


def deep_json(depth=100000):
    return "[" * depth + "]" * depth


def labels_png(path, shape=(8, 6), value=1):
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)
    return path


# -- issue 29's corpus: files whose header or structure declares more than they hold -----------

def huge_npy(path, shape=(2_000_000, 1_000_000)):
    """A valid .npy header declaring `shape` float64 (terabytes), followed by 16 bytes."""
    header = repr({"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 16)
    return path


def deep_tuple_pickle(depth=200_000):
    """A protocol-2 pickle of {nested tuple key: 2}: the key is a 1-tuple `depth` levels deep
    (hashing it overflows the C stack)."""
    return (b"\x80\x02}q\x00(K\x01" + b"\x85" * depth + b"K\x02s.")


def zip_declaring_entries(path, entries=400_000):
    """A small file whose zip64 end records declare `entries` entries (no real directory)."""
    directory_at, directory_size = 0, entries * 46
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries,
                         directory_size, directory_at)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(record + locator + end)
    return path


def zip_of_many_entries(path, entries=12_000):
    """A real zip with `entries` empty members under archive/ (more than a state dict has)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        for i in range(entries):
            z.writestr(f"archive/data/{i}", b"")
    return path


# -- damaged records that only TensorFlow notices (the manifest is made consistent) ------------

def _rewrite_manifest(folder, edit):
    import hashlib
    import json
    import os

    path = os.path.join(folder, "manifest.json")
    manifest = json.load(open(path))
    edit(manifest)
    for info in manifest["splits"].values():
        for shard in info["shards"]:
            data = open(os.path.join(folder, shard["file"]), "rb").read()
            shard["bytes"], shard["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    json.dump(manifest, open(path, "w"))
    return manifest


def damage_records(folder, how, split="test", at=0.5):
    """Damage a records folder so that only the record checksum or the decoder notices:
    "flipped byte", "truncated shard", "wrong height", "inflated count". Sizes and sha256 in the
    manifest are rewritten to match. Returns the damaged shard's file name."""
    import json
    import os

    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    shard = manifest["splits"][split]["shards"][0]
    file = os.path.join(folder, shard["file"])
    data = bytearray(open(file, "rb").read())
    if how == "flipped byte":
        data[int(len(data) * at)] ^= 0x40
    elif how == "truncated shard":
        data = data[:len(data) * 2 // 3]
    open(file, "wb").write(bytes(data))

    def edit(m):
        if how == "wrong height":
            m["image_height"] += 4
        elif how == "inflated count":
            m["splits"][split]["shards"][0]["records"] += 3
            m["splits"][split]["pairs"] += 3
    _rewrite_manifest(folder, edit)
    return shard["file"]


DAMAGES = ("flipped byte", "truncated shard", "wrong height", "inflated count")
