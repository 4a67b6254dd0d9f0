"""`pinet-tf score --protocol P`: each protocol's SSIM / SSIM_256 / L1 / PSNR equal the peer's own
scikit-image calls (with the peer's exact arguments and value types) on images the code has
never seen, and the LPIPS / FID preprocessing and batch rules equal a step-by-step
reimplementation of the peer's script (PyTorch resize where the peer uses it; small random
networks instead of the pretrained ones, so nothing is downloaded)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.evaluation import protocols as plib
from pinet_tf.evaluation import scoring

H, W = 256, 176


def _people(rng, n, h=H, w=W):
    """n (target, generated) uint8 pairs: a white studio, a coloured figure with a print, and a
    generated copy that is shifted, blurred and noisy (the kind of errors models make)."""
    yy, xx = np.mgrid[0:h, 0:w]
    targets, generated = [], []
    for _ in range(n):
        img = np.full((h, w, 3), 245.0)
        cx, top = rng.uniform(0.35, 0.65) * w, rng.uniform(0.05, 0.2) * h
        body = (np.abs(xx - cx) < rng.uniform(0.12, 0.2) * w) & (yy > top) & (yy < 0.95 * h)
        colour = rng.uniform(20, 230, 3)
        stripes = ((yy // rng.integers(3, 9)) % 2)[..., None] * rng.uniform(10, 60)
        img[body] = (colour + stripes)[body]
        head = (xx - cx) ** 2 + (yy - top) ** 2 < (0.08 * w) ** 2
        img[head] = rng.uniform(150, 220, 3)
        t = img.clip(0, 255).astype(np.uint8)
        g = np.roll(img, rng.integers(-4, 5), axis=1)
        g = (g + np.roll(g, 1, 0) + np.roll(g, 1, 1)) / 3 + rng.normal(0, 6, g.shape)
        targets.append(t)
        generated.append(g.clip(0, 255).astype(np.uint8))
    return np.stack(targets), np.stack(generated)


@pytest.fixture(scope="module")
def fixture_pairs():
    return _people(np.random.default_rng(26), 3)


def _peer_reference(name, t, g):
    """The peers' own per-image calls (scikit-image), averaged as their scripts do."""
    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.metrics import structural_similarity as ssim

    out = {}
    if name == "patn":
        pad = lambda im: np.pad(im, ((0, 0), (40, 40), (0, 0)), constant_values=255)
        tp, gp = [pad(x) for x in t], [pad(x) for x in g]
        out["ssim"] = np.mean([ssim(a, b, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, channel_axis=-1,
                                    data_range=b.max() - b.min()) for a, b in zip(tp, gp)])
        out["l1"] = np.mean([np.abs(2 * (a / 255.0 - 0.5) - 2 * (b / 255.0 - 0.5)).mean()
                             for a, b in zip(tp, gp)])
        return out
    if name == "cfld":  # ToTensor: CHW float32 in [0, 1]
        t = [np.transpose(x, (2, 0, 1)).astype(np.float32) / 255.0 for x in t]
        g = [np.transpose(x, (2, 0, 1)).astype(np.float32) / 255.0 for x in g]
        out["psnr"] = np.mean([psnr(a, b, data_range=1) for a, b in zip(t, g)])
        out["ssim"] = np.mean([ssim(a, b, data_range=1, win_size=51, channel_axis=0)
                               for a, b in zip(t, g)])
        out["ssim_256"] = np.mean([ssim(a * 255.0, b * 255.0, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, channel_axis=0,
                                        data_range=(b * 255.0).max() - (b * 255.0).min())
                                   for a, b in zip(t, g)])
        return out
    sigma = 1.5 if name == "gfla" else 1.2  # gfla / pidm: imread(...).astype(float32) / 255.0
    t = [x.astype(np.float32) / 255.0 for x in t]
    g = [x.astype(np.float32) / 255.0 for x in g]
    out["psnr"] = np.mean([psnr(a, b, data_range=1) for a, b in zip(t, g)])
    out["ssim"] = np.mean([ssim(a, b, data_range=1, win_size=51, channel_axis=-1)
                           for a, b in zip(t, g)])
    out["l1"] = np.mean([np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32)))
                         for a, b in zip(t, g)])
    out["ssim_256"] = np.mean([ssim(a * 255.0, b * 255.0, gaussian_weights=True, sigma=sigma,
                                    use_sample_covariance=False, channel_axis=-1,
                                    data_range=(b * 255.0).max() - (b * 255.0).min())
                               for a, b in zip(t, g)])
    return out


