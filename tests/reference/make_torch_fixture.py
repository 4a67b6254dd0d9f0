"""Write `tests/fixtures/torch_tiny/`: a reduced-width checkpoint made with our PyTorch reference,
its inputs and the reference's outputs, so CI checks the import without torch.

    python -m tests.reference.make_torch_fixture [OUT_DIR]

Generator (ngf 8, 32x24) in the legacy pre-1.6 format like the authors' release; netD_PB in the
legacy format and netD_PP in the zip format (ndf 4, 2 blocks), so both formats are read in CI.
Arrays are NCHW, as the reference produced them; x3 (one-hot) is stored as labels. Deterministic (fixed seeds).
"""

import os
import sys

import numpy as np

from tests.reference import exit_unless_torch

exit_unless_torch(__name__, __spec__)
import torch  # noqa: E402

from tests.reference import pinet_torch as R

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "fixtures", "torch_tiny")
HEIGHT, WIDTH, NGF, NDF, BLOCKS = 32, 24, 8, 4, 2


def fixture_config():
    from pinet_tf.config import ModelConfig

    return ModelConfig(name="tiny-import", image_height=HEIGHT, image_width=WIDTH, ngf=NGF,
                       ndf=NDF, discriminator_blocks=BLOCKS)


@torch.no_grad()
def make(out_dir=DEFAULT_OUT):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    net = R.build_netG(NGF)
    calibration = R.random_inputs(2, HEIGHT, WIDTH, seed=1)
    R.randomise_(net, calibration, seed=2)
    x1, x2, x3, x4 = R.random_inputs(1, HEIGHT, WIDTH, seed=3)
    image, parse = net([x1, x2, x3, x4])
    pb, pp = R.build_netD_PB(NDF, BLOCKS), R.build_netD_PP(NDF, BLOCKS)
    pb_state, pp_state = pb.state_dict(), pp.state_dict()  # before forward mutates u, v
    pb_state = {k: v.clone() for k, v in pb_state.items()}
    pp_state = {k: v.clone() for k, v in pp_state.items()}
    pb.eval(), pp.eval()
    d_pb = pb(torch.cat([x2[:, R.NUM_KEYPOINTS:], image], 1))
    d_pp = pp(torch.cat([image, x1], 1))

    torch.save(net.state_dict(), os.path.join(out_dir, "latest_net_netG.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(pb_state, os.path.join(out_dir, "latest_net_netD_PB.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(pp_state, os.path.join(out_dir, "latest_net_netD_PP.pth"),
               _use_new_zipfile_serialization=True)
    arrays = {"x1": x1, "x2": x2, "image": image, "parse": parse, "d_pb": d_pb, "d_pp": d_pp}
    for name, t in arrays.items():
        np.save(os.path.join(out_dir, f"{name}.npy"), t.numpy().astype(np.float32))
    # x3 is one-hot: store its labels [1, H, W] (uint8), 48x smaller.
    np.save(os.path.join(out_dir, "x3_labels.npy"), x3.argmax(1).numpy().astype(np.uint8))
    fixture_config().save(os.path.join(out_dir, "config.json"))
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"wrote {out_dir}: {total / 1e6:.2f} MB; image std {image.std():.3f}, "
          f"parse std {parse.std():.3f}")


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
