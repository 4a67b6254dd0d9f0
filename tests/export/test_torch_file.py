"""Safe `.pth` reader: refuses malicious pickles, reads torch-written files in both formats."""

import io
import os
import pickle
import struct
import subprocess
import zipfile

import numpy as np
import pytest

from pinet_tf import torchfile


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


def test_out_of_bounds_tensor_is_refused(tmp_path):
    """A crafted stride reaching past its storage must not read foreign memory."""
    path = tmp_path / "oob.pth"
    class FloatStorage:  # noqa: N801 - pickled by name as torch.FloatStorage
        pass
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"

    class Rebuild:
        def __reduce__(self):
            return _rebuild, ("S", 0, (4,), (1000,), False, None)

    def _rebuild(*a):  # placeholder, pickled by name only
        pass
    _rebuild.__module__, _rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if obj == "S":
                return ("storage", FloatStorage, "0", "cpu", 4)
            return None

        def reducer_override(self, obj):
            return NotImplemented

    import sys
    fake_torch = type(sys)("torch")
    fake_torch.FloatStorage = FloatStorage
    fake_utils = type(sys)("torch._utils")
    fake_utils._rebuild_tensor_v2 = _rebuild
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = fake_torch, fake_utils
    try:
        buf = io.BytesIO()
        P(buf, protocol=2).dump({"w": Rebuild()})
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
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
