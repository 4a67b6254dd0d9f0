"""VGG19 perceptual loss: Keras .h5 and torchvision .pth weights, the search for the published
files, preprocessing, layer choice, clear errors."""

import zipfile

import keras
import numpy as np
import pytest

from pinet_tf.losses import OFFICIAL_LAYERS, PAPER_LAYERS, VGGPerceptualLoss
from pinet_tf.losses.perceptual import TORCHVISION_INDEX, find_vgg_weights, load_vgg_features
from pinet_tf.utils import weights as wlib


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    """No downloads; no cache of the machine's."""
    monkeypatch.setenv(wlib.ENV_NO_DOWNLOAD, "1")
    monkeypatch.delenv(wlib.ENV_DIR, raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """Random VGG19 notop weights written like the Keras application file would be."""
    keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("vgg") / "vgg19_notop.weights.h5")
    keras.applications.VGG19(include_top=False, weights=None).save_weights(path)
    return path


def test_loads_local_weights_and_uses_the_named_layers(vgg_weights):
    loss = VGGPerceptualLoss(vgg_weights, PAPER_LAYERS)
    ref = keras.applications.VGG19(include_top=False, weights=None)
    ref.load_weights(vgg_weights)
    names = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
    probe = keras.Model(ref.input, [ref.get_layer(n).output for n in names])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 44, 3)).astype(np.float32)
    ours = loss.features(loss.preprocess(x))
    theirs = probe(keras.applications.vgg19.preprocess_input((x + 1) * 127.5))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-3)


def test_value_is_weighted_sum_of_feature_l1(vgg_weights):
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (2, 64, 44, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (2, 64, 44, 3)).astype(np.float32)
    loss = VGGPerceptualLoss(vgg_weights, {"relu1_2": 2.0, "relu2_1": 0.5})
    fa, fb = loss.features(loss.preprocess(a)), loss.features(loss.preprocess(b))
    want = sum(w * np.abs(np.asarray(x) - np.asarray(y)).mean()
               for w, x, y in zip((2.0, 0.5), fa, fb))
    np.testing.assert_allclose(float(loss(a, b)), want, rtol=1e-4)
    assert float(loss(a, a)) == 0.0


def test_official_layer_is_relu1_2_and_torch_preprocessing(vgg_weights):
    loss = VGGPerceptualLoss(vgg_weights, OFFICIAL_LAYERS, preprocessing="torch")
    assert [layer.name for layer in loss.features.layers][-1] == "block1_conv2"
    x = np.zeros((1, 4, 4, 3), np.float32)  # mid grey -> ((0.5 - mean) / std)
    want = (0.5 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(np.asarray(loss.preprocess(x))[0, 0, 0], want, rtol=1e-5)
    # In float64, with the authors' float32 constants (their `torch.FloatTensor`s), exactly.
    f32 = lambda c: np.array(c, np.float32).astype(np.float64)  # noqa: E731
    want = (0.5 - f32([0.485, 0.456, 0.406])) / f32([0.229, 0.224, 0.225])
    np.testing.assert_array_equal(np.asarray(loss.preprocess(x.astype(np.float64)))[0, 0, 0],
                                  want)


def test_clear_errors(tmp_path):
    # No file anywhere and no download: one line naming the file, its URL and the flag.
    with pytest.raises(wlib.WeightsNotFoundError) as e:
        VGGPerceptualLoss(None)
    f = wlib.FILES["vgg19_notop"]
    for part in (f.name, f.url, "--vgg-weights PATH", "--perceptual-weight 0", "--no-download"):
        assert part in str(e.value)
    with pytest.raises(wlib.WeightsNotFoundError, match="vgg19-dcbb9e9d.pth"):
        load_vgg_features(None, default="torchvision")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        VGGPerceptualLoss(str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="relu"):
        VGGPerceptualLoss(str(tmp_path / "x.h5"), {"conv9_9": 1.0})
    bad = tmp_path / "garbage.h5"
    bad.write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="garbage.h5"):
        VGGPerceptualLoss(str(bad))


