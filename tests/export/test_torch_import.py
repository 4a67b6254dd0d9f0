"""Import of the authors' checkpoints, checked against the committed fixture (no torch needed).

`tests/fixtures/torch_tiny` was written by `tests/reference/make_torch_fixture.py` with our
PyTorch port of the official networks (ngf 8, 32x24, randomised BatchNorm statistics so that
activations stay O(1)); the expected outputs are that port's, in eval mode.
"""

import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from pinet_tf import cli
from pinet_tf.config import ModelConfig
from pinet_tf.export import torch_import
from pinet_tf.utils.torchfile import load_state_dict
from tests import bad_files
from tests.utils.test_torchfile import _Call, _Fake, _fake_torch_pickle, _legacy_file
from tests.utils.test_torchfile import _Storage as _TStorage

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "torch_tiny")
NETG = os.path.join(FIXTURE, "latest_net_netG.pth")
TOL = 1e-4


def _nhwc(a):
    return np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1)))


@pytest.fixture(scope="module")
def fixture_cfg():
    return ModelConfig.load(os.path.join(FIXTURE, "config.json"))


@pytest.fixture(scope="module")
def expected():
    arr = {n: np.load(os.path.join(FIXTURE, f"{n}.npy"))
           for n in ("x1", "x2", "x3_labels", "image", "parse", "d_pb", "d_pp")}
    onehot = np.eye(12, dtype=np.float32)[arr["x3_labels"]]  # [1, H, W, 12]
    arr["inputs"] = {"source_image": _nhwc(arr["x1"]),
                     "source_heatmaps": _nhwc(arr["x2"][:, :18]),
                     "target_heatmaps": _nhwc(arr["x2"][:, 18:]),
                     "source_parsing_onehot": onehot}
    return arr


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Run the CLI once on the fixture (generator and both discriminators)."""
    out = str(tmp_path_factory.mktemp("imported") / "pinet.weights.h5")
    rc = cli.main(["import-torch", NETG, "--out", out, "--discriminators", FIXTURE,
                   "--config", os.path.join(FIXTURE, "config.json")])
    assert rc == 0
    return out


def test_fixture_is_small_and_in_the_release_format():
    total = sum(os.path.getsize(os.path.join(FIXTURE, f)) for f in os.listdir(FIXTURE))
    assert total < 2_000_000
    # The generator is in the legacy (pre-1.6) format, like the authors' PyTorch 1.2 release.
    with open(NETG, "rb") as f:
        assert pickle.load(f) == 0x1950A86A20F9469CFC6C
    state = load_state_dict(NETG)
    assert len(state) == 302  # 32 gated convs x 9 keys + 2 attention blocks x 7
    assert state["model.ParsingNet.gcnet.1.batch_norm2d.num_batches_tracked"].dtype == np.int64


def test_imported_generator_matches_the_pytorch_reference(imported, expected):
    from pinet_tf.models.io import load_generator

    generator, cfg = load_generator(imported)  # the path evaluate/transfer/export take
    assert cfg.name == "tiny-import" and cfg.ngf == 8
    out = generator(expected["inputs"], training=False)
    image, logits = out["image"].numpy(), out["parsing_logits"].numpy()
    want_image, want_logits = _nhwc(expected["image"]), _nhwc(expected["parse"])
    assert want_image.std() > 0.2 and want_logits.std() > 0.2  # not vacuously small
    assert np.abs(image - want_image).max() <= TOL
    assert np.abs(logits - want_logits).max() <= TOL
    np.testing.assert_array_equal(logits.argmax(-1), want_logits.argmax(-1))


def test_imported_discriminators_match_the_pytorch_reference(imported, expected, fixture_cfg):
    from pinet_tf.models.io import discriminator_weights_paths
    from pinet_tf.models import build_appearance_discriminator, build_pose_discriminator

    pb_path, pp_path = discriminator_weights_paths(imported)
    dp, da = build_pose_discriminator(fixture_cfg), build_appearance_discriminator(fixture_cfg)
    dp.load_weights(pb_path)
    da.load_weights(pp_path)
    image = _nhwc(expected["image"])
    got_pb = dp({"target_heatmaps": expected["inputs"]["target_heatmaps"], "image": image},
                training=False)["score"].numpy()
    got_pp = da({"image": image, "source_image": expected["inputs"]["source_image"]},
                training=False)["score"].numpy()
    for got, want in ((got_pb, expected["d_pb"]), (got_pp, expected["d_pp"])):
        want = _nhwc(want)
        assert got.shape == want.shape and want.std() > 0.2
        assert np.abs(got - want).max() <= TOL


def test_bad_state_dicts_are_listed_by_name_and_nothing_is_loaded(fixture_cfg):
    from pinet_tf.models import build_generator

    generator = build_generator(fixture_cfg)
    before = [w.numpy().copy() for w in generator.weights]
    state = load_state_dict(NETG)
    bad = dict(state)
    del bad["model.refine_attn.gamma"]
    bad["model.extra.weight"] = np.zeros(3, np.float32)
    bad["model.app_trans_net.5.gated_conv.weight"] = np.zeros((16, 16, 3, 3), np.float32)
    with pytest.raises(ValueError) as info:
        torch_import.load_torch_generator(generator, bad)
    msg = str(info.value)
    assert "\n" not in msg and "nothing was loaded" in msg
    assert "1 missing (model.refine_attn.gamma)" in msg
    assert "1 unexpected (model.extra.weight)" in msg
    assert ("1 mis-shaped (model.app_trans_net.5.gated_conv.weight: expected (32, 16, 3, 3), "
            "found (16, 16, 3, 3))") in msg
    for b, w in zip(before, generator.weights):  # untouched, although most keys were fine
        np.testing.assert_array_equal(b, w.numpy())

    # DataParallel's `module.` prefix is stripped; then everything loads.
    wrapped = {"module." + k: v for k, v in state.items()}
    assert torch_import.load_torch_generator(generator, wrapped) == 32 * 6 + 2 * 7
    gp = generator.get_layer("parsing_generator")
    conv = gp.get_layer("gp_gc13").gated_conv.conv  # an upsampling layer: `.conv2d.` keys
    f = state["model.ParsingNet.gcnet.13.conv2d.gated_conv.weight"]
    g = state["model.ParsingNet.gcnet.13.conv2d.mask_conv.weight"]
    np.testing.assert_array_equal(conv.kernel.numpy()[..., :f.shape[0]],
                                  f.transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(conv.kernel.numpy()[..., f.shape[0]:],
                                  g.transpose(2, 3, 1, 0))
    att = gp.get_layer("gp_attention")
    np.testing.assert_array_equal(att.query.kernel.numpy(),
                                  state["model.ParsingNet.gcnet.10.query_conv.weight"][:, :, 0, 0].T)
    np.testing.assert_array_equal(
        gp.get_layer("gp_gc4").bn.moving_variance.numpy(),
        state["model.ParsingNet.gcnet.4.batch_norm2d.running_var"])


def test_cli_errors(tmp_path, capsys):
    out = str(tmp_path / "x.weights.h5")
    # The wrong config: shape mismatches named, nothing written.
    cfg = ModelConfig(name="wider", image_height=32, image_width=24, ngf=16)
    cfg.save(tmp_path / "wider.json")
    assert cli.main(["import-torch", NETG, "--out", out, "--config",
                     str(tmp_path / "wider.json")]) == 2
    err = capsys.readouterr().err
    assert "mis-shaped" in err and \
        "model.ParsingNet.gcnet.1.gated_conv.weight: expected (16, 51, 7, 7), found (8, 51, 7, 7)" \
        in err
    # The paper config feeds a softmax to G_i: not the authors' generator.
    assert cli.main(["import-torch", NETG, "--out", out, "--config", "paper"]) == 2
    assert "parsing_feed" in capsys.readouterr().err
    # A malicious file: refused, the payload does not run, nothing is written.
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    evil = tmp_path / "latest_net_netG.pth"
    evil.write_bytes(pickle.dumps({"model.x": Evil()}, protocol=2))
    assert cli.main(["import-torch", str(evil), "--out", out]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()
    # Missing discriminator files are named.
    assert cli.main(["import-torch", NETG, "--out", out, "--discriminators",
                     str(tmp_path)]) == 2
    assert "latest_net_netD_PB.pth" in capsys.readouterr().err
    assert not os.path.exists(out)


# ---------------------------------------------------------------------------------------------
# Bad-input corpus: every kind refused through the CLI in one line naming the file, exit 2,
# nothing written. The files are crafted without torch (tests/utils/test_torchfile.py helpers).

_REBUILD_V2 = _Fake("torch._utils", "_rebuild_tensor_v2")


def _rebuild(storage, size, stride=None, offset=0):
    if stride is None:
        stride = tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
    return _Call(_REBUILD_V2, storage, offset, tuple(size), tuple(stride), False, None)


def _write_zip(path, pkl: bytes, entries=(), compress=False):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED,
                         compresslevel=1 if compress else None) as zf:
        zf.writestr("archive/data.pkl", pkl)
        for name, data in entries:
            zf.writestr(f"archive/data/{name}", data)


class _Declared:
    """A storage's declared element count, with no data behind it."""

    def __init__(self, n):
        self.size = n


