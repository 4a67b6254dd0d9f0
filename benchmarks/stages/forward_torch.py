"""Stage `forward_torch_b*`: the reference netG (`tests/reference/pinet_torch`), eval, no_grad.

The four NCHW inputs of the release's `test.py`; weights random with O(1) activations
(`pinet_torch.randomise_`). Parameter: `batch`.
"""

from __future__ import annotations

from benchmarks.common import generator_flop, model_config, time_calls, torch_reference
from benchmarks.profiling import torch_profile


def run(p):
    import torch
    ref = torch_reference()
    cfg = model_config(p["config"], p["size"])
    h, w = cfg.image_size
    netG = ref.build_netG(ngf=cfg.ngf)
    ref.randomise_(netG, ref.random_inputs(1, h, w, seed=1))  # O(1) activations, eval mode
    x = ref.random_inputs(p["batch"], h, w)

    def call():
        with torch.no_grad():
            netG(x)

    out = {"batch": p["batch"], "torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.no_grad():
        out["output_std"] = float(netG(x)[0].std())
    out.update(time_calls(call, p["repeats"]))
    out["gflop"] = generator_flop(cfg) * p["batch"] / 1e9
    if p.get("profile_dir"):
        out["profile_top"] = torch_profile(call)
    return out
