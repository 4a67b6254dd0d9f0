"""The pickle half of `torchfile`: a restricted unpickler and the stand-ins it builds.

`find_class` knows only what a state dict needs (`collections.OrderedDict`, the tensor and
parameter rebuild functions, the `torch.*Storage` types and dtypes), each replaced by a stand-in
of ours; any other global raises `ForbiddenGlobalError` before it is called. Before unpickling,
`unpickle` walks the opcodes (`pickletools.genops`, which builds nothing) and refuses a pickle
longer than MAX_PICKLE_BYTES, with more than MAX_PICKLE_OPS opcodes, or whose stack grows past
MAX_PICKLE_STACK (deep nesting). Tensors come out as `TensorRef`s whose offset, size and stride
are already checked against their storage's declared size; no storage bytes are read here.
Messages do not name the file: `torchfile` prefixes its path.
"""

import _compat_pickle
import collections
import io
import math
import pickle
import pickletools
import reprlib

import numpy as np

MAX_PICKLE_BYTES = 16 << 20   # the official generator's pickle is ~40 KB
MAX_PICKLE_OPS = 500_000      # ~35 opcodes per tensor (official G: 10,555)
MAX_PICKLE_STACK = 10_000     # torch batches containers by 1000 items
MAX_PICKLE_NESTING = 100      # a state dict nests ~6 deep (dict, tensor, its args, a size)

short = reprlib.Repr()
short.maxlevel, short.maxstring, short.maxother = 3, 60, 60


class TorchFileError(ValueError):
    """A checkpoint file that cannot be read as a PyTorch state dict."""


class ForbiddenGlobalError(TorchFileError):
    """The pickle names a global outside the state-dict allowlist (possibly malicious)."""


# ---------------------------------------------------------------------------------------------
# Stand-ins for the torch objects a state-dict pickle references.

class _NoState:
    """Refuses pickle's BUILD: a crafted pickle must not rewrite a checked stand-in's fields."""

    def __setstate__(self, state):
        raise TorchFileError(f"the pickle tries to set the state of {type(self).__name__}: "
                             f"not a state dict")


class _BFloat16:
    """Marker dtype: bfloat16 bytes are widened to float32 (NumPy has no bfloat16)."""