@pytest.mark.parametrize("name", ["patn", "gfla", "pidm", "cfld"])
def test_pair_metrics_equal_the_peers_scikit_image_calls(name, fixture_pairs):
    t, g = fixture_pairs
    ours = {k: float(np.mean(v)) for k, v in plib.get(name).pairs(t, g).items()}
    ref = _peer_reference(name, t, g)
    assert set(ours) == set(ref)
    for k in ref:
        assert abs(ours[k] - ref[k]) < 1e-6, (name, k, ours[k], ref[k])


def test_pinet_protocol_is_the_project_definition(fixture_pairs):
    from skimage.metrics import structural_similarity as ssim

    t, g = fixture_pairs
    ours = plib.get("pinet").pairs(t, g)
    ref = [ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                channel_axis=-1, data_range=255) for a, b in zip(t, g)]
    np.testing.assert_allclose(ours["ssim"], ref, atol=1e-5)
    np.testing.assert_allclose(ours["l1"], np.abs(t / 1.0 - g).mean((1, 2, 3)) / 255, rtol=1e-5)


def test_protocols_disagree_on_the_same_pictures(fixture_pairs):
    """The point of the registry: one set of results, several 'SSIM's."""
    t, g = fixture_pairs
    values = {n: float(np.mean(plib.get(n).pairs(t, g)["ssim"])) for n in plib.PROTOCOLS}
    assert max(values.values()) - min(values.values()) > 0.01, values


def test_batch_rules():
    assert scoring.chunks(130, 64, True) == [(0, 64), (64, 128)]
    assert scoring.chunks(130, 64, False)[-1] == (128, 130)
    assert scoring.chunks(40, 64, True) == [(0, 40)]  # batch > N becomes N (GFLA, PIDM)
    assert scoring.used_count(130, plib.get("gfla").fid) == 128
    assert scoring.used_count(130, plib.get("cfld").lpips) == 130


