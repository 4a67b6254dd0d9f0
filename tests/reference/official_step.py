"""The authors' training iteration in PyTorch, written from `docs/official_training.md` (the
facts of their `optimize_parameters`), not from their code. Used by the training parity test
(`tests/training/test_parity.py`) and the benchmarks.

    nets = R.build_netG(64), R.build_netD_PB(64, dropout=0), R.build_netD_PP(64, dropout=0)
    vgg = build_vgg_relu1_2()                      # torchvision VGG19 features[0..3], frozen
    optimizers = make_optimizers(*nets)            # three Adam(2e-4, (0.5, 0.999), eps 1e-8)
    losses = official_step(*nets, optimizers, vgg, torch_batch(elements))

One call = one iteration: G forward once (train mode), D_PB and D_PP updated (each called on real,
then on fake: three spectral-norm power iterations per D per step with the G term), then G with
the just-updated Ds. As in the authors' code (`sn_gradient="authors"`), autograd forms each
spectral norm's d sigma / dW from the u, v the module holds when backward runs: the D step's real
pass gets the fake pass's (`pinet_torch.SNConv`; `pinet_tf.layers.spectral_norm` explains). The LR rule is `lr_lambda` (for `torch.optim.lr_scheduler.LambdaLR`, stepped
once per epoch). Import needs `torch`; nothing in `pinet_tf` imports this.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tests.reference import pinet_torch as R

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GAN_WEIGHT, LAMBDA_A, LAMBDA_B = 5.0, 1.0, 1.0


class VGGRelu12(nn.Module):
    """torchvision VGG19 `features[0..3]` (conv1_1, ReLU, conv1_2, ReLU), same key names."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.features(x)


def build_vgg_relu1_2():
    vgg = VGGRelu12().eval()
    for p in vgg.parameters():
        p.requires_grad_(False)
    return vgg


def make_optimizers(netG, netD_PB, netD_PP, lr=2e-4, betas=(0.5, 0.999)):
    """One torch Adam per network (eps 1e-8, no weight decay), as the authors build them."""
    return tuple(torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
                 for net in (netG, netD_PB, netD_PP))


def lr_lambda(niter=500, niter_decay=200):
    """The multiplier of the base LR at 0-based epoch e."""
    return lambda epoch: 1.0 - max(0, epoch + 1 - niter) / float(niter_decay + 1)


def _mse(scores, target):
    return F.mse_loss(scores, torch.full_like(scores, target))


def _normalise(x):
    # float32 constants, as the authors' loss holds them (`torch.FloatTensor`), in any dtype.
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).to(x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).to(x.dtype).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def official_step(netG, netD_PB, netD_PP, optimizers, vgg, batch, sn_gradient="authors"):
    """One training iteration. `batch`: NCHW tensors P1, P2 (images), KP1, KP2 (heatmaps),
    SPL1_onehot (float), SPL2 (int64 labels) and optionally SPL2_onehot (unused by netG).
    `sn_gradient`: "authors" (their SpectralNorm's gradient: the D step's real pass takes
    d sigma / dW from the u, v of the fake pass) or "exact" (`R.set_sigma_gradient`).
    `vgg` None: no perceptual term (weight 0, as `TrainConfig(perceptual_weight=0)`; reported 0).
    Returns the loss terms as floats (d_pb, d_pp are 0.5 * (real + fake), without the 5)."""
    opt_G, opt_PB, opt_PP = optimizers
    for net in (netD_PB, netD_PP):
        R.set_sigma_gradient(net, sn_gradient)
    P1, P2, KP1, KP2 = batch["P1"], batch["P2"], batch["KP1"], batch["KP2"]
    SPL2 = batch["SPL2"]
    SPL2_onehot = batch.get("SPL2_onehot", torch.zeros_like(batch["SPL1_onehot"]))
    for net in (netG, netD_PB, netD_PP):
        net.train()
    # 1. G forward, once.
    fake, parse = netG([P1, torch.cat([KP1, KP2], 1), batch["SPL1_onehot"], SPL2_onehot])
    # 2-5. Both D updates (pool size 0: the fake goes in unchanged), then both D steps.
    opt_PB.zero_grad()
    opt_PP.zero_grad()
    d_terms = {}
    for name, net, real_in, fake_in in (
            ("d_pb", netD_PB, torch.cat([KP2, P2], 1), torch.cat([KP2, fake.detach()], 1)),
            ("d_pp", netD_PP, torch.cat([P2, P1], 1), torch.cat([fake.detach(), P1], 1))):
        loss_real = _mse(net(real_in), 1.0) * GAN_WEIGHT
        loss_fake = _mse(net(fake_in), 0.0) * GAN_WEIGHT
        loss = 0.5 * (loss_real + loss_fake)
        loss.backward()
        d_terms[name] = loss.item() / GAN_WEIGHT
    opt_PB.step()
    opt_PP.step()
    # 6. G with the updated Ds.
    opt_G.zero_grad()
    ce = F.nll_loss(F.log_softmax(parse, dim=1), SPL2)
    l1 = torch.mean(torch.abs(fake - P2)) * LAMBDA_A
    perc = (fake.new_zeros(()) if vgg is None else
            torch.mean(torch.abs(vgg(_normalise(fake)) - vgg(_normalise(P2)).detach())) * LAMBDA_B)
    gan = (_mse(netD_PB(torch.cat([KP2, fake], 1)), 1.0)
           + _mse(netD_PP(torch.cat([fake, P1], 1)), 1.0)) / 2
    loss_G = l1 + perc + GAN_WEIGHT * gan + ce
    loss_G.backward()
    opt_G.step()
    return {"parsing_ce": float(ce), "l1": float(l1), "perceptual": float(perc),
            "g_gan": float(gan), "g_total": float(loss_G), **d_terms}


def torch_batch(elements):
    """Our NHWC element dict (numpy; source_/target_ image, heatmaps, parsing_onehot) -> the
    authors' NCHW batch dict."""
    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(  # noqa: E731
        np.transpose(np.asarray(a, np.float32), (0, 3, 1, 2))))
    target_onehot = np.asarray(elements["target_parsing_onehot"])
    return {"P1": nchw(elements["source_image"]), "P2": nchw(elements["target_image"]),
            "KP1": nchw(elements["source_heatmaps"]), "KP2": nchw(elements["target_heatmaps"]),
            "SPL1_onehot": nchw(elements["source_parsing_onehot"]),
            "SPL2_onehot": nchw(target_onehot),
            "SPL2": torch.from_numpy(target_onehot.argmax(-1).astype(np.int64))}
