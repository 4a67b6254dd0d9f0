"""LPIPS: the Keras network vs a NumPy reference of the original computation (torch layout,
NCHW), weights read from `.pth` files written by torch when it is installed and `.npz` otherwise,
LPIPS(x, x) = 0, symmetry, and clear errors for missing weights."""

import numpy as np
import pytest

from pinet_tf.metrics import LPIPS, LPIPSMetric, WeightsNotFoundError
from pinet_tf.metrics.lpips import ARCHS, SCALE, SHIFT


def random_state_dicts(net, seed=0):
    """torchvision-layout backbone weights (He init) and non-negative LPIPS heads."""
    rng = np.random.default_rng(seed)
    backbone, cin = {}, 3
    for i, spec in enumerate(ARCHS[net]["layers"]):
        if spec[0] == "conv":
            _, cout, k, _, _ = spec
            backbone[f"features.{i}.weight"] = (rng.normal(size=(cout, cin, k, k)) *
                                                np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
            backbone[f"features.{i}.bias"] = rng.normal(0, 0.1, cout).astype(np.float32)
            cin = cout
    chans = [ARCHS[net]["layers"][t - 1][1] for t in ARCHS[net]["taps"]]
    heads = {f"lin{l}.model.1.weight": rng.uniform(0, 0.2, (1, c, 1, 1)).astype(np.float32)
             for l, c in enumerate(chans)}
    return backbone, heads


def _conv_nchw(x, w, b, stride, pad):
    from numpy.lib.stride_tricks import sliding_window_view
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # C,H',W',k,k
    return np.tensordot(w, win, axes=([1, 2, 3], [0, 3, 4])) + b[:, None, None]


def _maxpool_nchw(x, k, s):
    from numpy.lib.stride_tricks import sliding_window_view
    return sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s].max(axis=(-1, -2))


def reference_lpips(img1, img2, net, backbone, heads):
    """One pair [H,W,3] in [-1,1] -> distance, following the original v0.1 steps in NCHW."""
    feats = []
    for img in (img1, img2):
        x = ((img.astype(np.float64) - np.array(SHIFT)) / np.array(SCALE)).transpose(2, 0, 1)
        taps = []
        for i, spec in enumerate(ARCHS[net]["layers"]):
            if spec[0] == "conv":
                x = _conv_nchw(x, backbone[f"features.{i}.weight"].astype(np.float64),
                               backbone[f"features.{i}.bias"], spec[3], spec[4])
            elif spec[0] == "relu":
                x = np.maximum(x, 0)
            else:
                x = _maxpool_nchw(x, spec[1], spec[2])
            if i in ARCHS[net]["taps"]:
                taps.append(x / (np.sqrt((x ** 2).sum(0, keepdims=True)) + 1e-10))
        feats.append(taps)
    total = 0.0
    for l, (a, b) in enumerate(zip(*feats)):
        w = heads[f"lin{l}.model.1.weight"].reshape(-1, 1, 1)
        total += ((a - b) ** 2 * w).sum(0).mean()
    return total


def _write(path, state):
    """A `.pth` via torch.save when torch is installed (read back by pinet_tf.utils.torchfile), else
    an `.npz` with the same keys."""
    try:
        import torch
    except ImportError:
        np.savez(str(path) + ".npz", **state)
        return str(path) + ".npz"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, str(path) + ".pth")
    return str(path) + ".pth"


def test_alexnet_lpips_matches_numpy_reference_from_weight_files(tmp_path):
    backbone, heads = random_state_dicts("alex")
    model = LPIPS("alex", heads=_write(tmp_path / "heads", heads),
                  backbone=_write(tmp_path / "backbone", backbone))
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (3, 64, 48, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.5, x.shape), -1, 1).astype(np.float32)
    d = model(x, y).numpy()
    ref = [reference_lpips(x[i], y[i], "alex", backbone, heads) for i in range(3)]
    np.testing.assert_allclose(d, ref, rtol=2e-4)
    assert np.all(d > 0)
    np.testing.assert_allclose(model(y, x).numpy(), d, rtol=1e-5)  # symmetric
    assert np.all(np.abs(model(x, x).numpy()) < 1e-7)  # LPIPS(x, x) = 0
    # uint8 input is converted to [-1, 1] first.
    xu = np.round((x + 1) * 127.5).astype(np.uint8)
    np.testing.assert_allclose(model(xu, xu).numpy(), 0.0, atol=1e-7)
    assert [r for r, _ in model.weight_files] == ["LPIPS alex backbone", "LPIPS alex heads"]


def test_vgg_lpips_matches_reference_and_streams():
    backbone, heads = random_state_dicts("vgg", seed=2)
    model = LPIPS("vgg", state_dicts=(backbone, heads))
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    y = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    d = model(x, y).numpy()
    ref = [reference_lpips(x[i], y[i], "vgg", backbone, heads) for i in range(2)]
    np.testing.assert_allclose(d, ref, rtol=2e-4)
    m = LPIPSMetric(model)
    m.update_state(x[:1], y[:1])
    m.update_state(x[1:], y[1:])
    assert float(m.result()) == pytest.approx(float(np.mean(ref)), rel=2e-4)


def test_lpips_weight_lookup_and_refusals(tmp_path, monkeypatch):
    """Files found by name in $PINET_TF_WEIGHTS_DIR; missing or wrong files give clear errors."""
    from pinet_tf.utils.weights import ENV_DIR as ENV_VAR
    from pinet_tf.metrics.lpips import find_backbone, find_heads, heads_from_state
    from pinet_tf.utils.weights import package_dir

    backbone, heads = random_state_dicts("alex")
    _, vgg_heads = random_state_dicts("vgg")
    with pytest.raises(ValueError, match="has 128 channels, expected 64 for alex"):
        heads_from_state({**heads, "lin0.model.1.weight": vgg_heads["lin1.model.1.weight"]}, "alex")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsNotFoundError) as e:
        find_backbone("alex")
    assert "alexnet-owt-7be5be79.pth" in str(e.value) and str(tmp_path) in str(e.value)
    if package_dir("lpips") is None:  # an installed lpips wheel would supply the heads
        with pytest.raises(WeightsNotFoundError, match=r"lpips_alex.pth,alex.pth.*"
                           r"PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth"):
            find_heads("alex")
    np.savez(tmp_path / "alexnet-owt-7be5be79.npz", **backbone)
    assert find_backbone("alex") == str(tmp_path / "alexnet-owt-7be5be79.npz")
    with pytest.raises(ValueError, match="net must be one of"):
        LPIPS("squeeze")
    with pytest.raises(ValueError, match="missing features.0.weight"):
        LPIPS("alex", state_dicts=({}, heads))
