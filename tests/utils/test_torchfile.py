"""Safe `.pth` reader: refuses malicious pickles, reads torch-written files in both formats."""

import io
import os
import pickle
import struct
import subprocess
import zipfile

import numpy as np
import pytest

from pinet_tf.utils import torchfile


class _Evil:
    """Pickles as a call to `fn(*args)`: what a malicious checkpoint does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _legacy_bytes(obj_pickle: bytes) -> bytes:
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        torchfile.LEGACY_MAGIC_NUMBER, torchfile.LEGACY_PROTOCOL_VERSION,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}))
    return head + obj_pickle + pickle.dumps([], protocol=2)


def _zip_bytes(obj_pickle: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", obj_pickle)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


@pytest.mark.parametrize("container", ["raw", "legacy", "zip"])
@pytest.mark.parametrize("kind", ["os.system", "subprocess", "eval"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, container, kind):
    marker = tmp_path / "pwned"
    if kind == "os.system":
        payload = _Evil(os.system, f"touch {marker}")
        name = r"(posix|os)\.system"
    elif kind == "subprocess":
        payload = _Evil(subprocess.call, ["touch", str(marker)])
        name = r"subprocess\.call"
    else:
        payload = _Evil(eval, f"open({str(marker)!r}, 'w').close()")
        name = r"(__builtin__|builtins)\.eval"
    # Inside a normal-looking state dict, so the refusal happens mid-stream.
    evil = pickle.dumps({"model.w": payload}, protocol=2)
    data = {"raw": evil, "legacy": _legacy_bytes(evil), "zip": _zip_bytes(evil)}[container]
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    with pytest.raises(torchfile.ForbiddenGlobalError, match=name) as info:
        torchfile.load_state_dict(path)
    assert "refused" in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ValueError)  # the CLI prints it as a user error
    assert not marker.exists()


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"hello world, not a pickle")
    with pytest.raises(torchfile.TorchFileError, match="not a PyTorch checkpoint"):
        torchfile.load_state_dict(path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        torchfile.load_state_dict(tmp_path / "missing.pth")


def _Fake(module, name):  # noqa: N802
    """A function pickled by reference as `module.name` (as torch's own globals pickle)."""
    def fake(*args):
        raise AssertionError("never called")
    fake.__module__, fake.__qualname__, fake.__name__ = module, name, name
    return fake


class _Call:
    def __init__(self, fn, *args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


class _Storage:
    def __init__(self, key, type_name, data):
        self.key, self.type_name, self.data = key, type_name, data


def _fake_torch_pickle(obj) -> bytes:
    """Pickle `obj` (with _Call/_Storage inside) the way torch would, without torch: globals
    `torch.*` resolve to stand-ins, storages become persistent ids."""
    import sys

    mods = {}
    for call in _walk(obj):
        if isinstance(call, _Call):
            mods.setdefault(call.fn.__module__, type(sys)(call.fn.__module__))
            setattr(mods[call.fn.__module__], call.fn.__name__, call.fn)
    storage_types = {}
    for st in _walk(obj):
        if isinstance(st, _Storage):
            storage_types[st.type_name] = _Fake("torch", st.type_name)
    mods.setdefault("torch", type(sys)("torch"))
    for name, fake in storage_types.items():
        setattr(mods["torch"], name, fake)

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _Storage):
                return ("storage", storage_types[o.type_name], o.key, "cpu", o.data.size)
            return None

    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        buf = io.BytesIO()
        P(buf, protocol=2).dump(obj)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return buf.getvalue()


def _walk(obj):
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, _Call):
        for a in obj.args:
            yield from _walk(a)
    elif isinstance(obj, (list, tuple)):
        for a in obj:
            yield from _walk(a)


def _legacy_file(obj, storages) -> bytes:
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        torchfile.LEGACY_MAGIC_NUMBER, torchfile.LEGACY_PROTOCOL_VERSION,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}))
    tail = pickle.dumps([s.key for s in storages], protocol=2)
    for s in storages:
        tail += struct.pack("<q", s.data.size) + s.data.tobytes()
    return head + _fake_torch_pickle(obj) + tail


def test_legacy_file_written_without_torch(tmp_path):
    """The legacy layout, old-style `_rebuild_tensor` (torch 0.4, e.g. LPIPS v0.0 heads), a
    shared storage with offsets and strides, int64 0-d, float16."""
    rebuild = _Fake("torch._utils", "_rebuild_tensor")
    rebuild2 = _Fake("torch._utils", "_rebuild_tensor_v2")
    f32 = _Storage("11", "FloatStorage", np.arange(20, dtype="<f4"))
    i64 = _Storage("7", "LongStorage", np.array([42], dtype="<i8"))
    f16 = _Storage("3", "HalfStorage", np.array([0.5, -2.0, 3.25], dtype="<f2"))
    obj = {"a": _Call(rebuild, f32, 2, (3, 4), (4, 1)),           # offset 2, contiguous
           "a_t": _Call(rebuild2, f32, 1, (4, 3), (1, 5), False, None),  # transposed view
           "n": _Call(rebuild2, i64, 0, (), (), False, None),
           "h": _Call(rebuild2, f16, 0, (3,), (1,), False, None)}
    path = tmp_path / "legacy.pth"
    path.write_bytes(_legacy_file(obj, [f32, i64, f16]))
    got = torchfile.load_state_dict(path)
    np.testing.assert_array_equal(got["a"], np.arange(2, 14, dtype=np.float32).reshape(3, 4))
    np.testing.assert_array_equal(got["a_t"], (1 + np.arange(15).reshape(3, 5)[:, :4]).T)
    assert got["n"].shape == () and got["n"].dtype == np.int64 and got["n"] == 42
    assert got["h"].dtype == np.float16 and list(got["h"]) == [0.5, -2.0, 3.25]
    # A truncated file is named, not silently zero-filled.
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(torchfile.TorchFileError, match="storage '3'"):
        torchfile.load_state_dict(path)


