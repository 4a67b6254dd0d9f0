"""Stage `forward_ab_b*`: Keras forward variants timed interleaved (A B C D A B C D ...).

On a shared machine the load drifts between stages; interleaving gives each variant the same
conditions, so their ratios are trustworthy even when the absolute times are not. Variants:
plain, XLA, BatchNorm folded, both. Parameter: `batch`.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.common import generator_flop, model_config, tf_inputs
from benchmarks.surgery import fold_batchnorm, random_generator


def run(p):
    import numpy as np
    import tensorflow as tf
    from pinet_tf.models import build_generator
    cfg = model_config(p["config"], p["size"])
    base, _ = random_generator(cfg)
    folded = build_generator(cfg)
    folded.set_weights(base.get_weights())
    fraction = fold_batchnorm(folded)
    x = {k: tf.constant(v) for k, v in tf_inputs(cfg, p["batch"]).items()}
    fns = {
        "keras": tf.function(lambda i: base(i, training=False)),
        "keras_xla": tf.function(lambda i: base(i, training=False), jit_compile=True),
        "keras_bnfold": tf.function(lambda i: folded(i, training=False)),
        "keras_bnfold_xla": tf.function(lambda i: folded(i, training=False), jit_compile=True),
    }
    ref = fns["keras"](x)["image"].numpy()
    diffs = {k: float(np.max(np.abs(f(x)["image"].numpy() - ref))) for k, f in fns.items()}
    times = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(p["repeats"]):
        for k, f in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f(x)["image"].numpy()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"batch": p["batch"], "bn_folded_fraction": fraction, "max_abs_diff": diffs,
            "gflop": generator_flop(cfg) * p["batch"] / 1e9,
            "variants": {k: {"median_s": med[k], "times_s": times[k],
                             "cpu_median_s": statistics.median(cpu[k]),
                             "vs_keras": med[k] / med["keras"]} for k in fns}}