def _zip_bomb(path):
    """~0.5 MB that inflate to 128 MiB (a float storage of 32M elements, every byte present)."""
    n = 128 << 20
    st = _TStorage("0", "FloatStorage", _Declared(n // 4))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("archive/data.pkl", _fake_torch_pickle({"w": _rebuild(st, (n // 4,))}))
        zeros = bytes(1 << 24)
        with zf.open("archive/data/0", "w", force_zip64=True) as f:
            for _ in range(n // len(zeros)):
                f.write(zeros)
    return "inflates from"


def _stride0(path):
    """400 bytes of storage viewed as a 10000x5000 float tensor (200 MB if expanded)."""
    st = _TStorage("0", "FloatStorage", np.arange(100, dtype="<f4"))
    _write_zip(path, _fake_torch_pickle({"w": _rebuild(st, (10000, 5000), (0, 0))}),
               [("0", st.data.tobytes())])
    return "the tensors would take 200000000 bytes"


def _deep(path):
    """100,000 nested lists in data.pkl."""
    n = 100_000
    _write_zip(path, b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b".")
    return "nests deeper than"


def _many_ops(path):
    _write_zip(path, pickle.dumps(list(range(700_000)), protocol=2))
    return "more than 500000 opcodes"


def _truncated_zip(path):
    st = _TStorage("0", "FloatStorage", np.arange(1000, dtype="<f4"))
    _write_zip(path, _fake_torch_pickle({"w": _rebuild(st, (1000,))}), [("0", st.data.tobytes())])
    path.write_bytes(path.read_bytes()[:2500])
    return "truncated or corrupt zip archive"


def _truncated_legacy(path):
    data = open(NETG, "rb").read()
    path.write_bytes(data[:len(data) - 1000])
    return "truncated: storage"


def _wrong_magic(path):
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        0x1234, 1001, {"protocol_version": 1001, "little_endian": True}))
    path.write_bytes(head + pickle.dumps({}, protocol=2))
    return "legacy magic number expected, found 4660"


def _forbidden(path):
    class Evil:
        def __reduce__(self):
            return os.system, ("echo pwned",)
    _write_zip(path, pickle.dumps({"model.x": Evil()}, protocol=2))
    return "refused to load: the pickle references the global"


def _out_of_range(path):
    st = _TStorage("0", "FloatStorage", np.arange(4, dtype="<f4"))
    _write_zip(path, _fake_torch_pickle({"w": _rebuild(st, (4,), (1000,))}),
               [("0", st.data.tobytes())])
    return "reaches element 3000 of storage '0' with 4 elements"


def _storage_short(path):
    st = _TStorage("0", "FloatStorage", np.arange(100, dtype="<f4"))
    _write_zip(path, _fake_torch_pickle({"w": _rebuild(st, (100,))}), [("0", b"\0" * 40)])
    return "the pickle declares 400 bytes, zip entry archive/data/0 holds 40"


def _not_a_dict(path):
    st = _TStorage("0", "FloatStorage", np.arange(4, dtype="<f4"))
    _write_zip(path, _fake_torch_pickle([_rebuild(st, (4,))]), [("0", st.data.tobytes())])
    return "a state dict (dict of tensors) expected, found list"


def _nested_value(path):
    _write_zip(path, pickle.dumps({"epoch": 3, "optimizer": {}}, protocol=2))
    return "entry 'epoch' is a int, not a tensor"


def _wrong_shape(path):
    """The fixture's state dict with one known key 4x too wide (declared, refused unread)."""
    state = load_state_dict(NETG)
    key = "model.app_trans_net.5.gated_conv.weight"
    state[key] = np.zeros((128,) + state[key].shape[1:], np.float32)
    storages = [_TStorage(str(i), "FloatStorage" if v.dtype == np.float32 else "LongStorage",
                          np.ascontiguousarray(v).reshape(-1))
                for i, v in enumerate(state.values())]
    obj = {k: _rebuild(s, v.shape) for (k, v), s in zip(state.items(), storages)}
    path.write_bytes(_legacy_file(obj, storages))
    return f"1 mis-shaped ({key}: expected (32, 16, 3, 3), found (128, 16, 3, 3))"


def _text(path):
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n")
    return "not a PyTorch checkpoint"


def _empty(path):
    path.write_bytes(b"")
    return "not a PyTorch checkpoint"


# issue 29, class 3: a crash (deep tuple keys: SIGSEGV when hashed) and a directory read whole
def _deep_tuple_key(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", bad_files.deep_tuple_pickle())
    return "nests objects more than 100 deep"


def _deep_tuple_key_legacy(path):
    path.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
                     + pickle.dumps(1001, protocol=2) + pickle.dumps({}, protocol=2)
                     + bad_files.deep_tuple_pickle())
    return "nests objects more than 100 deep"


def _many_entries(path):
    bad_files.zip_of_many_entries(path)
    return "declares 12001 entries"


def _declares_400k_entries(path):
    bad_files.zip_declaring_entries(path)
    return "declares 400000 entries"


BAD_FILES = {f.__name__.strip("_"): f for f in (
    _zip_bomb, _stride0, _deep, _many_ops, _truncated_zip, _truncated_legacy, _wrong_magic,
    _forbidden, _out_of_range, _storage_short, _not_a_dict, _nested_value, _wrong_shape, _text,
    _empty, _deep_tuple_key, _deep_tuple_key_legacy, _many_entries, _declares_400k_entries)}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_checkpoint_corpus_through_the_cli(tmp_path, capsys, kind, fixture_cfg):
    src = tmp_path / "in" / "latest_net_netG.pth"
    src.parent.mkdir()
    problem = BAD_FILES[kind](src)
    out_dir = tmp_path / "out"
    rc = cli.main(["import-torch", str(src), "--out", str(out_dir / "g.weights.h5"),
                   "--config", os.path.join(FIXTURE, "config.json")])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert rc == 2 and len(lines) == 1, captured.err
    assert lines[0].startswith(f"pinet-tf import-torch: error: {src}: "), lines[0]
    assert problem in lines[0] and "Traceback" not in captured.err + captured.out
    assert not out_dir.exists() or os.listdir(out_dir) == []


_MEMORY_PROBE = r"""
import json, resource, sys
from pinet_tf.utils import torchfile

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

growth = {}
for kind, path in json.loads(sys.argv[1]).items():
    before = peak_mb()
    try:
        torchfile.load_state_dict(path)
    except torchfile.TorchFileError:
        pass
    growth[kind] = peak_mb() - before
print(json.dumps(growth))
"""
MEMORY_BOUND_MB = 50


def _probe(files: dict) -> dict:
    import json
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, json.dumps(files)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_memory_guard_crafted_files_cost_less_than_the_bound(tmp_path):
    """Peak RSS growth of the reader (in a fresh process) under files that declare 128 MB or
    more, refused from their declared sizes: under MEMORY_BOUND_MB each (before the checks:
    +257 MB for this 0.6 MB bomb, +191 MB for the stride-0 tensor, a RecursionError when deep)."""
    files = {}
    for kind in ("zip_bomb", "stride0", "deep", "many_ops", "truncated_legacy",
                 "deep_tuple_key", "many_entries", "declares_400k_entries"):
        files[kind] = str(tmp_path / f"{kind}.pth")
        BAD_FILES[kind](tmp_path / f"{kind}.pth")
    # A legacy storage declaring 2**28 floats (1 GiB) backed by 16 bytes.
    st = _TStorage("0", "FloatStorage", _Declared(1 << 28))
    head = _legacy_file({"w": _rebuild(st, (1 << 28,))}, [])
    tail = pickle.dumps(["0"], protocol=2) + struct.pack("<q", 1 << 28) + b"\0" * 16
    files["legacy_giant"] = str(tmp_path / "legacy_giant.pth")
    (tmp_path / "legacy_giant.pth").write_bytes(head[:-len(pickle.dumps([], protocol=2))] + tail)
    assert os.path.getsize(files["zip_bomb"]) < 2 << 20
    growth = _probe(files)
    assert set(growth) == set(files)
    assert all(g < MEMORY_BOUND_MB for g in growth.values()), growth


def test_memory_of_a_real_file_is_about_its_size(tmp_path):
    """A valid 64 MB state dict (zip and legacy): the reader's peak growth stays under 1.5x the
    file's size + 10 MB (contiguous tensors are views of the storage bytes, read in place)."""
    big = _TStorage("0", "FloatStorage", np.arange(16 << 20, dtype="<f4"))
    small = _TStorage("1", "FloatStorage", np.ones(12, dtype="<f4"))
    obj = {"big": _rebuild(big, (4096, 4096)), "t": _rebuild(small, (3, 4), (1, 3)),
           "part": _rebuild(big, (8,), offset=5)}
    _write_zip(tmp_path / "zip.pth", _fake_torch_pickle(obj),
               [("0", big.data.tobytes()), ("1", small.data.tobytes())])
    (tmp_path / "legacy.pth").write_bytes(_legacy_file(obj, [big, small]))
    for fmt in ("zip", "legacy"):
        got = load_state_dict(tmp_path / f"{fmt}.pth")
        np.testing.assert_array_equal(got["big"].reshape(-1), big.data)
        np.testing.assert_array_equal(got["t"], small.data.reshape(4, 3).T)
        np.testing.assert_array_equal(got["part"], np.arange(5, 13, dtype=np.float32))
        del got
    size_mb = os.path.getsize(tmp_path / "zip.pth") / 2 ** 20
    growth = _probe({f: str(tmp_path / f"{f}.pth") for f in ("zip", "legacy")})
    assert all(g < 1.5 * size_mb + 10 for g in growth.values()), (size_mb, growth)


def test_shapes_are_compared_before_any_tensor_is_read(tmp_path, monkeypatch, fixture_cfg):
    from pinet_tf.utils.torchfile import StateDictFile

    path = tmp_path / "latest_net_netG.pth"
    problem = _wrong_shape(path)
    monkeypatch.setattr(StateDictFile, "read", lambda self: pytest.fail("tensor bytes read"))
    with pytest.raises(ValueError) as info:
        torch_import.import_generator(path, fixture_cfg)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


def test_a_float64_state_loads_exactly_into_float64_variables(fixture_cfg):
    """A float64 check (`tests/training/test_parity.py`) imports float64 states and updates:
    float64 variables get them unrounded, float32 variables get them rounded."""
    import keras

    from pinet_tf.models import build_pose_discriminator

    rng = np.random.default_rng(0)
    state = {k: (v.astype(np.float64) * (1 + 1e-12 * rng.standard_normal(v.shape))
                 if v.dtype.kind == "f" else v)
             for k, v in load_state_dict(os.path.join(FIXTURE, "latest_net_netD_PB.pth")).items()}
    values = np.concatenate([v.ravel() for v in state.values() if v.dtype == np.float64])
    for policy, exact in (("float64", True), ("float32", False)):
        old = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            d = build_pose_discriminator(fixture_cfg)
        finally:
            keras.config.set_dtype_policy(old)
        assert torch_import.load_torch_discriminator(d, state, fixture_cfg) > 0
        got = np.concatenate([np.asarray(w.numpy(), np.float64).ravel() for w in d.weights
                              if w.dtype == policy and "moving" not in w.path])
        assert got.size and np.isin(got, values).all() == exact, policy
