"""Read PyTorch state-dict files (`.pth`) with NumPy only, without running their pickles.

`torch.load` unpickles arbitrary code; here the pickle goes through the restricted unpickler of
`pinet_tf.utils.torchpickle` (an allowlist of what a state dict needs; anything else is refused
before it runs). Both on-disk formats are read (layouts: `docs/official_checkpoint.md`):

- zip (torch >= 1.6): `<prefix>/data.pkl`, storages in `<prefix>/data/<key>`;
- legacy (torch < 1.6, the authors' release): pickles (magic number, protocol, sys_info, the
  object, the storage keys), then each storage as an int64 element count and its raw bytes.

Every declared size is checked before anything is read or expanded: the pickle's length, opcode
count and stack depth; each zip entry's inflated size against its compressed size; each storage
against the bytes the file really holds; each tensor's extent against its storage; and the bytes
of all tensors against `MEMORY_RATIO` x the file's size (+ `MEMORY_SLACK`). So a crafted file
costs at most a small multiple of its own size. Errors are `TorchFileError` (a ValueError), one
line starting with the file's path. No TensorFlow here (metrics read LPIPS heads with it too).
"""

import io
import os
import struct
import zipfile

import numpy as np

from pinet_tf.utils.torchpickle import (MAX_PICKLE_BYTES, ForbiddenGlobalError, TensorRef,
                                        TorchFileError, decode, short, storage_from_pid,
                                        unpickle)