def test_published_file_is_found_in_the_weights_dir(vgg_weights, tmp_path, monkeypatch):
    """The published file's name and layout (Keras's legacy HDF5 weights, as keras.applications
    downloads it) in $PINET_TF_WEIGHTS_DIR."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    monkeypatch.setenv(wlib.ENV_DIR, str(tmp_path / "w"))
    (tmp_path / "w").mkdir()
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    vgg.load_weights(vgg_weights)
    with h5py.File(tmp_path / "w" / wlib.FILES["vgg19_notop"].name, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, vgg)
    loss = VGGPerceptualLoss(None, PAPER_LAYERS)
    assert loss.weights_path == str(tmp_path / "w" / wlib.FILES["vgg19_notop"].name)
    assert loss.preprocessing == "caffe"
    assert find_vgg_weights() == loss.weights_path  # what a run checks before any work
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth does not exist"):
        find_vgg_weights(str(tmp_path / "vgg19-dcbb9e9d.pth"))
    x = np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    ref = VGGPerceptualLoss(vgg_weights, PAPER_LAYERS)
    np.testing.assert_allclose(float(loss(x, -x)), float(ref(x, -x)), rtol=1e-6)


def _vgg19_state(upto_conv: int, seed=0):
    """A torchvision-style VGG19 state dict with the first `upto_conv` convolutions (He init)
    and a small stand-in classifier tensor (ignored by the loader)."""
    rng = np.random.default_rng(seed)
    chans = [64, 64, 128, 128, 256, 256, 256, 256] + [512] * 8
    state, cin = {}, 3
    for n, (name, i) in enumerate(sorted(TORCHVISION_INDEX.items(), key=lambda kv: kv[1])):
        if n == upto_conv:
            break
        cout = chans[n]
        state[f"features.{i}.weight"] = (rng.normal(size=(cout, cin, 3, 3))
                                         * np.sqrt(2 / (9 * cin))).astype(np.float32)
        state[f"features.{i}.bias"] = rng.normal(0, 0.1, cout).astype(np.float32)
        cin = cout
    state["classifier.0.weight"] = rng.normal(size=(4, 3)).astype(np.float32)
    return state


def _write_pth_without_torch(path, state):
    """The zip layout torch.save writes, made with the torchfile tests' fake pickler."""
    from tests.utils.test_torchfile import _Call, _Fake, _Storage, _fake_torch_pickle

    rebuild = _Fake("torch._utils", "_rebuild_tensor_v2")
    obj, storages = {}, []
    for n, (k, v) in enumerate(state.items()):
        st = _Storage(str(n), "FloatStorage", np.ascontiguousarray(v, "<f4").reshape(-1))
        strides = tuple(int(s) // 4 for s in np.ascontiguousarray(v).strides)
        obj[k] = _Call(rebuild, st, 0, v.shape, strides, False, None)
        storages.append(st)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _fake_torch_pickle(obj))
        for st in storages:
            zf.writestr(f"archive/data/{st.key}", st.data.tobytes())
    return str(path)


def _reference_features(state, x, convs):
    """relu(conv(...)) of torchvision's layout in NumPy: x [H,W,3] already normalised."""
    from numpy.lib.stride_tricks import sliding_window_view

    h = np.transpose(x, (2, 0, 1)).astype(np.float64)
    for i in convs:
        w, b = state[f"features.{i}.weight"], state[f"features.{i}.bias"]
        p = np.pad(h, ((0, 0), (1, 1), (1, 1)))
        win = sliding_window_view(p, (3, 3), axis=(1, 2))  # C,H,W,3,3
        h = np.maximum(np.tensordot(w, win, axes=([1, 2, 3], [0, 3, 4])) + b[:, None, None], 0)
    return np.transpose(h, (1, 2, 0))


def test_torchvision_state_dict_written_without_torch(tmp_path):
    state = _vgg19_state(2)
    path = _write_pth_without_torch(tmp_path / "vgg19-dcbb9e9d.pth", state)
    loss = VGGPerceptualLoss(path, OFFICIAL_LAYERS)
    assert loss.preprocessing == "torch"  # follows the file
    x = np.random.default_rng(0).uniform(-1, 1, (1, 20, 16, 3)).astype(np.float32)
    ours = np.asarray(loss.features(loss.preprocess(x)))[0]
    norm = ((x[0] + 1) / 2 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(ours, _reference_features(state, norm, (0, 2)), rtol=1e-4,
                               atol=1e-4)
    # Deeper layers need tensors the file lacks: refused by name.
    with pytest.raises(ValueError, match=r"missing features\.5\.weight, features\.5\.bias"):
        VGGPerceptualLoss(path, PAPER_LAYERS)
    # A tensor of the wrong shape is named too; Caffe preprocessing does not fit a .pth.
    bad = dict(state, **{"features.2.weight": state["features.2.weight"][:, :32]})
    with pytest.raises(ValueError, match=r"features\.2\.weight has shape \(64, 32, 3, 3\)"):
        VGGPerceptualLoss(_write_pth_without_torch(tmp_path / "bad.pth", bad), OFFICIAL_LAYERS)
    with pytest.raises(ValueError, match="not 'caffe'"):
        VGGPerceptualLoss(path, OFFICIAL_LAYERS, preprocessing="caffe")


def test_torchvision_state_dict_saved_by_torch_matches_torch():
    torch = pytest.importorskip("torch")
    import tempfile

    state = _vgg19_state(5, seed=3)  # relu1_1 .. relu3_1
    layers = {"relu1_1": 1.0, "relu2_1": 0.5, "relu3_1": 0.25}
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/vgg19-dcbb9e9d.pth"
        torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
        loss = VGGPerceptualLoss(path, layers)
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (2, 24, 20, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (2, 24, 20, 3)).astype(np.float32)

    def torch_features(x):
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        h = (torch.from_numpy(x).permute(0, 3, 1, 2) + 1) / 2
        h = (h - mean) / std
        out, taps = [], {0: None, 5: None, 10: None}  # relu1_1, relu2_1, relu3_1
        for i in range(11):
            if i in (4, 9):
                h = torch.nn.functional.max_pool2d(h, 2, 2)
            elif f"features.{i}.weight" in state:
                h = torch.relu(torch.nn.functional.conv2d(
                    h, torch.from_numpy(state[f"features.{i}.weight"]),
                    torch.from_numpy(state[f"features.{i}.bias"]), padding=1))
                if i in taps:
                    out.append(h)
        return out

    with torch.no_grad():
        want = sum(w * (fa - fb).abs().mean().item() for w, fa, fb in
                   zip(layers.values(), torch_features(a), torch_features(b)))
        fa = torch_features(a)
    ours = loss.features(loss.preprocess(a))
    for o, t in zip(ours, fa):
        np.testing.assert_allclose(np.asarray(o), t.permute(0, 2, 3, 1).numpy(), rtol=1e-3,
                                   atol=1e-4)
    assert float(loss(a, b)) == pytest.approx(want, rel=1e-4)
