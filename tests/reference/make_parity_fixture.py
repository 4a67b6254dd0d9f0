"""The torch side of the training parity check, and the writer of `tests/fixtures/parity/`
(initial state, batches, the authors' step's updated state), so CI checks the same numbers
without torch.

    python -m tests.reference.make_parity_fixture [OUT_DIR]

The fixture uses reduced widths (ngf 8, ndf 4, 3 D blocks) at 64x48, batch 2, 2 steps, to stay a
few MB; `tests/training/test_parity.py` also runs the official widths live when torch is present.
The reference runs in float64 from the float32 initial state (why: the test's docstring).
Files: `NET_before.pth` (float32 state dicts, read without torch by `pinet_tf.utils.torchfile`),
`NET_update.pth` (after - before for every key), `vgg_relu1_2.pth`, `batches.npz` (images and
heatmaps as uint8, decoded by `parity_data.decode_batch`), `losses.json`, `config.json`.
Deterministic (fixed seeds).
"""

import json
import os
import sys

import numpy as np

from tests.reference import exit_unless_torch

exit_unless_torch(__name__, __spec__)
import torch  # noqa: E402

from tests.reference import official_step as S
from tests.reference import pinet_torch as R
from tests.reference.parity_data import (BATCH, BLOCKS, DEFAULT_OUT, HEIGHT, NDF, NETS, NGF,
                                         STEPS, WIDTH, decode_batch, encoded_batches,
                                         fixture_config)


def initial_nets(ngf, ndf, blocks, height, width, seed=0):
    """(netG, netD_PB, netD_PP, vgg): random weights, G's BatchNorm statistics calibrated so
    activations stay O(1) (`pinet_torch.randomise_`), attention gamma non-zero, D dropout off."""
    torch.manual_seed(seed)
    netG = R.build_netG(ngf)
    R.randomise_(netG, R.random_inputs(2, height, width, seed=seed + 1), seed=seed + 2,
                 output_scale=0.3, attention_sharpness=1.0)
    netD_PB = R.build_netD_PB(ndf, blocks, dropout=0.0)
    netD_PP = R.build_netD_PP(ndf, blocks, dropout=0.0)
    with torch.no_grad():
        for d in (netD_PB, netD_PP):  # non-zero biases (they have no effect: IN follows)
            for name, p in d.named_parameters():
                if name.endswith(".bias"):
                    p.normal_(0.0, 0.1)
    return netG, netD_PB, netD_PP, S.build_vgg_relu1_2()


def state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def run_reference(nets, vgg, batches, dtype=torch.float64, sn_gradient="authors"):
    """Run the authors' step on `batches` (element dicts) in `dtype` (the nets are converted in
    place: their float32 values are exact in float64); returns per-step losses. `sn_gradient`:
    `official_step.official_step`'s."""
    for net in (*nets, vgg):
        net.to(dtype)
    optimizers = S.make_optimizers(*nets)
    cast = lambda t: t.to(dtype) if t.is_floating_point() else t  # noqa: E731
    return [S.official_step(*nets, optimizers, vgg,
                            {k: cast(v) for k, v in S.torch_batch(b).items()}, sn_gradient)
            for b in batches]


def make(out_dir=DEFAULT_OUT):
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    *nets, vgg = initial_nets(NGF, NDF, BLOCKS, HEIGHT, WIDTH, seed=0)
    encoded = encoded_batches(STEPS, BATCH, HEIGHT, WIDTH, seed=1)
    for name, net in zip(NETS, nets):
        torch.save(state(net), os.path.join(out_dir, f"{name}_before.pth"),
                   _use_new_zipfile_serialization=False)
    torch.save(state(vgg), os.path.join(out_dir, "vgg_relu1_2.pth"),
               _use_new_zipfile_serialization=False)
    before = [state(net) for net in nets]
    losses = run_reference(nets, vgg, [decode_batch(b) for b in encoded])
    for name, net, start in zip(NETS, nets, before):
        # after - before (computed in float64, stored float32: 6e-8 relative), every key.
        update = {k: (v - start[k].to(v.dtype)).to(start[k].dtype) for k, v in state(net).items()}
        torch.save(update, os.path.join(out_dir, f"{name}_update.pth"),
                   _use_new_zipfile_serialization=False)
    np.savez_compressed(os.path.join(out_dir, "batches.npz"), **{
        f"{i}/{k}": v for i, b in enumerate(encoded) for k, v in b.items()})
    with open(os.path.join(out_dir, "losses.json"), "w") as f:
        json.dump(losses, f, indent=2)
    fixture_config().save(os.path.join(out_dir, "config.json"))
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"wrote {out_dir}: {total / 1e6:.2f} MB; losses {losses}")


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