_STORAGE_DTYPES = {  # storage class name -> element dtype
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": _BFloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
}
_TORCH_DTYPES = {  # torch dtype name -> element dtype (_rebuild_tensor_v3)
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": _BFloat16, "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class _StorageType(_NoState):
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


class _TorchDtype(_NoState):
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


def _itemsize(dtype, out=False):
    """Bytes per element on disk (or, with `out`, in the array handed back)."""
    if dtype is _BFloat16:
        return 4 if out else 2
    return np.dtype(dtype).itemsize


def decode(raw, dtype, little):
    if dtype is _BFloat16:
        half = np.frombuffer(raw, dtype="<u2" if little else ">u2").astype(np.uint32)
        return (half << 16).view(np.float32)
    dt = np.dtype(dtype).newbyteorder("<" if little else ">")
    return np.frombuffer(raw, dtype=dt).astype(np.dtype(dtype), copy=False)


class Storage(_NoState):
    """A flat typed buffer, declared by the pickle; its bytes are read only by `read()`."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.nbytes = numel * _itemsize(dtype)
        self.location = None  # zip entry name or file offset, set when the file is checked
        self.array = None


class TensorRef(_NoState):
    """A tensor recorded during unpickling: storage, offset, size, stride (all checked)."""

    def __init__(self, storage, offset, size, stride, dtype=None):
        if not isinstance(storage, Storage):
            raise TorchFileError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
        try:
            self.offset = int(offset)
            self.size, self.stride = tuple(map(int, size)), tuple(map(int, stride))
        except (TypeError, ValueError):
            raise TorchFileError(f"tensor with offset/size/stride {short.repr(offset)}, "
                                 f"{short.repr(size)}, {short.repr(stride)}") from None
        self.storage, self.dtype = storage, storage.dtype if dtype is None else dtype
        if self.dtype is not storage.dtype and storage.dtype is not np.uint8:
            raise TorchFileError("a typed storage viewed with another dtype")
        if len(self.size) != len(self.stride) or len(self.size) > 16:
            raise TorchFileError(f"tensor size {self.size} and stride {self.stride}")
        if self.offset < 0 or min(self.size + self.stride, default=0) < 0:
            raise TorchFileError(f"negative tensor offset/size/stride: {self.offset}, "
                                 f"{self.size}, {self.stride}")
        self.numel = math.prod(self.size)
        self.nbytes = self.numel * _itemsize(self.dtype, out=True)
        elements = storage.nbytes // _itemsize(self.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.numel and last >= elements:  # as_strided would read outside the buffer
            raise TorchFileError(
                f"tensor (offset {self.offset}, size {self.size}, stride {self.stride}) reaches "
                f"element {last} of storage {storage.key!r} with {elements} elements")

    def materialise(self) -> np.ndarray:
        flat = self.storage.array
        if self.dtype is not self.storage.dtype:  # v3: a typed view of untyped bytes
            n = flat.size // _itemsize(self.dtype)
            flat = decode(flat[:n * _itemsize(self.dtype)], self.dtype, little=True)
        if self.numel == 0:
            return np.zeros(self.size, dtype=flat.dtype)
        contiguous = tuple(math.prod(self.size[i + 1:]) for i in range(len(self.size)))
        if all(s == c for s, c, n in zip(self.stride, contiguous, self.size) if n > 1):
            return flat[self.offset:self.offset + self.numel].reshape(self.size)  # no copy
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.size,
            strides=[s * flat.itemsize for s in self.stride], writeable=False)
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    """torch 0.3/0.4 files (e.g. the LPIPS v0.0 heads)."""
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(dtype, _TorchDtype):
        raise TorchFileError(f"_rebuild_tensor_v3 with dtype {short.repr(dtype)}")
    return TensorRef(storage, storage_offset, size, stride, dtype=dtype.dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, TensorRef):
        raise TorchFileError(f"parameter rebuilt from {type(data).__name__}, not a tensor")
    return data


class _Function(_NoState):
    """An allowed function, wrapped so that BUILD cannot modify the module-level original."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, *args):
        return self._fn(*args)


_REBUILDERS = {"_rebuild_tensor": _rebuild_tensor, "_rebuild_tensor_v2": _rebuild_tensor_v2,
               "_rebuild_tensor_v3": _rebuild_tensor_v3,
               "_rebuild_parameter": _rebuild_parameter,
               "_rebuild_parameter_with_state": _rebuild_parameter}


def _allowed_global(module, name):
    """The stand-in for an allowed global, or None."""
    if (module, name) == ("collections", "OrderedDict"):
        return collections.OrderedDict
    if module == "torch._utils" and name in _REBUILDERS:
        return _Function(_REBUILDERS[name])
    if module == "torch" and name in _STORAGE_DTYPES:
        return _StorageType(name, _STORAGE_DTYPES[name])
    if module == "torch" and name in _TORCH_DTYPES:
        return _TorchDtype(name, _TORCH_DTYPES[name])
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, persistent_load=None):
        super().__init__(file)
        self._persistent = persistent_load

    def find_class(self, module, name):
        found = _allowed_global(module, name)
        if found is None:
            py3 = _compat_pickle.NAME_MAPPING.get(
                (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
            alias = f" (Python 3: '{py3[0]}.{py3[1]}')" if py3 != (module, name) else ""
            raise ForbiddenGlobalError(
                f"refused to load: the pickle references the global '{module}.{name}'{alias}, "
                f"which a PyTorch state dict does not need (the file may be malicious); nothing "
                f"from it was executed")
        return found

    def persistent_load(self, pid):
        if self._persistent is None:
            raise TorchFileError(f"unexpected persistent id {short.repr(pid)}")
        return self._persistent(pid)


_MUTATORS = {"SETITEM", "SETITEMS", "APPEND", "APPENDS", "ADDITEMS", "BUILD"}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}


def _check_pickle(buf: io.BytesIO) -> None:
    """Walk the opcodes from `buf`'s position (not moved) without building anything: refuse a
    pickle longer than MAX_PICKLE_BYTES, with more than MAX_PICKLE_OPS opcodes, whose stack
    grows deeper than MAX_PICKLE_STACK, or whose objects nest deeper than MAX_PICKLE_NESTING
    (e.g. a tuple inside a tuple a million times, which crashes the interpreter when hashed as
    a dict key). The walk keeps each stack item's nesting level (memo included)."""
    start = buf.tell()
    levels, marks, memo, ops = [], [], {}, 0
    for op, arg, pos in pickletools.genops(buf):
        ops += 1
        if ops > MAX_PICKLE_OPS or pos - start > MAX_PICKLE_BYTES:
            raise TorchFileError(f"the pickle has more than {MAX_PICKLE_OPS} opcodes or "
                                 f"{MAX_PICKLE_BYTES} bytes: not a state dict")
        before, name = op.stack_before, op.name
        if name == "MARK":
            marks.append(len(levels))
            continue
        if name in _PUTS or name == "MEMOIZE":
            if levels:
                memo[len(memo) if name == "MEMOIZE" else arg] = levels[-1]
            continue
        if name == "POP" and marks and marks[-1] == len(levels):  # pops the mark itself
            marks.pop()
            continue
        if name in _GETS:
            levels.append(memo.get(arg, 0))
        elif pickletools.markobject in before:
            if not marks:
                raise TorchFileError(f"malformed pickle: {name} without MARK at byte {pos}")
            at = marks.pop()
            items = levels[at:]
            below = before.index(pickletools.markobject) if pickletools.markobject in before else 0
            del levels[at:]
            taken = levels[len(levels) - below:] if below else []
            if below:
                del levels[len(levels) - below:]
            inner = max(items, default=0) + 1
            if op.stack_after and name in _MUTATORS:  # the container below stays itself
                levels.append(max(taken[0] if taken else 0, inner))
            elif op.stack_after:
                levels += [max([inner, *taken])] * len(op.stack_after)
        else:
            n = min(len(before), len(levels))
            taken = levels[len(levels) - n:] if n else []
            if n:
                del levels[len(levels) - n:]
            if name in _MUTATORS and taken:
                levels.append(max([taken[0], *(t + 1 for t in taken[1:])]))
            else:
                level = max(taken, default=-1) + 1
                levels += [level] * len(op.stack_after)
        if len(levels) > MAX_PICKLE_STACK:
            raise TorchFileError(f"the pickle nests deeper than {MAX_PICKLE_STACK} levels "
                                 f"(at byte {pos}): not a state dict")
        if levels and levels[-1] > MAX_PICKLE_NESTING:
            raise TorchFileError(f"the pickle nests objects more than {MAX_PICKLE_NESTING} "
                                 f"deep (at byte {pos}): not a state dict")
    buf.seek(start)


def unpickle(buf: io.BytesIO, persistent_load=None):
    _check_pickle(buf)
    return _RestrictedUnpickler(buf, persistent_load).load()


def storage_from_pid(pid, storages):
    """('storage', storage_type, key, location, numel[, view_metadata]) -> a `Storage`."""
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
        raise TorchFileError(f"unexpected persistent id {short.repr(pid)}")
    storage_type, key, numel = pid[1], str(pid[2]), pid[4]
    if not isinstance(storage_type, _StorageType):
        raise TorchFileError(f"persistent id names {short.repr(storage_type)}, not a storage")
    if len(pid) > 5 and pid[5] is not None:
        raise TorchFileError("storage views (pre-0.4 files) are not supported")
    if not isinstance(numel, int) or numel < 0:
        raise TorchFileError(f"bad size {short.repr(numel)} for storage {key!r}")
    if key not in storages:
        storages[key] = Storage(key, storage_type.dtype, numel)
    elif storages[key].numel != numel or storages[key].dtype is not storage_type.dtype:
        raise TorchFileError(f"storage {key!r} declared twice with different types or sizes")
    return storages[key]

