"""Stage `train_torch_b4`: one training iteration of the authors' design in PyTorch.

The iteration is `tests/reference/official_step.py`'s `official_step` (the authors'
`optimize_parameters`, written from `docs/official_training.md`), the same code the training
parity test runs; this stage only builds what it needs and times it. `torch_train_step` is the
seam: it builds everything (networks, VGG, optimisers, one batch) and returns a zero-argument
function that runs one whole iteration and returns G's total loss. Its FLOP count is
`common.train_step_flop`, the same count as stage `train_tf_b4`'s.
"""

from __future__ import annotations

from benchmarks.common import (model_config, tf_inputs, time_calls, torch_reference,
                               train_step_flop)
from benchmarks.profiling import torch_profile


def _elements(cfg, batch: int, seed: int) -> dict:
    """A random batch in our NHWC element layout (numpy: no TF in a torch process)."""
    source, target = tf_inputs(cfg, batch, seed), tf_inputs(cfg, batch, seed + 1)
    return {**source, "target_image": target["source_image"],
            "target_parsing_onehot": target["source_parsing_onehot"]}


def torch_train_step(cfg, batch: int, seed: int = 0):
    """A function running one iteration of `official_step` at `cfg`, `batch`; it returns G's
    total loss as a float (as `train_tf`'s step returns `g_total`).

    D_PB, D_PP then G (L1 + VGG19 relu1_2 perceptual + 5 x LSGAN against both Ds + parsing
    cross-entropy), Adam(2e-4, 0.5, 0.999) each; train mode with the authors' D dropout (0.5).
    Random weights and inputs (the VGG's too): the cost, not the values, matters here.
    Threads are the caller's (`torch.set_num_threads`).
    """
    import torch
    torch.manual_seed(seed)
    ref, official = torch_reference("pinet_torch"), torch_reference("official_step")
    nets = (ref.build_netG(ngf=cfg.ngf),
            ref.build_netD_PB(ndf=cfg.ndf, n_blocks=cfg.discriminator_blocks),
            ref.build_netD_PP(ndf=cfg.ndf, n_blocks=cfg.discriminator_blocks))
    vgg = official.build_vgg_relu1_2()
    optimizers = official.make_optimizers(*nets)
    data = official.torch_batch(_elements(cfg, batch, seed))

    def step():
        return official.official_step(*nets, optimizers, vgg, data)["g_total"]

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
