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