def test_out_of_bounds_tensor_is_refused(tmp_path):
    """A crafted stride reaching past its storage must not read foreign memory."""
    st = _Storage("0", "FloatStorage", np.arange(4, dtype="<f4"))
    obj = {"w": _Call(_Fake("torch._utils", "_rebuild_tensor_v2"), st, 0, (4,), (1000,),
                      False, None)}
    path = tmp_path / "oob.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _fake_torch_pickle(obj))
        zf.writestr("archive/data/0", st.data.tobytes())
    with pytest.raises(torchfile.TorchFileError, match="reaches element"):
        torchfile.load_state_dict(path)


def _torch_state():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=g)
    big = torch.randn(40, generator=g)
    state = {
        "conv.weight": torch.randn(4, 3, 3, 3, generator=g),
        "half": torch.randn(3, 2, generator=g).half(),
        "bf16": torch.randn(5, generator=g).bfloat16(),
        "double": torch.randn(2, 2, generator=g).double(),
        "bn.num_batches_tracked": torch.tensor(123, dtype=torch.long),
        "long": torch.arange(-3, 9, dtype=torch.long).reshape(3, 4),
        "int8": torch.arange(-4, 4, dtype=torch.int8),
        "bool": torch.tensor([True, False, True]),
        "transposed": base.t(),               # non-contiguous strides
        "slice": big[7:19].view(3, 4),        # storage offset, shares a storage
        "slice2": big[::3],                   # offset 0, stride 3
        "empty": torch.zeros(0, 4),
    }
    return torch, state


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_round_trip_with_torch_written_files(tmp_path, zip_format):
    torch, state = _torch_state()
    path = tmp_path / "sd.pth"
    sd = __import__("collections").OrderedDict(state)
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
    assert zipfile.is_zipfile(path) == zip_format
    got = torchfile.load_state_dict(path)
    assert list(got) == list(state)
    for key, t in state.items():
        want = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
        assert got[key].dtype == want.dtype, key
        assert got[key].shape == want.shape, key
        np.testing.assert_array_equal(got[key], want, err_msg=key)
    assert got["bn.num_batches_tracked"].shape == ()


def test_real_module_state_dict_and_parameters(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    for zip_format in (True, False):
        path = tmp_path / f"net{zip_format}.pth"
        torch.save(net.state_dict(), path, _use_new_zipfile_serialization=zip_format)
        got = torchfile.load_state_dict(path)
        assert list(got) == list(net.state_dict())
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(got[k], v.numpy())
        # Parameters (not detached tensors) pickle through _rebuild_parameter.
        path2 = tmp_path / f"params{zip_format}.pth"
        torch.save({"state_dict": dict(net.named_parameters())}, path2,
                   _use_new_zipfile_serialization=zip_format)
        got2 = torchfile.load_state_dict(path2)
        np.testing.assert_array_equal(got2["0.weight"], net[0].weight.detach().numpy())


def test_pickle_cannot_rewrite_a_checked_tensor(tmp_path):
    """BUILD on a rebuilt tensor (e.g. a negative offset after the checks) is refused."""
    st = _Storage("0", "FloatStorage", np.arange(4, dtype="<f4"))
    obj = {"w": _Call(_Fake("torch._utils", "_rebuild_tensor_v2"), st, 0, (4,), (1,), False,
                      None, state={"offset": -100})}
    path = tmp_path / "tampered.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _fake_torch_pickle(obj))
        zf.writestr("archive/data/0", st.data.tobytes())
    with pytest.raises(torchfile.TorchFileError, match="set the state"):
        torchfile.load_state_dict(path)
    # Without the tampering the same file loads.
    with zipfile.ZipFile(path, "w") as zf:
        obj["w"].state = None
        zf.writestr("archive/data.pkl", _fake_torch_pickle(obj))
        zf.writestr("archive/data/0", st.data.tobytes())
    np.testing.assert_array_equal(torchfile.load_state_dict(path)["w"], np.arange(4))


def test_shapes_come_from_the_pickle_and_bytes_only_from_read(tmp_path):
    """`StateDictFile` knows keys and shapes without reading a storage; a storage whose bytes
    are damaged (CRC mismatch) fails only in `read()`, in one line naming the file."""
    st = _Storage("0", "FloatStorage", np.arange(6, dtype="<f4"))
    rebuild = _Fake("torch._utils", "_rebuild_tensor_v2")
    obj = {"w": _Call(rebuild, st, 0, (2, 3), (3, 1), False, None),
           "b": _Call(rebuild, st, 4, (2,), (1,), False, None)}
    path = tmp_path / "sd.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _fake_torch_pickle(obj))
        zf.writestr("archive/data/0", st.data.tobytes())
    with torchfile.StateDictFile(path) as sd:
        assert sd.shapes == {"w": (2, 3), "b": (2,)}
        got = sd.read()
    np.testing.assert_array_equal(got["w"], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(got["b"], [4, 5])
    raw = bytearray(path.read_bytes())
    at = raw.index(st.data.tobytes())
    raw[at + 5] ^= 0xFF  # one flipped byte inside the storage
    path.write_bytes(bytes(raw))
    with torchfile.StateDictFile(path) as sd:
        assert sd.shapes == {"w": (2, 3), "b": (2,)}
        with pytest.raises(torchfile.TorchFileError) as info:
            sd.read()
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "CRC" in msg and "\n" not in msg