__all__ = ["StateDictFile", "load_state_dict", "TorchFileError", "ForbiddenGlobalError"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
MAX_ZIP_RATIO = 10            # torch stores entries uncompressed (ratio 1)
MEMORY_RATIO = 4              # tensor bytes per byte of file ...
MEMORY_SLACK = 8 << 20        # ... plus this much, for small files


MAX_ZIP_ENTRIES = 10_000       # a state dict: one entry per storage, plus ~5
MAX_ZIP_DIRECTORY = 4 << 20   # central directory bytes (~100 per entry)


def _check_zip_directory(path) -> None:
    """Refuse a zip whose end record declares more than MAX_ZIP_ENTRIES entries or a central
    directory over MAX_ZIP_DIRECTORY bytes: `zipfile` builds an object per entry (400,000
    entries: ~200 MB) before anyone could look."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return  # zipfile reports it
        entries, directory = struct.unpack("<HL", tail[at + 10:at + 16])
        locator = tail[at - 20:at] if at >= 20 else b""
        if locator[:4] == b"PK\x06\x07":  # zip64: the real counts are in the zip64 record
            f.seek(struct.unpack("<Q", locator[8:16])[0])
            record = f.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                entries, directory = struct.unpack("<QQ", record[32:48])
    if entries > MAX_ZIP_ENTRIES or directory > MAX_ZIP_DIRECTORY:
        raise TorchFileError(f"the zip archive declares {entries} entries ({directory} bytes of "
                             f"directory), more than a state dict has (at most "
                             f"{MAX_ZIP_ENTRIES}); nothing was read")


class StateDictFile:
    """A `.pth` file opened and checked; no tensor bytes read yet.

        with StateDictFile(path) as sd:
            sd.shapes     # {key: shape}, from the pickle: compare before reading
            arrays = sd.read()

    Raises TorchFileError naming the file for anything that is not a flat state dict (a dict of
    tensors, optionally wrapped as {"state_dict": {...}}) whose sizes the file backs.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such checkpoint file")
        self.file_bytes = os.path.getsize(self.path)
        self._zip = self._file = None
        self._storages = {}
        try:
            with open(self.path, "rb") as f:
                head = f.read(4)
            if zipfile.is_zipfile(self.path):
                _check_zip_directory(self.path)  # before zipfile reads it whole
                self._zip = zipfile.ZipFile(self.path)
                obj = self._open_zip()
            elif head == b"PK\x03\x04":
                raise TorchFileError("truncated or corrupt zip archive (no central directory)")
            else:
                self._file = open(self.path, "rb")
                obj = self._open_legacy()
            self._tensors = self._flat(obj)
        except BaseException as e:
            self.close()
            self._reraise(e)
        self.shapes = {k: t.size for k, t in self._tensors.items()}

    # -- formats ----------------------------------------------------------------------------
    def _zip_entry(self, name, limit):
        """The ZipInfo of `name`, after checking its declared sizes (nothing inflated)."""
        try:
            info = self._zip.getinfo(name)
        except KeyError:
            raise TorchFileError(f"{name} missing from the zip archive") from None
        if info.file_size > max(1 << 20, MAX_ZIP_RATIO * info.compress_size):
            raise TorchFileError(
                f"zip entry {name} inflates from {info.compress_size} to {info.file_size} bytes "
                f"(more than {MAX_ZIP_RATIO}x; torch stores entries uncompressed): refused")
        if info.file_size > limit:
            raise TorchFileError(f"zip entry {name} holds {info.file_size} bytes, more than "
                                 f"the {limit} a state dict needs here")
        return info

    def _open_zip(self):
        pkls = [n for n in self._zip.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkls:
            raise TorchFileError("zip archive without <archive>/data.pkl: not a torch checkpoint")
        prefix = pkls[0][:-len("data.pkl")]
        self._little = True
        if prefix + "byteorder" in self._zip.namelist():
            self._little = self._zip.read(self._zip_entry(prefix + "byteorder", 16)) \
                .decode("ascii", "replace").strip() != "big"
        data = self._zip.read(self._zip_entry(pkls[0], MAX_PICKLE_BYTES))
        obj = unpickle(io.BytesIO(data), lambda pid: storage_from_pid(pid, self._storages))
        for st in self._storages.values():
            st.location = f"{prefix}data/{st.key}"
            info = self._zip_entry(st.location, self._budget())
            if info.file_size != st.nbytes:
                raise TorchFileError(f"storage {st.key!r}: the pickle declares {st.nbytes} bytes, "
                                     f"zip entry {st.location} holds {info.file_size}")
        return obj

    def _open_legacy(self):
        f = self._file
        buf = io.BytesIO(f.read(min(self.file_bytes, MAX_PICKLE_BYTES)))
        try:
            magic = unpickle(buf)
        except ForbiddenGlobalError:
            raise
        except Exception:
            raise TorchFileError("not a PyTorch checkpoint (neither a zip archive nor a legacy "
                                 "pickle)") from None
        if magic != LEGACY_MAGIC_NUMBER:
            raise TorchFileError(f"not a PyTorch checkpoint: legacy magic number expected, "
                                 f"found {short.repr(magic)}")
        protocol = unpickle(buf)
        if protocol != LEGACY_PROTOCOL_VERSION:
            raise TorchFileError(f"legacy protocol {LEGACY_PROTOCOL_VERSION} expected, found "
                                 f"{short.repr(protocol)}")
        sys_info = unpickle(buf)
        self._little = bool(sys_info.get("little_endian", True)) \
            if isinstance(sys_info, dict) else True
        obj = unpickle(buf, lambda pid: storage_from_pid(pid, self._storages))
        keys = unpickle(buf)
        if not isinstance(keys, list) or not all(isinstance(k, (str, int)) for k in keys):
            raise TorchFileError("the storage key list is not a list of keys")
        pos = buf.tell()
        for key in map(str, keys):
            st = self._storages.get(key)
            if st is None or st.location is not None:
                raise TorchFileError(f"storage {key!r} written but never referenced, or twice")
            end = pos + 8 + st.nbytes
            if end > self.file_bytes:
                raise TorchFileError(
                    f"truncated: storage {key!r} ({st.numel} elements, {st.nbytes} bytes) would "
                    f"end at byte {end}, the file has {self.file_bytes}")
            f.seek(pos)
            numel = struct.unpack("<q" if self._little else ">q", f.read(8))[0]
            if numel != st.numel:
                raise TorchFileError(f"storage {key!r} has {numel} elements at byte {pos}, the "
                                     f"pickle says {st.numel}")
            st.location, pos = pos + 8, end
        absent = [k for k, st in self._storages.items() if st.location is None]
        if absent:
            raise TorchFileError(f"storage {absent[0]!r} is referenced but not in the file")
        return obj

    # -- checks and reading -----------------------------------------------------------------
    def _budget(self):
        return MEMORY_RATIO * self.file_bytes + MEMORY_SLACK

    def _flat(self, obj):
        if isinstance(obj, dict) and len(obj) == 1 and "state_dict" in obj \
                and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict):
            raise TorchFileError(f"a state dict (dict of tensors) expected, found "
                                 f"{type(obj).__name__}")
        out = {}
        for key, value in obj.items():
            if not isinstance(value, TensorRef):
                raise TorchFileError(f"entry {short.repr(key)} is a {type(value).__name__}, "
                                     f"not a tensor: not a flat state dict")
            out[str(key)] = value
        stored = sum(st.nbytes for st in self._storages.values())
        if stored > self._budget():
            raise TorchFileError(f"the storages declare {stored} bytes for a "
                                 f"{self.file_bytes}-byte file (limit {self._budget()})")
        total = sum(t.nbytes for t in out.values())
        if total > self._budget():
            key = max(out, key=lambda k: out[k].nbytes)
            raise TorchFileError(
                f"the tensors would take {total} bytes from a {self.file_bytes}-byte file (limit "
                f"{self._budget()}); the largest, {key!r}, has shape {out[key].size} and stride "
                f"{out[key].stride} over a {out[key].storage.nbytes}-byte storage")
        return out

    def read(self) -> "dict[str, np.ndarray]":
        """Read every storage and return {key: array} (contiguous tensors share the storage)."""
        try:
            for st in self._storages.values():
                raw = bytearray(st.nbytes)
                if self._zip is not None:  # in chunks: ZipExtFile.readinto would copy it whole
                    view, got = memoryview(raw), 0
                    with self._zip.open(st.location) as f:
                        while got < st.nbytes:
                            chunk = f.read(min(1 << 22, st.nbytes - got))
                            if not chunk:
                                break
                            view[got:got + len(chunk)] = chunk
                            got += len(chunk)
                else:
                    self._file.seek(st.location)
                    got = self._file.readinto(raw)
                if got != st.nbytes:
                    raise TorchFileError(f"storage {st.key!r}: {got} of {st.nbytes} bytes read")
                st.array = decode(raw, st.dtype, self._little)
            return {k: t.materialise() for k, t in self._tensors.items()}
        except BaseException as e:
            self._reraise(e)
        finally:
            for st in self._storages.values():
                st.array = None

    def _reraise(self, e):
        if isinstance(e, (KeyboardInterrupt, SystemExit, FileNotFoundError)):
            raise e
        msg = " ".join(str(e).split()) or type(e).__name__
        if isinstance(e, OSError):  # the disk, not the content: keep it an OSError
            raise OSError(f"{self.path}: {msg}") from None
        if isinstance(e, TorchFileError):
            raise type(e)(f"{self.path}: {msg}") from None
        raise TorchFileError(f"{self.path}: corrupt or unsupported checkpoint "
                             f"({type(e).__name__}: {msg})") from e

    def close(self):
        for handle in (self._zip, self._file):
            if handle is not None:
                handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_state_dict(path) -> "dict[str, np.ndarray]":
    """Read a flat state dict (name -> tensor) from a `.pth` file as NumPy arrays."""
    with StateDictFile(path) as sd:
        return sd.read()