def test_resize_and_inception_inputs_equal_pytorch():
    """cv2.resize(float32, INTER_LINEAR) and F.interpolate(bilinear, align_corners=False) share
    one formula (half-pixel centres, clamped edges, no antialias): ours against PyTorch's."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 64, 44, 3)).astype(np.uint8)
    nchw = torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2)
    # PIDM's cv2 resize to 256x176
    ref = F.interpolate(nchw, size=(256, 176), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(plib.resize_cv2_bilinear(x, (256, 176)),
                               ref.permute(0, 2, 3, 1).numpy(), atol=1e-3)
    # pytorch-fid: /255, bilinear to 299, 2x - 1
    ref = F.interpolate(nchw / 255, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    np.testing.assert_allclose(scoring.inception_input("pytorch_fid_inception", x),
                               ref.permute(0, 2, 3, 1).numpy(), atol=1e-5)
    # CFLD: bilinear to 299, then x * std/0.5 + (mean - 0.5)/0.5 per channel
    y = F.interpolate(nchw / 255, size=(299, 299), mode="bilinear")
    for c, (m, s) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
        y[:, c] = y[:, c] * (s / 0.5) + (m - 0.5) / 0.5
    np.testing.assert_allclose(scoring.inception_input("torchvision_inception", x),
                               y.permute(0, 2, 3, 1).numpy(), atol=1e-5)


def test_cfld_resize_is_pil_bicubic():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (1, 64, 44, 3)).astype(np.uint8)
    ref = np.asarray(Image.fromarray(x[0]).resize((176, 256), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(plib.resize_pil_bicubic(x, (256, 176))[0], ref)


def _write(folder, images, names):
    os.makedirs(folder, exist_ok=True)
    for im, n in zip(images, names):
        Image.fromarray(im).save(os.path.join(folder, n))


class SmallFeatures:
    """A stand-in feature extractor (fixed random projection of a coarse grid of the input)."""

    include_top = False

    def __init__(self):
        self.w = np.random.default_rng(0).normal(size=(10 * 10 * 3, 12))

    def __call__(self, x):
        x = np.asarray(x, np.float64)
        grid = x[:, :: x.shape[1] // 10, :: x.shape[2] // 10][:, :10, :10].reshape(len(x), -1)
        return {"pool": np.tanh(grid @ self.w / 50.0)}


def _score_with_real_set(tmp_path, protocol, t, g, train, fid_net, lpips_seed=0):
    """Write generated / real pairs (same names) and a training set, score them with a
    random-weight AlexNet LPIPS and the stand-in FID extractor; (report, lpips, features)."""
    from pinet_tf.metrics.lpips import LPIPS
    from tests.metrics.test_lpips import random_state_dicts

    names = [f"p{i:03d}.png" for i in range(len(g))]
    _write(tmp_path / "gen", g, names)
    _write(tmp_path / "real", t, names)
    _write(tmp_path / "train", train, [f"t{i:03d}.png" for i in range(len(train))])
    lp = LPIPS("alex", state_dicts=random_state_dicts("alex", seed=lpips_seed))
    feats = SmallFeatures()
    report = scoring.score(protocol, str(tmp_path / "gen"), str(tmp_path / "real"),
                           str(tmp_path / "r.json"), real_set=str(tmp_path / "train"),
                           networks={"alex": lp, fid_net: feats}, progress=False)
    return report, lp, feats


def test_score_gfla_folder_end_to_end(tmp_path):
    """70 pairs: the per-image means over all 70, LPIPS and FID over the first 64 (batch rule),
    FID against --real-set, with a random-weight AlexNet LPIPS and a stand-in extractor."""
    from pinet_tf.metrics import fid_from_features

    t, g = _people(np.random.default_rng(5), 70, 64, 52)
    train = _people(np.random.default_rng(6), 66, 64, 52)[0]
    report, lp, feats = _score_with_real_set(tmp_path, "gfla", t, g, train,
                                             "pytorch_fid_inception")
    m = report["metrics"]
    assert report["pairs"] == 70 and report["images_scored"] == {"lpips": 64, "fid": 64}
    assert m["l1"] == pytest.approx(np.abs(t / 255.0 - g / 255.0).mean(), abs=1e-6)
    ref_lp = lp(t[:64].astype(np.float32) / 127.5 - 1, g[:64].astype(np.float32) / 127.5 - 1)
    assert m["lpips"] == pytest.approx(float(np.mean(ref_lp)), abs=1e-6)
    f = lambda x: feats(scoring.inception_input("pytorch_fid_inception", x))["pool"]
    assert m["fid"] == pytest.approx(fid_from_features(f(train[:64]), f(g[:64])), rel=1e-6)
    assert m["is"] is None and "is" in report["not_in_protocol"]
    assert [s["step"] for s in report["steps"]][:3] == ["read", "ssim", "ssim_256"]
    assert json.loads((tmp_path / "r.json").read_text())["protocol"] == "gfla"


def test_score_cli_offline_skips_with_one_short_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PINET_TF_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    t, g = _people(np.random.default_rng(7), 2, 64, 44)
    _write(tmp_path / "gen", g, ["a.png", "b.png"])
    _write(tmp_path / "real", t, ["a.png", "b.png"])
    out = tmp_path / "r.json"
    rc = main(["score", "--protocol", "pinet", "--generated", str(tmp_path / "gen"), "--real",
               str(tmp_path / "real"), "--out", str(out), "--no-download", "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    skipped = [line for line in text.splitlines() if line.startswith("skipped")]
    assert skipped and all(len(line) < 120 for line in skipped), skipped
    report = json.loads(out.read_text())
    assert all(len(v) < 110 for v in report["skipped"].values())
    assert report["metrics"]["ssim"] is not None and report["metrics"]["lpips"] is None


def test_score_refuses_unpaired_and_mismatched_folders(tmp_path, capsys):
    t, g = _people(np.random.default_rng(8), 2, 64, 44)
    _write(tmp_path / "gen", g, ["a.png", "b.png"])
    _write(tmp_path / "real", t[:1], ["a.png"])
    args = ["score", "--protocol", "gfla", "--generated", str(tmp_path / "gen"), "--real",
            str(tmp_path / "real"), "--out", str(tmp_path / "r.json")]
    assert main(args) == 2
    assert "has no b.png" in capsys.readouterr().err
    _write(tmp_path / "real", [np.zeros((60, 44, 3), np.uint8)], ["b.png"])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "b.png: 64x44 but its real image" in err and "60x44" in err
    assert not (tmp_path / "r.json").exists()
    _write(tmp_path / "real", t[1:], ["b.png"])
    assert main(args) == 2
    assert "smaller than the 51-pixel SSIM window of protocol 'gfla'" in capsys.readouterr().err


def test_evaluate_with_protocol_scores_its_own_images(tiny_records, tmp_path):
    """`evaluate --protocol pinet`: the targets are written beside the generated PNGs and
    scored as `pinet-tf score` does; the pinet protocol is the report's own definition."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.evaluation import evaluate
    from pinet_tf.models import build_generator
    from pinet_tf.models.io import save_generator

    cfg = ModelConfig.tiny()
    run = tmp_path / "run"
    run.mkdir()
    save_generator(build_generator(cfg), cfg, str(run / "generator.weights.h5"))
    cfg.save(str(run / "config.json"))
    report = evaluate(tiny_records, str(tmp_path / "e.json"), run=str(run), limit=3, grid_k=0,
                      progress=False, protocol="pinet", allow_download=False)
    ps = report["protocol_scores"]
    assert ps["protocol"] == "pinet" and os.path.isfile(ps["file"])
    assert sorted(os.listdir(tmp_path / "e_images")) == sorted(os.listdir(tmp_path /
                                                                          "e_images_real"))
    for k in ("l1", "ssim", "psnr"):
        assert ps["metrics"][k] == pytest.approx(report["metrics"]["model"][k], abs=1e-6), k
    with pytest.raises(ValueError, match="smaller than the peer's 51-pixel SSIM window"):
        evaluate(tiny_records, str(tmp_path / "g.json"), run=str(run), limit=3,
                 progress=False, protocol="gfla")
    assert not (tmp_path / "g_images").exists()


