"""Import of the authors' checkpoints, checked against the committed fixture (no torch needed).

`tests/fixtures/torch_tiny` was written by `tests/reference/make_torch_fixture.py` with our
PyTorch port of the official networks (ngf 8, 32x24, randomised BatchNorm statistics so that
activations stay O(1)); the expected outputs are that port's, in eval mode.
"""

import os
import pickle

import numpy as np
import pytest

from pinet_tf import cli
from pinet_tf.config import ModelConfig
from pinet_tf.export import torch_import
from pinet_tf.utils.torchfile import load_state_dict

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
    from pinet_tf.export.torch_cli import discriminator_outputs
    from pinet_tf.models import build_appearance_discriminator, build_pose_discriminator

    pb_path, pp_path = discriminator_outputs(imported)
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
    assert "nothing was loaded" in msg
    assert "1 missing keys:\n    model.refine_attn.gamma" in msg
    assert "1 unexpected keys:\n    model.extra.weight" in msg
    assert ("model.app_trans_net.5.gated_conv.weight: expected (32, 16, 3, 3), "
            "found (16, 16, 3, 3)") in msg
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
    assert "shape mismatches" in err and \
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
