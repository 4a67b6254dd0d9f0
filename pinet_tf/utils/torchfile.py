"""Read PyTorch state-dict files (`.pth`) with NumPy only, without running their pickles.

`torch.load` unpickles arbitrary code: a `.pth` from the internet can run anything. This reader
uses a restricted unpickler whose `find_class` knows only what a state dict needs
(`collections.OrderedDict`, the tensor/parameter rebuild functions, the `torch.*Storage` types and
dtypes), each replaced by our own stand-in; any other global (`os.system`, `builtins.eval`, ...)
raises `ForbiddenGlobalError` before it is called. Both on-disk formats are read:

- zip (torch >= 1.6): `<prefix>/data.pkl` with storages in `<prefix>/data/<key>`;
- legacy (torch < 1.6, the authors' PyTorch 1.2): consecutive pickles (magic number, protocol
  version, sys_info, the object), then the list of storage keys, then each storage as an int64
  element count followed by its raw bytes.

No TensorFlow import here, so metric code can read LPIPS heads with it too.
"""

import _compat_pickle
import collections
import io
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np

__all__ = ["load_state_dict", "load", "TorchFileError", "ForbiddenGlobalError"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


class TorchFileError(ValueError):
    """A checkpoint file that cannot be read as a PyTorch state dict."""


class ForbiddenGlobalError(TorchFileError):
    """The pickle names a global outside the state-dict allowlist (possibly malicious)."""


# ---------------------------------------------------------------------------------------------
# Stand-ins for the torch objects a state-dict pickle references.

class _NoState:
    """Refuses pickle's BUILD opcode: a crafted pickle must not rewrite a stand-in's fields
    (e.g. a tensor's offset) after they were checked."""

    def __setstate__(self, state):
        raise TorchFileError(f"the pickle tries to set the state of {type(self).__name__}: "
                             f"not a state dict")


class _BFloat16:
    """Marker dtype: bfloat16 bytes are widened to float32 (NumPy has no bfloat16)."""


# storage class name -> numpy dtype of its elements
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": _BFloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
}
# torch dtype name -> numpy dtype (used by _rebuild_tensor_v3)
_TORCH_DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": _BFloat16, "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class _StorageType(_NoState):
    """Stand-in for `torch.FloatStorage` etc.: only carries the element dtype."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class _TorchDtype(_NoState):
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


def _itemsize(dtype):
    return 2 if dtype is _BFloat16 else np.dtype(dtype).itemsize


class _Storage(_NoState):
    """A flat typed buffer; filled immediately (zip) or after the object pickle (legacy)."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, int(numel)
        self.array = None

    def fill(self, raw: bytes, little_endian: bool = True):
        need = self.numel * _itemsize(self.dtype)
        if len(raw) != need:
            raise TorchFileError(
                f"storage {self.key!r}: expected {need} bytes ({self.numel} elements), "
                f"found {len(raw)}")
        if self.dtype is _BFloat16:
            half = np.frombuffer(raw, dtype="<u2" if little_endian else ">u2").astype(np.uint32)
            arr = (half << 16).view(np.float32)
        else:
            dt = np.dtype(self.dtype).newbyteorder("<" if little_endian else ">")
            arr = np.frombuffer(raw, dtype=dt).astype(np.dtype(self.dtype), copy=False)
        self.array = arr