def _torch_inception_input(x, resize_to=None, torchvision=False):
    """The peers' PyTorch steps: optional cv2-style bilinear resize of the 0..255 floats, / 255,
    bilinear to 299 (align_corners=False), then pytorch-fid's 2x - 1 or CFLD's renormalisation."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.asarray(x, np.float32)).permute(0, 3, 1, 2)
    if resize_to:
        t = F.interpolate(t, size=resize_to, mode="bilinear", align_corners=False)
    t = F.interpolate(t / 255, size=(299, 299), mode="bilinear", align_corners=False)
    if torchvision:
        for c, (m, s) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
            t[:, c] = t[:, c] * (s / 0.5) + (m - 0.5) / 0.5
    else:
        t = t * 2 - 1
    return t.permute(0, 2, 3, 1).numpy()


def test_score_pidm_resizes_lpips_and_fid_inputs_like_cv2(tmp_path):
    """PIDM: LPIPS and FID see both folders resized to 256x176 (cv2 bilinear) and keep the first
    64 of 66 images; reference steps in PyTorch."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from pinet_tf.metrics import fid_from_features

    t, g = _people(np.random.default_rng(9), 66, 64, 52)
    report, lp, feats = _score_with_real_set(tmp_path, "pidm", t, g, t[::-1],
                                             "pytorch_fid_inception", lpips_seed=1)
    m = report["metrics"]

    def cv2_like(x):
        y = torch.from_numpy(x[:64].astype(np.float32)).permute(0, 3, 1, 2)
        y = F.interpolate(y, size=(256, 176), mode="bilinear", align_corners=False)
        return y.permute(0, 2, 3, 1).numpy() / 127.5 - 1

    assert m["lpips"] == pytest.approx(float(np.mean(lp(cv2_like(t), cv2_like(g)))), abs=1e-5)
    f = lambda x: feats(_torch_inception_input(x[:64], (256, 176)))["pool"]
    # the real-set files in sorted name order are t[::-1]
    assert m["fid"] == pytest.approx(fid_from_features(f(t[::-1]), f(g)), rel=1e-4)


def test_score_cfld_resizes_to_256x176_and_scores_every_image(tmp_path):
    pytest.importorskip("torch")
    from pinet_tf.metrics import fid_from_features

    t, g = _people(np.random.default_rng(10), 5, 64, 44)
    r, lp, feats = _score_with_real_set(tmp_path, "cfld", t, g, g[::-1], "torchvision_inception",
                                        lpips_seed=2)
    big = lambda x: plib.resize_pil_bicubic(x, (256, 176))
    tb, gb = big(t), big(g)
    ref = _peer_reference("cfld", tb, gb)
    assert r["metrics"]["ssim"] == pytest.approx(ref["ssim"], abs=1e-6)
    assert r["images_scored"] == {"lpips": 5, "fid": 5} and r["metrics"]["l1"] is None
    # lpips(pred, gt, normalize=True): [0, 1] inputs mapped to [-1, 1]
    want = lp(tb.astype(np.float32) / 255 * 2 - 1, gb.astype(np.float32) / 255 * 2 - 1)
    assert r["metrics"]["lpips"] == pytest.approx(float(np.mean(want)), abs=1e-5)
    f = lambda x: feats(_torch_inception_input(big(x), torchvision=True))["pool"]
    assert r["metrics"]["fid"] == pytest.approx(fid_from_features(f(g[::-1]), f(g)), rel=1e-4)
