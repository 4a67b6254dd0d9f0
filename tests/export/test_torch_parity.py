"""Parity with our PyTorch port of the official networks (needs torch: `pip install .[torch]`).

Random weights, but BatchNorm gamma/beta and running statistics randomised (calibrated on a
batch) so that activations stay O(1): with plain random weights the outputs shrink to ~1e-9 and
an absolute tolerance would pass vacuously.
"""

import dataclasses
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pinet_tf.config import ModelConfig  # noqa: E402
from pinet_tf.export import torch_import  # noqa: E402
from pinet_tf.utils.torchfile import load_state_dict  # noqa: E402
from tests.reference import make_torch_fixture  # noqa: E402
from tests.reference import pinet_torch as ref  # noqa: E402

H, W = 32, 24
TOL = 1e-4


def _nhwc(t):
    return t.permute(0, 2, 3, 1).numpy()


def _cfg(**kw):
    return dataclasses.replace(ModelConfig.official(), image_height=H, image_width=W, **kw)


@pytest.mark.parametrize("ngf,zip_format", [(64, False), (16, True)],
                         ids=["official-width-legacy", "ngf16-zip"])
def test_generator_parity(tmp_path, ngf, zip_format):
    torch.manual_seed(ngf)
    net = ref.build_netG(ngf)
    ref.randomise_(net, ref.random_inputs(2, H, W, seed=10), seed=11)
    x = ref.random_inputs(2, H, W, seed=12)
    with torch.no_grad():
        image, parse = net(x)
    path = tmp_path / "latest_net_netG.pth"
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=zip_format)

    generator = torch_import.import_generator(path, _cfg(ngf=ngf))
    out = generator({"source_image": _nhwc(x[0]), "source_heatmaps": _nhwc(x[1][:, :18]),
                     "target_heatmaps": _nhwc(x[1][:, 18:]),
                     "source_parsing_onehot": _nhwc(x[2])}, training=False)
    got_image, got_logits = out["image"].numpy(), out["parsing_logits"].numpy()
    want_image, want_logits = _nhwc(image), _nhwc(parse)
    assert want_image.std() > 0.1 and want_logits.std() > 0.1  # O(1), not vacuous
    assert np.abs(got_image - want_image).max() <= TOL
    assert np.abs(got_logits - want_logits).max() <= TOL
    np.testing.assert_array_equal(got_logits.argmax(-1), want_logits.argmax(-1))


def test_discriminator_parity(tmp_path):
    torch.manual_seed(0)
    pb, pp = ref.build_netD_PB(), ref.build_netD_PP()  # official widths, 3 blocks
    torch.save(pb.state_dict(), tmp_path / "pb.pth")
    torch.save(pp.state_dict(), tmp_path / "pp.pth", _use_new_zipfile_serialization=False)
    dp, da = torch_import.import_discriminators(tmp_path / "pb.pth", tmp_path / "pp.pth",
                                                _cfg())
    x1, x2, _, _ = ref.random_inputs(2, H, W, seed=1)
    src = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(2)) * 2 - 1
    pt = x2[:, 18:]
    pb.eval(), pp.eval()
    with torch.no_grad():
        want_pb, want_pp = pb(torch.cat([pt, x1], 1)), pp(torch.cat([x1, src], 1))
    got_pb = dp({"target_heatmaps": _nhwc(pt), "image": _nhwc(x1)}, training=False)["score"]
    got_pp = da({"image": _nhwc(x1), "source_image": _nhwc(src)}, training=False)["score"]
    for got, want in ((got_pb, want_pb), (got_pp, want_pp)):
        assert want.std() > 0.5
        assert np.abs(got.numpy() - _nhwc(want)).max() <= TOL


def test_reference_has_the_official_state_dict():
    """Our port reproduces the spec's key list, order and sizes (§4-§6)."""
    sd = ref.build_netG(64).state_dict()
    assert len(sd) == 302 and sum(v.numel() for v in sd.values()) == 20_418_492
    keys = list(sd)
    assert keys[0] == "model.ParsingNet.gcnet.1.gated_conv.weight"
    assert keys[8] == "model.ParsingNet.gcnet.1.batch_norm2d.num_batches_tracked"
    assert "model.ParsingNet.gcnet.13.conv2d.mask_conv.weight" in sd
    assert keys[-1] == "model.refine_upsample_net.6.batch_norm2d.num_batches_tracked"
    assert sd["model.refine_attn.value_conv.weight"].shape == (256, 256, 1, 1)
    assert sd["model.app_trans_net.1.gated_conv.weight"].shape == (64, 45, 7, 7)
    for build, cin, n in ((ref.build_netD_PB, 21, 3_993_989), (ref.build_netD_PP, 6, 3_946_214)):
        d = build()
        assert sum(p.numel() for p in d.parameters()) == n
        assert d.state_dict()["model.1.module.weight_bar"].shape == (64, cin, 7, 7)
        assert list(d.state_dict())[:4] == [f"model.1.module.{s}" for s in
                                            ("bias", "weight_u", "weight_v", "weight_bar")]


def test_committed_fixture_is_what_the_reference_makes(tmp_path):
    make_torch_fixture.make(str(tmp_path))
    for name in sorted(os.listdir(make_torch_fixture.DEFAULT_OUT)):
        committed = os.path.join(make_torch_fixture.DEFAULT_OUT, name)
        fresh = os.path.join(tmp_path, name)
        if name in ("image.npy", "parse.npy", "d_pb.npy", "d_pp.npy"):
            # torch's CPU kernels sum in an order that depends on the machine and its thread
            # count: outputs agree to ~1e-6, far inside the import tests' 1e-4.
            np.testing.assert_allclose(np.load(fresh), np.load(committed), rtol=0, atol=2e-5,
                                       err_msg=name)
        elif name.endswith(".npy"):  # the inputs: exact
            np.testing.assert_array_equal(np.load(fresh), np.load(committed), err_msg=name)
        elif name.endswith(".pth"):  # legacy files embed storage ids: compare the contents
            a, b = load_state_dict(fresh), load_state_dict(committed)
            assert list(a) == list(b)
            for k in a:
                if "running_" in k:  # BatchNorm statistics come from a forward pass: its sums
                    np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-6,  # (as above)
                                               err_msg=f"{name}: {k}")
                else:
                    np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}: {k}")
        else:
            assert open(fresh).read() == open(committed).read()
