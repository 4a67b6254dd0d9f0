"""Stage `forward_savedmodel_b*`: the deployed artifact, the "ours" of the forward ratios.

`pinet-tf export`'s SavedModel reloaded with `tf.saved_model.load`, signature `pose_transfer`,
compact uint8 / keypoint inputs (so the heatmaps, the one-hot and the uint8 conversion of the
outputs run in the graph too). Parameters: `batch`, `jit` (the loaded signature under XLA).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from benchmarks.common import compact_inputs, generator_flop, model_config, time_calls
from benchmarks.profiling import tf_profile
from benchmarks.surgery import random_generator


def run(p):
    import tensorflow as tf
    from pinet_tf.export.savedmodel import POSE_TRANSFER, export_saved_model
    cfg = model_config(p["config"], p["size"])
    generator, _ = random_generator(cfg)
    tmp = tempfile.mkdtemp(prefix="pinet-bench-sm-")
    try:
        t0 = time.perf_counter()
        path = export_saved_model(generator, cfg, tmp, version=1)
        export_s = time.perf_counter() - t0
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(path) for f in files)
        del generator
        loaded = tf.saved_model.load(path)  # keep a reference while calling (keras3-notes)
        fn = loaded.signatures[POSE_TRANSFER]
        if p.get("jit"):
            fn = tf.function(fn, jit_compile=True)
        x = {k: tf.constant(v) for k, v in compact_inputs(cfg, p["batch"]).items()}
        out = {"batch": p["batch"], "export_s": export_s, "savedmodel_mb": size / 2 ** 20,
               "signature": POSE_TRANSFER, "jit_compile": p.get("jit", False)}
        out.update(time_calls(lambda: fn(**x)["image"].numpy(), p["repeats"]))
        out["gflop"] = generator_flop(cfg) * p["batch"] / 1e9
        if p.get("profile_dir"):
            out["profile_top"] = tf_profile(lambda: fn(**x)["image"].numpy(), p["profile_dir"])
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
