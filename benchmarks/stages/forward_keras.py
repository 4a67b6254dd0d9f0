"""Stage `forward_keras_b*` and its variants: `generator(inputs, training=False)`, tf.function.

Dense float inputs, random weights with O(1) activations (`surgery.randomise_tf`). Parameters:
`batch`, `jit` (XLA), `bnfold` (BatchNorm folded into the convs first, `surgery.fold_batchnorm`).
"""

from __future__ import annotations

from benchmarks.common import generator_flop, model_config, tf_inputs, time_calls
from benchmarks.profiling import tf_profile
from benchmarks.surgery import fold_batchnorm, random_generator


def run(p):
    import numpy as np
    import tensorflow as tf
    cfg = model_config(p["config"], p["size"])
    generator, build_s = random_generator(cfg)
    x = {k: tf.constant(v) for k, v in tf_inputs(cfg, p["batch"]).items()}
    out_scale = float(np.std(generator(x, training=False)["image"].numpy()))
    out = {"batch": p["batch"], "build_s": build_s, "jit_compile": p.get("jit", False),
           "output_std": out_scale}
    if p.get("bnfold"):
        reference = generator(x, training=False)["image"].numpy()
        out["bn_folded_fraction"] = fold_batchnorm(generator)
    fn = tf.function(lambda inputs: generator(inputs, training=False),
                     jit_compile=p.get("jit", False))
    if p.get("bnfold"):
        out["bnfold_max_abs_diff"] = float(np.max(np.abs(fn(x)["image"].numpy() - reference)))
    out.update(time_calls(lambda: fn(x)["image"].numpy(), p["repeats"]))
    out["gflop"] = generator_flop(cfg) * p["batch"] / 1e9
    if p.get("profile_dir"):
        out["profile_top"] = tf_profile(lambda: fn(x)["image"].numpy(), p["profile_dir"])
    return out
