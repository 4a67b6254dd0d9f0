"""Stage `train_torch_b4`: one training iteration of the authors' design in PyTorch.

The step itself is `torch_train_step`, the one seam between the benchmark and whatever PyTorch
training code it times: it builds everything (networks, optimisers, one batch) and returns a
zero-argument function that runs one whole iteration and returns G's loss. `run` only times
that function, so the step's body can be replaced by a call into `tests/reference/` (the code
the parity tests use) without touching the timing, the FLOP count or the results.
"""

from __future__ import annotations

from benchmarks.common import model_config, time_calls, torch_reference, train_step_flop
from benchmarks.profiling import torch_profile


def torch_train_step(cfg, batch: int, seed: int = 0):
    """A function running one iteration of the authors' `optimize_parameters` at `cfg`, `batch`;
    it returns G's total loss as a float (as `train_tf`'s step returns `g_total`).

    G: L1 + VGG19 relu1_2 perceptual L1 (weight 1) + 5 * LSGAN against both Ds (averaged) +
    parsing cross-entropy, then D_PP and D_PB each 5 * 0.5 * (MSE(real, 1) + MSE(fake, 0)).
    Adam(2e-4, 0.5, 0.999) for all three; train mode (BatchNorm batch statistics, D dropout).
    Random weights and inputs (the VGG's too): the cost, not the values, matters here.
    Threads are the caller's (`torch.set_num_threads`).
    """
    import torch
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(seed)
    ref = torch_reference()
    h, w = cfg.image_size
    netG = ref.build_netG(ngf=cfg.ngf).train()
    netD_PB = ref.build_netD_PB(ndf=cfg.ndf, n_blocks=cfg.discriminator_blocks).train()
    netD_PP = ref.build_netD_PP(ndf=cfg.ndf, n_blocks=cfg.discriminator_blocks).train()
    vgg = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(True),
                        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(True))
    for q in vgg.parameters():
        q.requires_grad_(False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def features(img):
        return vgg(((img + 1) / 2 - mean) / std)

    adam = dict(lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(netG.parameters(), **adam)
    opt_pb = torch.optim.Adam([q for q in netD_PB.parameters() if q.requires_grad], **adam)
    opt_pp = torch.optim.Adam([q for q in netD_PP.parameters() if q.requires_grad], **adam)
    x1, x2, x3, x4 = ref.random_inputs(batch, h, w)
    target = torch.rand(batch, 3, h, w) * 2 - 1
    target_labels = torch.randint(0, 12, (batch, h, w))
    pose_t = x2[:, 18:]

    def lsgan(score, real):
        return F.mse_loss(score, torch.full_like(score, 1.0 if real else 0.0))

    def step():
        fake, parse = netG([x1, x2, x3, x4])
        opt_g.zero_grad()
        loss_g = F.l1_loss(fake, target) + F.l1_loss(features(fake), features(target).detach())
        loss_g = loss_g + 5 * 0.5 * (lsgan(netD_PB(torch.cat([pose_t, fake], 1)), True)
                                     + lsgan(netD_PP(torch.cat([fake, x1], 1)), True))
        loss_g = loss_g + F.cross_entropy(parse, target_labels)
        loss_g.backward()
        opt_g.step()
        fake = fake.detach()
        for net, opt, real_in, fake_in in (
                (netD_PP, opt_pp, torch.cat([target, x1], 1), torch.cat([fake, x1], 1)),
                (netD_PB, opt_pb, torch.cat([pose_t, target], 1), torch.cat([pose_t, fake], 1))):
            opt.zero_grad()
            loss_d = 5 * 0.5 * (lsgan(net(real_in), True) + lsgan(net(fake_in), False))
            loss_d.backward()
            opt.step()
        return float(loss_g.detach())

    return step


def run(p):
    import torch
    cfg = model_config(p["config"], p["size"])
    b = p["batch"]
    step = torch_train_step(cfg, b)
    out = {"batch": b, "torch": torch.__version__, "threads": torch.get_num_threads()}
    out.update(time_calls(step, p["repeats"]))
    out["examples_per_s"] = b / out["median_s"]
    out["gflop"] = train_step_flop(cfg, b) / 1e9
    if p.get("profile_dir"):
        out["profile_top"] = torch_profile(step)
    return out