class _TensorRef(_NoState):
    """A tensor recorded during unpickling; materialised once every storage is filled."""

    def __init__(self, storage, offset, size, stride, dtype=None):
        if not isinstance(storage, _Storage):
            raise TorchFileError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
        self.storage, self.offset = storage, int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        self.dtype = dtype  # for v3 (view of an untyped byte storage)
        if len(self.size) != len(self.stride):
            raise TorchFileError(f"tensor size {self.size} and stride {self.stride} differ in rank")
        if self.offset < 0 or any(s < 0 for s in self.size) or any(s < 0 for s in self.stride):
            raise TorchFileError(f"negative tensor offset/size/stride: {self.offset}, "
                                 f"{self.size}, {self.stride}")

    def materialise(self) -> np.ndarray:
        flat = self.storage.array
        if flat is None:
            raise TorchFileError(f"storage {self.storage.key!r} has no data in the file")
        if self.dtype is not None and self.dtype is not self.storage.dtype:
            if self.storage.dtype is not np.uint8:
                raise TorchFileError("a typed storage viewed with another dtype")
            tmp = _Storage(self.storage.key, self.dtype,
                           flat.size // _itemsize(self.dtype))
            tmp.fill(flat.tobytes()[:tmp.numel * _itemsize(self.dtype)])
            flat = tmp.array
        if 0 in self.size:
            return np.zeros(self.size, dtype=flat.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= flat.size:
            # as_strided would read outside the buffer: refuse instead of leaking memory.
            raise TorchFileError(
                f"tensor (offset {self.offset}, size {self.size}, stride {self.stride}) reaches "
                f"element {last} of storage {self.storage.key!r} with {flat.size} elements")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.size, strides=[s * item for s in self.stride],
            writeable=False)
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    """torch 0.3/0.4 files (e.g. the LPIPS v0.0 heads)."""
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(dtype, _TorchDtype):
        raise TorchFileError(f"_rebuild_tensor_v3 with dtype {dtype!r}")
    return _TensorRef(storage, storage_offset, size, stride, dtype=dtype.dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _TensorRef):
        raise TorchFileError(f"parameter rebuilt from {type(data).__name__}, not a tensor")
    return data


class _Function(_NoState):
    """An allowed function, wrapped so that BUILD cannot modify the module-level original."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, *args):
        return self._fn(*args)


def _allowed_global(module, name):
    """The stand-in for an allowed global, or None."""
    if (module, name) == ("collections", "OrderedDict"):
        return collections.OrderedDict
    if module == "torch._utils":
        fn = {"_rebuild_tensor": _rebuild_tensor,
              "_rebuild_tensor_v2": _rebuild_tensor_v2,
              "_rebuild_tensor_v3": _rebuild_tensor_v3,
              "_rebuild_parameter": _rebuild_parameter,
              "_rebuild_parameter_with_state": _rebuild_parameter}.get(name)
        return _Function(fn) if fn else None
    if module == "torch" and name in _STORAGE_DTYPES:
        return _StorageType(name, _STORAGE_DTYPES[name])
    if module == "torch" and name in _TORCH_DTYPES:
        return _TorchDtype(name, _TORCH_DTYPES[name])
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source, persistent_load=None):
        super().__init__(file)
        self._source = source
        self._persistent = persistent_load

    def find_class(self, module, name):
        found = _allowed_global(module, name)
        if found is None:
            py3 = _compat_pickle.NAME_MAPPING.get(
                (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
            alias = f" (Python 3: '{py3[0]}.{py3[1]}')" if py3 != (module, name) else ""
            raise ForbiddenGlobalError(
                f"{self._source}: refused to load: the pickle references the global "
                f"'{module}.{name}'{alias}, which a PyTorch state dict does not need (the file may be "
                f"malicious); nothing from it was executed")
        return found

    def persistent_load(self, pid):
        if self._persistent is None:
            raise TorchFileError(f"{self._source}: unexpected persistent id {pid!r}")
        return self._persistent(pid)


def _storage_from_pid(pid, source):
    """Parse ('storage', storage_type, key, location, numel[, view_metadata])."""
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
        raise TorchFileError(f"{source}: unexpected persistent id {pid!r}")
    storage_type, key, numel = pid[1], str(pid[2]), pid[4]
    if not isinstance(storage_type, _StorageType):
        raise TorchFileError(f"{source}: persistent id names {storage_type!r}, not a storage type")
    if len(pid) > 5 and pid[5] is not None:
        raise TorchFileError(f"{source}: storage views (pre-0.4 files) are not supported")
    if not isinstance(numel, int) or numel < 0:
        raise TorchFileError(f"{source}: bad storage size {numel!r}")
    return key, storage_type.dtype, numel


def _load_zip(path, zf):
    names = zf.namelist()
    pkls = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkls:
        raise TorchFileError(f"{path}: zip file without <archive>/data.pkl: not a torch checkpoint")
    prefix = pkls[0][: -len("data.pkl")]
    little = True
    if prefix + "byteorder" in names:
        little = zf.read(prefix + "byteorder").decode().strip() != "big"
    storages = {}

    def persistent_load(pid):
        key, dtype, numel = _storage_from_pid(pid, path)
        if key not in storages:
            entry = f"{prefix}data/{key}"
            if entry not in names:
                raise TorchFileError(f"{path}: storage {entry} missing from the zip")
            st = _Storage(key, dtype, numel)
            st.fill(zf.read(entry), little)
            storages[key] = st
        return storages[key]

    with zf.open(pkls[0]) as f:
        data = io.BytesIO(f.read())
    return _RestrictedUnpickler(data, path, persistent_load).load()


def _load_legacy(path, raw):
    f = io.BytesIO(raw)

    def plain_load():
        return _RestrictedUnpickler(f, path).load()

    try:
        magic = plain_load()
    except ForbiddenGlobalError:
        raise
    except Exception as e:  # not a pickle at all
        raise TorchFileError(f"{path}: not a PyTorch checkpoint (zip or legacy pickle): {e}")
    if magic != LEGACY_MAGIC_NUMBER:
        raise TorchFileError(f"{path}: not a PyTorch checkpoint: legacy magic number expected, "
                             f"found {magic!r}")
    protocol = plain_load()
    if protocol != LEGACY_PROTOCOL_VERSION:
        raise TorchFileError(f"{path}: legacy protocol {LEGACY_PROTOCOL_VERSION} expected, "
                             f"found {protocol!r}")
    sys_info = plain_load()
    little = bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
    storages = {}

    def persistent_load(pid):
        key, dtype, numel = _storage_from_pid(pid, path)
        if key not in storages:
            storages[key] = _Storage(key, dtype, numel)
        return storages[key]

    obj = _RestrictedUnpickler(f, path, persistent_load).load()
    keys = plain_load()
    if not isinstance(keys, list):
        raise TorchFileError(f"{path}: storage key list expected, found {type(keys).__name__}")
    for key in keys:
        key = str(key)
        if key not in storages:
            raise TorchFileError(f"{path}: storage {key!r} written but never referenced")
        st = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise TorchFileError(f"{path}: file ends before storage {key!r}")
        numel = struct.unpack("<q" if little else ">q", header)[0]
        if numel != st.numel:
            raise TorchFileError(f"{path}: storage {key!r} has {numel} elements, "
                                 f"the pickle says {st.numel}")
        nbytes = numel * _itemsize(st.dtype)
        st.fill(f.read(nbytes), little)
    return obj


def _materialise(obj, where="state dict"):
    if isinstance(obj, _TensorRef):
        return obj.materialise()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialise(v, f"{where}[{k!r}]"))
                                       for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, where) for v in obj)
    return obj


def load(path):
    """Unpickle a `.pth` file safely; tensors come back as NumPy arrays."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                obj = _load_zip(path, zf)
        else:
            if tarfile.is_tarfile(path):
                raise TorchFileError(f"{path}: tar-based checkpoints (torch < 0.4) are not "
                                     f"supported")
            with open(path, "rb") as fh:
                obj = _load_legacy(path, fh.read())
        return _materialise(obj)
    except TorchFileError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, KeyError,
            IndexError, struct.error, zipfile.BadZipFile, MemoryError) as e:
        raise TorchFileError(f"{path}: corrupt or unsupported checkpoint "
                             f"({type(e).__name__}: {e})") from e


def load_state_dict(path) -> "dict[str, np.ndarray]":
    """Read a state dict (flat mapping name -> tensor) from a `.pth` file as NumPy arrays.

    A checkpoint that wraps it as {"state_dict": {...}} is unwrapped. Raises TorchFileError
    (a ValueError) for anything that is not a flat dict of tensors, ForbiddenGlobalError for
    pickles that reference anything else than a state dict needs.
    """
    obj = load(path)
    if isinstance(obj, dict) and set(obj) == {"state_dict"} and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise TorchFileError(f"{path}: a state dict (dict of tensors) expected, "
                             f"found {type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        if not isinstance(value, np.ndarray):
            raise TorchFileError(f"{path}: entry {key!r} is a {type(value).__name__}, "
                                 f"not a tensor: not a flat state dict")
        out[str(key)] = value
    return out
